/**
 * Graph assembly: the training-step graph (forward + backward + optimizer update,
 * one session.run per step), the evaluation graph (forward with parameters as
 * inputs) and the exported inference model (parameters as initializers,
 * normalisation inside the graph, optional int8 weights).
 */
import { Graph, type DType, type Tensor } from "./graph";
import { forward, type ModelDef } from "./models";
import { DataType } from "./onnx";

export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPS = 1e-8;
export const SGD_MOMENTUM = 0.9;
/** Global gradient-norm clip applied inside the step graph before the update. */
export const CLIP_NORM = 5;

export interface StepGraph {
  bytes: Uint8Array;
  /** useful MatMul FLOPs (forward + backward) per step for batch n */
  flops: (n: number) => number;
  forwardFlops: (n: number) => number;
  /** optimizer state tensors per parameter, in order: "m" (adam/adamw/sgd) and "v" (adam/adamw) */
  stateKinds: ("m" | "v")[];
}

function inputs(def: ModelDef, g: Graph, grad: boolean) {
  const x = g.input("x", ["N", def.seq, def.features]);
  const target = def.supervised ? { label: g.input("label", ["N"]), weight: g.input("weight", ["N"]) } : undefined;
  const params: Record<string, Tensor> = {};
  for (const p of def.params) params[p.name] = g.input(p.name, p.shape, { grad });
  return { x, target, params };
}

/**
 * Training step graph. Inputs: x [N,T,F] (normalised), label/weight [N] (sentinel),
 * dropout masks mask.* [N,d], parameters, optimizer state m.<p> / v.<p>, and the
 * scalars lr, c1 = 1/(1−β1^t), c2 = 1/(1−β2^t). Outputs: loss, new.<p>, new.m.<p>, new.v.<p>.
 */
export function buildStepGraph(def: ModelDef, dtype: DType = "float32"): StepGraph {
  const g = new Graph(dtype);
  const { x, target, params } = inputs(def, g, true);
  const masks: Record<string, Tensor> = {};
  for (const m of def.masks) masks[m.name] = g.input(m.name, ["N", m.dim]);
  const opt = def.hp.optimizer;
  const stateKinds: ("m" | "v")[] = opt === "sgd" ? ["m"] : ["m", "v"];
  const state: Record<string, Tensor> = {};
  for (const p of def.params) for (const k of stateKinds) state[`${k}.${p.name}`] = g.input(`${k}.${p.name}`, p.shape);
  const lr = g.input("lr", []);
  const c1 = g.input("c1", []);
  const c2 = g.input("c2", []);
  const fwdMark = g.matmuls.length;
  const out = forward(def, g, x, params, masks, target);
  const fwdMatmuls = g.matmuls.slice(fwdMark);
  const loss = g.reduceMean(out.perSample, [0], false);
  g.output(loss, "loss");
  const plist = def.params.map((p) => params[p.name]!);
  let grads = g.backward(loss, plist);

  // global norm clipping: scale = min(1, CLIP / (‖g‖ + 1e-6))
  const sq = grads.map((gr) => g.raw("ReduceSum", [g.raw("Mul", [gr, gr], gr.shape), g.ints(Array.from({ length: gr.shape.length }, (_, i) => i))], [], { keepdims: 0 }));
  const total = sq.reduce((a, b) => g.raw("Add", [a, b], []));
  const norm = g.raw("Sqrt", [total], []);
  const scale = g.raw("Min", [g.scalar(1), g.raw("Div", [g.scalar(CLIP_NORM), g.raw("Add", [norm, g.scalar(1e-6)], [])], [])], []);
  grads = grads.map((gr) => g.raw("Mul", [gr, scale], gr.shape));

  const wd = def.hp.weight_decay;
  def.params.forEach((p, i) => {
    const w = params[p.name]!;
    let gr = grads[i]!;
    const shape = p.shape;
    const m = state[`m.${p.name}`]!;
    if (wd > 0 && opt !== "adamw") gr = g.raw("Add", [gr, g.raw("Mul", [w, g.scalar(wd)], shape)], shape);
    let nw: Tensor;
    if (opt === "sgd") {
      const nm = g.raw("Add", [g.raw("Mul", [m, g.scalar(SGD_MOMENTUM)], shape), gr], shape);
      g.output(nm, `new.m.${p.name}`);
      nw = g.raw("Sub", [w, g.raw("Mul", [nm, lr], shape)], shape);
    } else {
      const v = state[`v.${p.name}`]!;
      const nm = g.raw("Add", [g.raw("Mul", [m, g.scalar(ADAM_BETA1)], shape), g.raw("Mul", [gr, g.scalar(1 - ADAM_BETA1)], shape)], shape);
      const nv = g.raw("Add", [g.raw("Mul", [v, g.scalar(ADAM_BETA2)], shape), g.raw("Mul", [g.raw("Mul", [gr, gr], shape), g.scalar(1 - ADAM_BETA2)], shape)], shape);
      g.output(nm, `new.m.${p.name}`);
      g.output(nv, `new.v.${p.name}`);
      const denom = g.raw("Add", [g.raw("Sqrt", [g.raw("Mul", [nv, c2], shape)], shape), g.scalar(ADAM_EPS)], shape);
      let upd = g.raw("Div", [g.raw("Mul", [nm, c1], shape), denom], shape);
      if (wd > 0 && opt === "adamw") upd = g.raw("Add", [upd, g.raw("Mul", [w, g.scalar(wd)], shape)], shape);
      nw = g.raw("Sub", [w, g.raw("Mul", [upd, lr], shape)], shape);
    }
    g.output(nw, `new.${p.name}`);
  });
  const fwdFlops = (n: number) => fwdMatmuls.reduce((s, mm) => s + 2 * dimOf(mm.m, n) * dimOf(mm.k, n) * dimOf(mm.n, n), 0);
  return { bytes: g.toBytes({ name: `${def.architecture}_train_step` }), flops: (n) => g.matmulFlops(n), forwardFlops: fwdFlops, stateKinds };
}

