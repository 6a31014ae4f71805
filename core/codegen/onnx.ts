/**
 * Reads an exported Flint inference model (core/ml buildInferenceModel: float32
 * model.onnx or int8 model.int8.onnx) into a ModelSpec for the C generator.
 */
import { buildInferenceModel, decodeModel, defineModel, Hyperparameters, NO_POSTPROCESS, type PostProcess } from "../ml";
import { ISOLATION_DEPTH } from "../ml/models";
import { ARCHITECTURES, assertComplete, assertSupported, dequantized, ModelFormatError, type Architecture, type Loss, type ModelSpec, type Task, type Weight } from "./spec";

export { ModelFormatError } from "./spec";

function json<T>(metadata: Record<string, string>, key: string): T {
  const text = metadata[key];
  if (text === undefined) throw new ModelFormatError(`model metadata has no ${key}`, "codegen.invalid_metadata", { key });
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ModelFormatError(`model metadata ${key} is not JSON`, "codegen.invalid_metadata", { key });
  }
}

/**
 * The model's task from its metadata. Exports that predate the `task` key
 * get the one their architecture and loss imply (gru_predictor with loss "bce"
 * is the failure-probability classifier). Not checked here; see assertSupported.
 */
function taskOf(metadata: Record<string, string>, architecture: Architecture, loss: Loss | undefined): string {
  if (metadata.task !== undefined) return metadata.task;
  if (architecture === "lstm_autoencoder") return "reconstruction";
  if (architecture === "sentinel") return "classification";
  return loss === "bce" ? "classification" : "forecast";
}

/**
 * @throws ModelFormatError when the bytes are not a Flint inference model the generator supports
 */
export function specFromOnnx(bytes: Uint8Array, identity: { modelId: string; version: string }): ModelSpec {
  let decoded: ReturnType<typeof decodeModel>;
  try {
    decoded = decodeModel(bytes);
  } catch (error) {
    throw new ModelFormatError(`not an ONNX model: ${(error as Error).message}`, "codegen.not_onnx");
  }
  const { initializers, metadata } = decoded;
  const architecture = metadata.architecture as Architecture;
  if (!ARCHITECTURES.includes(architecture)) {
    throw new ModelFormatError(`unsupported architecture ${metadata.architecture}`, "codegen.unsupported_architecture", { architecture: metadata.architecture });
  }
  const features = json<string[]>(metadata, "features");
  const hp = json<{ hidden_dim?: number; bottleneck_dim?: number; num_layers?: number; sequence_length?: number; loss?: Loss }>(
    metadata,
    "hyperparameters",
  );
  if (!Array.isArray(features) || features.some((name) => typeof name !== "string")) {
    throw new ModelFormatError("model metadata features is not a list of names", "codegen.invalid_metadata", { key: "features" });
  }
  const task = taskOf(metadata, architecture, hp.loss);
  assertSupported(architecture, task);
  // core/ml builds a gru_predictor's graph (and referenceModel rebuilds it) from the loss:
  // "bce" is the classifier. A task that disagrees would be scored differently by the
  // program and by ONNX Runtime (and with one feature both head layouts are [H, 1]).
  if (architecture === "gru_predictor" && hp.loss !== undefined && (task === "classification") !== (hp.loss === "bce")) {
    throw new ModelFormatError(`task ${task} does not match gru_predictor trained with loss ${hp.loss}`, "codegen.unsupported_task", { architecture, task, loss: hp.loss });
  }
  const sequenceLength = Number(metadata.sequence_length ?? hp.sequence_length);
  const threshold = Number(metadata.threshold);
  if (!Number.isInteger(sequenceLength) || sequenceLength < 1) throw new ModelFormatError("model has no sequence_length", "codegen.invalid_metadata");
  if (!Number.isFinite(threshold)) throw new ModelFormatError("model has no threshold", "codegen.invalid_metadata");

  const mean = initializers.get("norm.mean")?.data;
  const std = initializers.get("norm.std")?.data;
  if (!(mean instanceof Float32Array) || !(std instanceof Float32Array)) throw new ModelFormatError("model has no normalisation", "codegen.invalid_metadata");

  const weights = new Map<string, Weight>();
  let int8 = false;
  for (const [name, init] of initializers) {
    if (name.startsWith("norm.")) continue;
    if (init.data instanceof Int8Array) {
      if (!init.scale) throw new ModelFormatError(`int8 weight ${name} has no scale`, "codegen.weight_layout", { weight: name });
      weights.set(name, dequantized(init.dims, init.data, init.scale));
      int8 = true;
    } else {
      weights.set(name, { dims: init.dims, data: init.data });
    }
  }
  const spec: ModelSpec = {
    modelId: identity.modelId,
    version: identity.version,
    architecture,
    task: task as Task,
    features,
    sequenceLength,
    hiddenDim: hp.hidden_dim ?? 0,
    numLayers: hp.num_layers ?? 1,
    bottleneckDim: hp.bottleneck_dim ?? 0,
    loss: hp.loss ?? "mse",
    mean: Array.from(mean),
    std: Array.from(std),
    threshold,
    postprocess: metadata.postprocess ? { ...NO_POSTPROCESS, ...(JSON.parse(metadata.postprocess) as Partial<PostProcess>) } : NO_POSTPROCESS,
    precision: int8 ? "int8" : "float32",
    ...(architecture === "sentinel" ? { sentinelStats: weights.get("mlp.0.W")?.dims[0] === 2 * features.length ? 2 : 3 } : {}),
    ...(architecture === "pca" ? { components: weights.get("pca.project.W")?.dims[1] ?? 0 } : {}),
    ...(architecture === "kmeans" ? { components: weights.get("kmeans.centroids.W")?.dims[1] ?? 0 } : {}),
    ...(architecture === "iforest" ? { components: (weights.get("iforest.path_length")?.dims[0] ?? 0) / 2 ** ISOLATION_DEPTH } : {}),
    weights,
  };
  assertComplete(spec);
  return spec;
}

/**
 * The model ONNX Runtime should score to check a program generated from `bytes`.
 * For a float32 model that is the model itself. For model.int8.onnx it is the
 * same graph with the dequantized weights (q · scale) as float32 initializers:
 * the program computes exactly that (int8 weights, float32 activations), while
 * ONNX Runtime's optimised DequantizeLinear→MatMul path approximates it (≈1e-4 relative).
 */
export function referenceModel(bytes: Uint8Array, spec: ModelSpec): Uint8Array {
  if (spec.precision === "float32") return bytes;
  const { metadata } = decodeModel(bytes);
  const hp = Hyperparameters.parse(JSON.parse(metadata.hyperparameters ?? "{}"));
  const def = defineModel(
    spec.architecture,
    spec.features.length,
    { ...hp, clusters: spec.components ?? hp.clusters, trees: spec.components ?? hp.trees },
    { components: spec.components },
  );
  const weights = new Map([...spec.weights].map(([name, weight]) => [name, weight.data]));
  const norm = { mean: Float32Array.from(spec.mean), std: Float32Array.from(spec.std) };
  return buildInferenceModel(def, weights, norm, metadata, false);
}
