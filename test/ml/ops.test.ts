import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { Graph } from "../../core/ml/graph";
import { gradCheck } from "./gradcheck";

const TOL = 1e-6; // float64 central differences with h = 1e-5

describe("autodiff op gradients vs central finite differences (float64)", () => {
  const cases: [string, Parameters<typeof gradCheck>[0], Parameters<typeof gradCheck>[1]][] = [
    ["Add (broadcast bias)", [{ name: "a", shape: [3, 4] }, { name: "b", shape: [4] }], (g, t) => g.reduceSum(g.mul(g.add(t.a!, t.b!), g.add(t.a!, t.b!)), [0, 1], false)],
    ["Sub (broadcast)", [{ name: "a", shape: [3, 4] }, { name: "b", shape: [3, 1] }], (g, t) => g.reduceSum(g.pow(g.sub(t.a!, t.b!), 2), [0, 1], false)],
    ["Mul", [{ name: "a", shape: [2, 3] }, { name: "b", shape: [2, 3] }], (g, t) => g.reduceSum(g.mul(g.mul(t.a!, t.b!), t.a!), [0, 1], false)],
    ["Div", [{ name: "a", shape: [2, 3] }, { name: "b", shape: [3], data: Float64Array.of(1.5, -2, 3) }], (g, t) => g.reduceSum(g.div(t.a!, t.b!), [0, 1], false)],
    ["MatMul", [{ name: "a", shape: [3, 4] }, { name: "b", shape: [4, 2] }], (g, t) => g.reduceSum(g.pow(g.matmul(t.a!, t.b!), 2), [0, 1], false)],
    ["Gemm with bias", [{ name: "a", shape: [3, 4] }, { name: "b", shape: [4, 2] }, { name: "c", shape: [2] }], (g, t) => g.reduceSum(g.tanh(g.gemm(t.a!, t.b!, t.c!)), [0, 1], false)],
    ["Gemm weight reused (lazy accumulation)", [{ name: "a", shape: [3, 4] }, { name: "w", shape: [4, 4] }], (g, t) => {
      const h1 = g.tanh(g.matmul(t.a!, t.w!));
      const h2 = g.tanh(g.gemm(h1, t.w!, h1));
      return g.reduceMean(g.mul(h2, h2), [0, 1], false);
    }],
    ["Sigmoid", [{ name: "a", shape: [5] }], (g, t) => g.reduceSum(g.mul(g.sigmoid(t.a!), t.a!), [0], false)],
    ["Tanh", [{ name: "a", shape: [5] }], (g, t) => g.reduceSum(g.mul(g.tanh(t.a!), t.a!), [0], false)],
    ["Relu", [{ name: "a", shape: [6], data: Float64Array.of(-1, -0.3, 0.2, 0.7, 1.1, -2) }], (g, t) => g.reduceSum(g.mul(g.relu(t.a!), t.a!), [0], false)],
    ["Exp/Log", [{ name: "a", shape: [4], data: Float64Array.of(0.5, 1.2, 2, 0.1) }], (g, t) => g.reduceSum(g.add(g.exp(t.a!), g.mul(g.log(t.a!), t.a!)), [0], false)],
    ["Abs/Neg/Sqrt", [{ name: "a", shape: [4], data: Float64Array.of(0.5, -1.2, 2, -0.1) }], (g, t) => g.reduceSum(g.add(g.neg(g.abs(t.a!)), g.sqrt(g.mul(t.a!, t.a!))), [0], false)],
    ["Pow(3)", [{ name: "a", shape: [4] }], (g, t) => g.reduceSum(g.pow(t.a!, 3), [0], false)],
    ["Huber", [{ name: "a", shape: [6], data: Float64Array.of(-3, -0.5, 0.2, 0.9, 1.7, 4) }], (g, t) => g.reduceSum(g.huber(t.a!, 1), [0], false)],
    ["BCE with logits (log-sigmoid)", [{ name: "z", shape: [6], data: Float64Array.of(-30, -2, -0.1, 0.3, 2.5, 40) }, { name: "y", shape: [6], data: Float64Array.of(1, 0, 1, 0, 1, 0), grad: false }], (g, t) => g.reduceMean(g.bceWithLogits(t.z!, t.y!), [0], false)],
    ["Concat/Split", [{ name: "a", shape: [2, 3] }, { name: "b", shape: [2, 2] }], (g, t) => {
      const c = g.concat([t.a!, t.b!], 1);
      const [p, q] = g.split(g.tanh(c), 1, [1, 4]);
      return g.add(g.reduceSum(p!, [0, 1], false), g.reduceSum(g.mul(q!, q!), [0, 1], false));
    }],
    ["Split with unused output", [{ name: "a", shape: [4, 3] }], (g, t) => {
      const parts = g.split(t.a!, 0, { count: 2, size: 2 });
      return g.reduceSum(g.mul(parts[1]!, parts[1]!), [0, 1], false);
    }],
    ["Slice", [{ name: "a", shape: [3, 5] }], (g, t) => g.reduceSum(g.pow(g.slice(t.a!, 1, 1, 4), 2), [0, 1], false)],
    ["Gather axis 0 (repeated indices)", [{ name: "a", shape: [4, 3] }], (g, t) => g.reduceSum(g.pow(g.gather(t.a!, 0, [2, 0, 2]), 2), [0, 1], false)],
    ["Gather axis 1 (repeated indices)", [{ name: "a", shape: [2, 4, 3] }], (g, t) => g.reduceSum(g.mul(g.tanh(g.gather(t.a!, 1, [3, 1, 3, 0])), g.gather(t.a!, 1, [0, 0, 1, 2])), [0, 1, 2], false)],
    ["Reshape/Transpose", [{ name: "a", shape: [2, 3, 4] }], (g, t) => {
      const r = g.reshape(g.transpose(t.a!, [1, 0, 2]), [3, 8]);
      return g.reduceSum(g.mul(r, g.tanh(r)), [0, 1], false);
    }],
    ["ReduceMean keepdims + broadcast", [{ name: "a", shape: [3, 4] }], (g, t) => {
      const m = g.reduceMean(t.a!, [1], true);
      return g.reduceSum(g.pow(g.sub(t.a!, m), 2), [0, 1], false);
    }],
    ["Symbolic batch dims (Reshape/ReduceMean over N)", [{ name: "a", shape: [3, 2, 4], graphShape: ["N", 2, 4] }, { name: "w", shape: [4, 3] }], (g, t) => {
      const x = g.reshape(t.a!, ["N*2", 4]);
      const y = g.tanh(g.matmul(x, t.w!));
      const parts = g.split(g.reshape(g.transpose(g.reshape(y, ["N", 2, 3]), [1, 0, 2]), ["N*2", 3]), 0, { count: 2, size: "N" });
      const s = g.concat([parts[1]!, parts[0]!], 0);
      return g.reduceMean(g.mul(s, s), [0, 1], false);
    }],
  ];
  for (const [name, inputs, build] of cases) {
    it(name, async () => {
      const err = await gradCheck(inputs, build);
      expect(err).toBeLessThan(TOL);
    });
  }
});

