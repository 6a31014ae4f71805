/**
 * What the C generator needs to know about a model: architecture sizes,
 * feature order, normalisation, threshold and the weights, independent of how
 * they were stored. `quantize` derives the int8 variant (per-tensor symmetric
 * scales on every weight matrix; biases stay float32).
 */
import type { PostProcess } from "../ml";
import { ISOLATION_DEPTH } from "../ml/models";
import { DomainError } from "../error";

export type Architecture = "lstm_autoencoder" | "gru_predictor" | "sentinel" | "pca" | "kmeans" | "iforest";
export type Precision = "float32" | "int8";
export type Loss = "mse" | "mae" | "huber" | "bce";
/**
 * What the score means (core/ml metadata `task`): reconstruction error
 * (lstm_autoencoder), forecast error of the last row (gru_predictor), or a
 * failure probability (sentinel, and gru_predictor trained with loss "bce"), or a
 * distance from normal window statistics (the pca and kmeans baselines).
 */
export type Task = "reconstruction" | "forecast" | "classification" | "distance";

export const ARCHITECTURES: readonly Architecture[] = ["lstm_autoencoder", "gru_predictor", "sentinel", "pca", "kmeans", "iforest"];
export const TASKS: readonly Task[] = ["reconstruction", "forecast", "classification", "distance"];

/** The tasks the generator implements for each architecture. */
export const SUPPORTED_TASKS: Readonly<Record<Architecture, readonly Task[]>> = {
  lstm_autoencoder: ["reconstruction"],
  gru_predictor: ["forecast", "classification"],
  sentinel: ["classification"],
  pca: ["distance"],
  kmeans: ["distance"],
  iforest: ["distance"],
};

/**
 * A model the generator cannot turn into a program (not ONNX, unknown
 * architecture or task, missing metadata, weights in an unexpected layout, too
 * large). An "invalid" domain error: `code` names the problem, e.g.
 * `codegen.unsupported_task` or `codegen.weight_layout`.
 */
export class ModelFormatError extends DomainError {
  constructor(message: string, code = "codegen.unsupported_model", details?: unknown) {
    super("invalid", code, message, details);
    this.name = "ModelFormatError";
  }
}

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
  /** Which score the program computes; must be one of SUPPORTED_TASKS[architecture]. */
  task: Task;
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
  /** How scores become alarms (smoothing and persistence), as in the cloud. */
  postprocess: PostProcess;
  precision: Precision;
  /** sentinel: window statistics feeding the MLP, 3 = last row, mean, std (2 = last row, mean; older exports). */
  sentinelStats?: 2 | 3;
  /** pca: principal directions kept; kmeans: clusters; iforest: trees (all from the weights' shapes). */
  components?: number;
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
    // forecast: the last row's F values; classification: one failure logit
    dense("head", H, spec.task === "classification" ? 1 : F);
  } else if (spec.architecture === "pca" || spec.architecture === "kmeans" || spec.architecture === "iforest") {
    const d = 3 * F;
    const K = spec.components ?? 0;
    out.set("baseline.mean", [d]);
    out.set("baseline.inv_std", [d]);
    if (spec.architecture === "iforest") {
      const internal = 2 ** ISOLATION_DEPTH - 1;
      out.set("iforest.feature", [K * internal]);
      out.set("iforest.threshold", [K * internal]);
      out.set("iforest.path_length", [K * (internal + 1)]);
    } else if (spec.architecture === "pca") {
      out.set("pca.project.W", [d, K]);
      out.set("pca.reconstruct.W", [K, d]);
      out.set("pca.inv_eigenvalues", [K]);
      out.set("pca.weights", [2]);
    } else {
      out.set("kmeans.centroids.W", [d, K]);
      out.set("kmeans.nearest.W", [K, d]);
      out.set("kmeans.sq_norms", [K]);
      out.set("kmeans.inverse_mean", [1]);
    }
  } else {
    dense("mlp.0", (spec.sentinelStats ?? 3) * F, 128);
    dense("mlp.1", 128, 64);
    dense("mlp.2", 64, 1);
  }
  return out;
}

/** Throws ModelFormatError when the architecture/task pair is not supported (codegen.unsupported_architecture / codegen.unsupported_task). */
export function assertSupported(architecture: string, task: string): asserts architecture is Architecture {
  if (!(ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new ModelFormatError(`unsupported architecture ${architecture}`, "codegen.unsupported_architecture", { architecture });
  }
  const supported = SUPPORTED_TASKS[architecture as Architecture];
  if (!(supported as readonly string[]).includes(task)) {
    throw new ModelFormatError(`unsupported task ${JSON.stringify(task)} for ${architecture} (supported: ${supported.join(", ")})`, "codegen.unsupported_task", {
      architecture,
      task,
      supported,
    });
  }
}

/** Throws ModelFormatError (with a code) when the task is unsupported or a weight is missing or has the wrong shape. */
export function assertComplete(spec: ModelSpec): void {
  assertSupported(spec.architecture, spec.task);
  if (spec.features.length === 0) throw new ModelFormatError("model has no features", "codegen.invalid_metadata");
  if (spec.mean.length !== spec.features.length || spec.std.length !== spec.features.length) {
    throw new ModelFormatError("normalisation does not match the feature count", "codegen.invalid_metadata");
  }
  if (spec.std.some((s) => !(s > 0) || !Number.isFinite(s))) throw new ModelFormatError("normalisation has a non-positive std", "codegen.invalid_metadata");
  if (!Number.isInteger(spec.sequenceLength) || spec.sequenceLength < 1) throw new ModelFormatError("model has no sequence_length", "codegen.invalid_metadata");
  if (spec.architecture === "gru_predictor" && spec.task === "forecast" && spec.sequenceLength < 2) {
    throw new ModelFormatError("a forecasting gru_predictor needs sequence_length ≥ 2", "codegen.invalid_metadata");
  }
  for (const [name, dims] of expectedWeights(spec)) {
    const weight = spec.weights.get(name);
    if (!weight) throw new ModelFormatError(`missing weight ${name} (${spec.architecture}, task ${spec.task})`, "codegen.weight_layout", { weight: name });
    const size = dims.reduce((a, b) => a * b, 1);
    if (weight.data.length !== size || weight.dims.join("x") !== dims.join("x")) {
      throw new ModelFormatError(
        `weight ${name} has shape [${weight.dims.join(",")}], expected [${dims.join(",")}] for ${spec.architecture} with task ${spec.task}`,
        "codegen.weight_layout",
        { weight: name, dims: weight.dims, expected: dims },
      );
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
