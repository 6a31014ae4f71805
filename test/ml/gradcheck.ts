/** Finite-difference gradient checking helpers for the ONNX autodiff (float64 graphs). */
import * as ort from "onnxruntime-node";
import { Graph, type Dim, type Tensor } from "../../core/ml/graph";
import { Rng } from "../../core/ml/rng";

export interface GradInput {
  name: string;
  shape: number[];
  /** symbolic shape used in the graph (defaults to shape) */
  graphShape?: Dim[];
  data?: Float64Array;
  grad?: boolean;
}

/**
 * Build `loss = build(g, inputs)` in float64, emit the gradient graph, and compare
 * every analytic gradient entry (up to `maxPerInput` sampled entries per input)
 * with a central finite difference (h = 1e-5). Returns the max relative error
 * |a − n| / max(1e-3, |a| + |n|).
 */
export async function gradCheck(inputs: GradInput[], build: (g: Graph, t: Record<string, Tensor>) => Tensor, maxPerInput = 12, seed = 1): Promise<number> {
  const rng = new Rng(seed);
  const g = new Graph("float64");
  const ts: Record<string, Tensor> = {};
  const data: Record<string, Float64Array> = {};
  for (const inp of inputs) {
    ts[inp.name] = g.input(inp.name, inp.graphShape ?? inp.shape, { grad: inp.grad ?? true });
    const n = inp.shape.reduce((a, b) => a * b, 1);
    data[inp.name] = inp.data ?? Float64Array.from({ length: n }, () => rng.next() * 2 - 1);
  }
  const loss = build(g, ts);
  g.output(loss, "loss");
  const wrt = inputs.filter((i) => i.grad ?? true);
  const grads = g.backward(loss, wrt.map((i) => ts[i.name]!));
  grads.forEach((gr, i) => g.output(gr, `grad.${wrt[i]!.name}`));
  const session = await ort.InferenceSession.create(g.toBytes(), { graphOptimizationLevel: "disabled", intraOpNumThreads: 1 });
  const feeds = () => Object.fromEntries(inputs.map((i) => [i.name, new ort.Tensor("float64", data[i.name]!, i.shape)]));
  const out = await session.run(feeds());
  let worst = 0;
  const h = 1e-5;
  for (const inp of wrt) {
    const analytic = out[`grad.${inp.name}`]!.data as Float64Array;
    const d = data[inp.name]!;
    const idx = Array.from({ length: d.length }, (_, i) => i);
    rng.shuffle(Uint32Array.from(idx));
    const picks = d.length <= maxPerInput ? idx : Array.from({ length: maxPerInput }, () => rng.int(d.length));
    for (const k of picks) {
      const orig = d[k]!;
      d[k] = orig + h;
      const lp = ((await session.run(feeds(), ["loss"]))["loss"]!.data as Float64Array)[0]!;
      d[k] = orig - h;
      const lm = ((await session.run(feeds(), ["loss"]))["loss"]!.data as Float64Array)[0]!;
      d[k] = orig;
      const numeric = (lp - lm) / (2 * h);
      const a = analytic[k]!;
      const err = Math.abs(a - numeric) / Math.max(1e-3, Math.abs(a) + Math.abs(numeric));
      if (err > worst) worst = err;
    }
  }
  await session.release();
  return worst;
}