describe("fused LSTM gate activation", () => {
  it("matches σ/σ/tanh/σ per gate block and its gradient matches finite differences", async () => {
    const H = 3;
    const err = await gradCheck([{ name: "a", shape: [2, 4 * H] }, { name: "w", shape: [2, 4 * H], grad: false }], (g, t) => {
      const gates = g.lstmGates(g.mul(t.a!, g.gateScale(H)), H);
      return g.reduceSum(g.mul(g.concat(gates, 1), t.w!), [0, 1], false);
    });
    expect(err).toBeLessThan(1e-6);
    // an unused gate output (f at t = 0) still back-propagates correctly
    const err2 = await gradCheck([{ name: "a", shape: [2, 4 * H] }], (g, t) => {
      const [i, , c, o] = g.lstmGates(g.mul(t.a!, g.gateScale(H)), H);
      return g.reduceSum(g.mul(o!, g.tanh(g.mul(i!, c!))), [0, 1], false);
    });
    expect(err2).toBeLessThan(1e-6);
    // values equal the reference per-gate activations
    const g = new Graph("float32");
    const a = g.input("a", [2, 4 * H]);
    g.output(g.concat(g.lstmGates(g.mul(a, g.gateScale(H)), H), 1), "fused");
    const [i, f, c, o] = g.split(a, 1, [H, H, H, H]);
    g.output(g.concat([g.sigmoid(i!), g.sigmoid(f!), g.tanh(c!), g.sigmoid(o!)], 1), "reference");
    const s = await ort.InferenceSession.create(g.toBytes());
    const x = Float32Array.from({ length: 8 * H }, (_, k) => k / 3 - 4);
    const out = await s.run({ a: new ort.Tensor("float32", x, [2, 4 * H]) });
    const fused = out["fused"]!.data as Float32Array;
    const reference = out["reference"]!.data as Float32Array;
    for (let k = 0; k < fused.length; k++) expect(Math.abs(fused[k]! - reference[k]!)).toBeLessThan(1e-6);
  });
});
