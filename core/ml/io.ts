/** Reading exported models: metadata, initializers, and batch scoring with a cached session. */
import * as ort from "onnxruntime-node";
import { Config } from "../config";
import { invalid } from "../error";
import { DataType, decodeModelProto, fromRaw } from "./onnx";

/** intra-op threads for every session (FLINT_ML_THREADS overrides). */
export const ML_THREADS = Config.mlThreads();

/**
 * Executor for the (large, unrolled) training-step graph. "sequential" (default): intra-op
 * parallelism only; ORT's sequential allocation planner is super-linear in graph size, so
 * creating the session takes seconds to tens of seconds for long sequences. "parallel":
 * inter-op parallelism (2 streams, 1 thread per op); its session is created in ~2 s.
 * Override with FLINT_ML_TRAIN_EXECUTION=parallel|sequential.
 */
export const TRAIN_EXECUTION = Config.mlTrainExecution();

export function sessionOptions(kind: "train" | "infer" = "infer"): ort.InferenceSession.SessionOptions {
  if (kind === "train" && TRAIN_EXECUTION === "parallel")
    return { graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: ML_THREADS, executionMode: "parallel" };
  return { graphOptimizationLevel: "all", intraOpNumThreads: ML_THREADS, interOpNumThreads: 1, executionMode: "sequential" };
}

export function createSession(bytes: Uint8Array, kind: "train" | "infer" = "infer"): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, sessionOptions(kind));
}

export function readModelMetadata(model: Uint8Array): Record<string, string> {
  const m = decodeModelProto(model);
  return Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value]));
}

export interface DecodedInitializer {
  dims: number[];
  data: Float32Array | Int8Array;
  /** int8 weights: per-output-column scale (value = q · scale[col]), zero point 0, axis 1 */
  scale?: Float32Array;
}

/**
 * Decode an exported model into its named weight initializers (see README.md for names and
 * layouts) and metadata. Internal graph constants (`const_*`) and the `.scale` / `.zero_point`
 * companions of int8 weights are folded into the weight entries, not listed separately.
 */
export function decodeModel(model: Uint8Array): { initializers: Map<string, DecodedInitializer>; metadata: Record<string, string> } {
  const m = decodeModelProto(model);
  const all = new Map(m.graph.initializer.map((t) => [t.name, t]));
  const initializers = new Map<string, DecodedInitializer>();
  for (const t of m.graph.initializer) {
    if (t.name.startsWith("const_") || t.name.endsWith(".scale") || t.name.endsWith(".zero_point")) continue;
    const dims = (t.dims ?? []).map(Number);
    if (t.dataType === DataType.FLOAT) initializers.set(t.name, { dims, data: fromRaw(t.rawData, t.dataType) as Float32Array });
    else if (t.dataType === DataType.INT8) {
      const s = all.get(`${t.name}.scale`);
      initializers.set(t.name, { dims, data: fromRaw(t.rawData, t.dataType) as Int8Array, scale: s ? (fromRaw(s.rawData, s.dataType) as Float32Array) : undefined });
    }
  }
  return { initializers, metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value])) };
}

interface Loaded {
  session: ort.InferenceSession;
  seq: number;
  features: number;
  threshold: number;
  /** training means, used to fill leading non-finite values */
  mean: number[];
}
const cache = new WeakMap<Uint8Array, Promise<Loaded>>();

function load(model: Uint8Array): Promise<Loaded> {
  let p = cache.get(model);
  if (!p) {
    p = (async () => {
      const meta = readModelMetadata(model);
      const seq = Number(meta.sequence_length);
      const features = JSON.parse(meta.features ?? "[]") as string[];
      if (!seq || !features.length) throw invalid("model.invalid", "Not a Flint model (metadata missing)");
      const mean = meta.normalisation ? ((JSON.parse(meta.normalisation) as { mean?: number[] }).mean ?? []) : [];
      return { session: await createSession(model), seq, features: features.length, threshold: Number(meta.threshold), mean };
    })();
    cache.set(model, p);
    p.catch(() => cache.delete(model));
  }
  return p;
}

/** Batch size used when scoring many windows. */
export const SCORE_BATCH = 256;

/**
 * Score every stride-1 window of `rows` (one Float32Array per feature, in the model's
 * feature order, raw units). scores[i] belongs to the window ending at row i + T − 1;
 * flags[i] = scores[i] > threshold. Fewer rows than T gives empty arrays. Non-finite
 * values are forward-filled (the training mean before the first finite value), as in training.
 */
export async function score(model: Uint8Array, rows: Float32Array[]): Promise<{ scores: Float32Array; flags: Uint8Array; threshold: number }> {
  const m = await load(model);
  if (rows.length !== m.features) throw invalid("scoring.feature_mismatch", `Model expects ${m.features} feature columns`, { expected: m.features, got: rows.length });
  const n = rows[0]?.length ?? 0;
  const F = m.features;
  const T = m.seq;
  const count = Math.max(0, n - T + 1);
  const scores = new Float32Array(count);
  if (count > 0) {
    const rowMajor = new Float32Array(n * F);
    for (let f = 0; f < F; f++) {
      const c = rows[f]!;
      if (c.length !== n) throw invalid("scoring.invalid_rows", "All columns must have the same length");
      let prev = m.mean[f] ?? 0;
      for (let i = 0; i < n; i++) {
        const v = c[i]!;
        if (Number.isFinite(v)) prev = v;
        rowMajor[i * F + f] = prev;
      }
    }
    for (let from = 0; from < count; from += SCORE_BATCH) {
      const to = Math.min(count, from + SCORE_BATCH);
      const buf = new Float32Array((to - from) * T * F);
      for (let i = from; i < to; i++) buf.set(rowMajor.subarray(i * F, (i + T) * F), (i - from) * T * F);
      const out = await m.session.run({ input: new ort.Tensor("float32", buf, [to - from, T, F]) }, ["score"]);
      scores.set(out["score"]!.data as Float32Array, from);
    }
  }
  const flags = new Uint8Array(count);
  for (let i = 0; i < count; i++) flags[i] = scores[i]! > m.threshold ? 1 : 0;
  return { scores, flags, threshold: m.threshold };
}
