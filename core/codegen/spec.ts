/**
 * What the C generator needs to know about a model: architecture sizes,
 * feature order, normalisation, threshold and the weights, independent of how
 * they were stored. `quantize` derives the int8 variant (per-tensor symmetric
 * scales on every weight matrix; biases stay float32).
 */
export type Architecture = "lstm_autoencoder" | "gru_predictor" | "sentinel";
export type Precision = "float32" | "int8";
export type Loss = "mse" | "mae" | "huber" | "bce";

export interface Weight {
  dims: number[];
  data: Float32Array;
  /** int8 variant: quantized values with data[k][j] ≈ q[k][j] · scale[j] (one scale per output column) */
  q?: Int8Array;
  scale?: Float32Array;
}

export interface ModelSpec {
  modelId: string;
  version: string;
  architecture: Architecture;
  features: string[];
  sequenceLength: number;
  hiddenDim: number;
  numLayers: number;
  bottleneckDim: number;
  loss: Loss;
  /** Per-feature mean and standard deviation: x_norm = (x − mean) / std. */
  mean: number[];
  std: number[];
  threshold: number;
  precision: Precision;
  /** sentinel: window statistics feeding the MLP, 3 = last row, mean, std (2 = last row, mean; older exports). */
  sentinelStats?: 2 | 3;
  weights: Map<string, Weight>;
}

/** The parameter names and shapes an architecture needs, in the core/ml layout. */
export function expectedWeights(spec: Omit<ModelSpec, "weights">): Map<string, number[]> {
  const F = spec.features.length;
  const H = spec.hiddenDim;
  const out = new Map<string, number[]>();
  const dense = (name: string, i: number, o: number) => {
    out.set(`${name}.W`, [i, o]);
    out.set(`${name}.b`, [o]);
  };
  if (spec.architecture === "lstm_autoencoder") {
    const Z = spec.bottleneckDim;
    for (let l = 0; l < spec.numLayers; l++) {
      out.set(`lstm.enc.${l}.W`, [(l === 0 ? F : H) + H, 4 * H]);
      out.set(`lstm.enc.${l}.b`, [4 * H]);
    }
    dense("bottleneck", H, Z);
    for (let l = 0; l < spec.numLayers; l++) {
      out.set(`lstm.dec.${l}.W`, [(l === 0 ? Z : H) + H, 4 * H]);
      out.set(`lstm.dec.${l}.b`, [4 * H]);
    }
    dense("output", H, F);
  } else if (spec.architecture === "gru_predictor") {
    for (let l = 0; l < spec.numLayers; l++) {
      out.set(`gru.${l}.W`, [(l === 0 ? F : H) + H, 3 * H]);
      out.set(`gru.${l}.b`, [3 * H]);
      out.set(`gru.${l}.bh`, [3 * H]);
    }
    dense("head", H, F);
  } else {
    dense("mlp.0", (spec.sentinelStats ?? 3) * F, 128);
    dense("mlp.1", 128, 64);
    dense("mlp.2", 64, 1);
  }
  return out;
}

/** Throws a descriptive Error when a weight is missing or has the wrong shape. */
export function assertComplete(spec: ModelSpec): void {
  if (spec.features.length === 0) throw new Error("model has no features");
  if (spec.mean.length !== spec.features.length || spec.std.length !== spec.features.length) {
    throw new Error("normalisation does not match the feature count");
  }
  if (spec.std.some((s) => !(s > 0) || !Number.isFinite(s))) throw new Error("normalisation has a non-positive std");
  if (spec.architecture === "gru_predictor" && spec.sequenceLength < 2) throw new Error("gru_predictor needs sequence_length ≥ 2");
  for (const [name, dims] of expectedWeights(spec)) {
    const weight = spec.weights.get(name);
    if (!weight) throw new Error(`missing weight ${name}`);
    const size = dims.reduce((a, b) => a * b, 1);
    if (weight.data.length !== size || weight.dims.join("x") !== dims.join("x")) {
      throw new Error(`weight ${name} has shape [${weight.dims.join(",")}], expected [${dims.join(",")}]`);
    }
  }
}

/** True for tensors quantized in int8 mode (matrices; biases stay float). */
export function isQuantized(name: string): boolean {
  return name.endsWith(".W");
}

/**
 * Symmetric int8 quantization of every weight matrix with one scale per output
 * column (the layout core/ml exports in model.int8.onnx): scale[j] = max_k |w[k][j]| / 127,
 * q = round(w / scale). `data` of the result holds the dequantized values.
 */
export function quantize(spec: ModelSpec): ModelSpec {
  const weights = new Map<string, Weight>();
  for (const [name, weight] of spec.weights) {
    if (!isQuantized(name) || weight.dims.length !== 2) {
      weights.set(name, weight);
      continue;
    }
    const [rows, cols] = weight.dims as [number, number];
    const scale = new Float32Array(cols);
    for (let k = 0; k < rows; k++) for (let j = 0; j < cols; j++) scale[j] = Math.max(scale[j]!, Math.abs(weight.data[k * cols + j]!));
    for (let j = 0; j < cols; j++) scale[j] = scale[j]! > 0 ? scale[j]! / 127 : 1;
    const q = new Int8Array(rows * cols);
    for (let k = 0; k < rows; k++) {
      for (let j = 0; j < cols; j++) q[k * cols + j] = Math.max(-127, Math.min(127, Math.round(weight.data[k * cols + j]! / scale[j]!)));
    }
    weights.set(name, dequantized(weight.dims, q, scale));
  }
  return { ...spec, precision: "int8", weights };
}

/** A weight from int8 values and per-column scales, with its dequantized float values. */
export function dequantized(dims: number[], q: Int8Array, scale: Float32Array): Weight {
  const cols = dims[1] ?? 1;
  const data = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) data[i] = Math.fround(q[i]! * scale[i % cols]!);
  return { dims, data, q, scale };
}

/** Bytes of weights in the compiled program for a precision. */
export function weightBytes(spec: ModelSpec): number {
  let total = 0;
  for (const [name, weight] of spec.weights) {
    total += spec.precision === "int8" && weight.q ? weight.q.length + 4 * (weight.scale?.length ?? 0) : weight.data.length * 4;
  }
  return total;
}

/** Number of weight values (parameters) of a model. */
export function parameterCount(spec: ModelSpec): number {
  let total = 0;
  for (const weight of spec.weights.values()) total += weight.data.length;
  return total;
}