function dimOf(d: number | string, n: number): number {
  return typeof d === "number" ? d : d === "N" ? n : Number(d.slice(2)) * n;
}

/**
 * Evaluation graph: x [N,T,F] normalised + parameters as inputs (+ label/weight for sentinel).
 * Outputs `loss` [N] (per-window training loss, no dropout), `score` [N], and the model output.
 */
export function buildEvalGraph(def: ModelDef, dtype: DType = "float32"): Uint8Array {
  const g = new Graph(dtype);
  const { x, target, params } = inputs(def, g, false);
  const out = forward(def, g, x, params, undefined, target);
  g.output(out.perSample, "loss");
  g.output(out.score, "score");
  g.output(out.output, out.outputName);
  return g.toBytes({ name: `${def.architecture}_eval` });
}

export interface Normalisation {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * Exported inference model. Input `input` [batch, T, F] raw values; outputs `score` [batch]
 * and `reconstruction` [batch,T,F] / `forecast` [batch,F] (raw units) / `health` [batch].
 * With `quantize`, every 2-D weight matrix is stored as int8 with a per-output-column
 * scale (symmetric, zero point 0) and fed through DequantizeLinear(axis=1).
 */
export function buildInferenceModel(
  def: ModelDef,
  weights: Map<string, Float32Array>,
  norm: Normalisation,
  metadata: Record<string, string>,
  quantize: boolean,
): Uint8Array {
  const g = new Graph("float32");
  const F = def.features;
  const input = g.input("input", ["N", def.seq, F]);
  const mean = g.initializer("norm.mean", [F], norm.mean);
  const std = g.initializer("norm.std", [F], norm.std);
  const x = g.div(g.sub(input, mean), std);
  const params: Record<string, Tensor> = {};
  for (const p of def.params) {
    const w = weights.get(p.name);
    if (!w) throw new Error(`missing weight ${p.name}`);
    if (quantize && p.shape.length === 2) {
      const { q, scale } = quantizePerColumn(w, p.shape[0]!, p.shape[1]!);
      const qt = g.rawInitializer(p.name, p.shape, DataType.INT8, q);
      const st = g.rawInitializer(`${p.name}.scale`, [p.shape[1]!], DataType.FLOAT, scale);
      const zt = g.rawInitializer(`${p.name}.zero_point`, [p.shape[1]!], DataType.INT8, new Int8Array(p.shape[1]!));
      params[p.name] = g.raw("DequantizeLinear", [qt, st, zt], p.shape, { axis: 1 });
    } else {
      params[p.name] = g.initializer(p.name, p.shape, w);
    }
  }
  const out = forward(def, g, x, params, undefined, undefined, true);
  g.output(out.score, "score");
  if (out.outputName === "reconstruction") {
    g.output(g.add(g.mul(out.output, std), mean), "reconstruction");
  } else if (out.outputName === "forecast") {
    g.output(g.add(g.mul(out.output, std), mean), "forecast");
  } else {
    g.output(out.output, out.outputName);
  }
  if (out.contribution) g.output(out.contribution, "contribution");
  return g.toBytes({ name: `flint_${def.architecture}`, metadata: { ...metadata, weights: quantize ? "int8_per_channel" : "float32" } });
}

/** Symmetric per-column int8 quantisation of a row-major [rows, cols] matrix. */
export function quantizePerColumn(w: Float32Array, rows: number, cols: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[r * cols + c]!);
      if (a > scale[c]!) scale[c] = a;
    }
  for (let c = 0; c < cols; c++) scale[c] = scale[c]! > 0 ? scale[c]! / 127 : 1;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const v = Math.round(w[r * cols + c]! / scale[c]!);
      q[r * cols + c] = Math.max(-127, Math.min(127, v));
    }
  return { q, scale };
}
