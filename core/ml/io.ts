/** Reading exported models: metadata, initializers, and batch scoring with a cached session. */
import * as ort from "onnxruntime-node";
import { Config } from "../config";
import { invalid } from "../error";
import { alarmsOf, NO_POSTPROCESS, type PostProcess } from "./evaluate";
import { DataType, decodeModelProto, fromRaw } from "./onnx";

/** intra-op threads for every session (FLINT_ML_THREADS overrides). */
export const ML_THREADS = Config.mlThreads();

/**
 * Executor for the (unrolled) training-step and evaluation graphs. ORT's sequential
 * planner is super-linear in graph size: measured on 2 cores, a 53 KB step graph
 * (sequence 20, 1 layer of 32) is ready in 0.4 s, 140 KB in 2.6 s and the 286 KB
 * one of sequence 60 with 2 layers of 64 in 11.7 s, where the parallel executor
 * (2 streams, 1 thread per op) takes 0.08, 0.26 and 0.73 s but runs each step about
 * 1.5× slower. "auto" (default) takes the sequential executor up to
 * SEQUENTIAL_GRAPH_BYTES and the parallel one above, so the first epoch of any
 * run starts within about 2 s. FLINT_ML_TRAIN_EXECUTION=parallel|sequential forces one.
 */
export const TRAIN_EXECUTION = Config.mlTrainExecution();
export const SEQUENTIAL_GRAPH_BYTES = 96 * 1024;

export function sessionOptions(kind: "train" | "infer" = "infer", graphBytes = 0): ort.InferenceSession.SessionOptions {
  const parallel = kind === "train" && (TRAIN_EXECUTION === "parallel" || (TRAIN_EXECUTION === "auto" && graphBytes > SEQUENTIAL_GRAPH_BYTES));
  if (parallel) return { graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: ML_THREADS, executionMode: "parallel" };
  return { graphOptimizationLevel: "all", intraOpNumThreads: ML_THREADS, interOpNumThreads: 1, executionMode: "sequential" };
}

/** A session for a graph; "train" is for the trainer's own graphs (step and evaluation), which pick their executor by size. */
export function createSession(bytes: Uint8Array, kind: "train" | "infer" = "infer"): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, sessionOptions(kind, bytes.length));
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
  postprocess: PostProcess;
  /** the model has a `contribution` output (per-sensor share of the score) */
  contributes: boolean;
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
      // models trained before post-processing existed raise an alarm on every window over the threshold
      const postprocess: PostProcess = meta.postprocess ? { ...NO_POSTPROCESS, ...(JSON.parse(meta.postprocess) as Partial<PostProcess>) } : NO_POSTPROCESS;
      const session = await createSession(model);
      return { session, seq, features: features.length, threshold: Number(meta.threshold), postprocess, contributes: session.outputNames.includes("contribution"), mean };
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
 * smoothed[i] is its score after the model's smoothing and flags[i] = 1 when the
 * model raises an alarm there (smoothed score over the threshold, persisting as the
 * model's post-processing asks). `contributions` [windows × F] is each sensor's share of
 * the window's score (null for failure-probability models, whose score does not split
 * by sensor). Fewer rows than T gives empty arrays. Non-finite
 * values are forward-filled (the training mean before the first finite value), as in training.
 */
export async function score(
  model: Uint8Array,
  rows: Float32Array[],
): Promise<{ scores: Float32Array; smoothed: Float32Array; flags: Uint8Array; contributions: Float32Array | null; threshold: number; postprocess: PostProcess }> {
  const m = await load(model);
  if (rows.length !== m.features) throw invalid("scoring.feature_mismatch", `Model expects ${m.features} feature columns`, { expected: m.features, got: rows.length });
  const n = rows[0]?.length ?? 0;
  const F = m.features;
  const T = m.seq;
  const count = Math.max(0, n - T + 1);
  const scores = new Float32Array(count);
  const contributions = m.contributes ? new Float32Array(count * F) : null;
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
      const out = await m.session.run({ input: new ort.Tensor("float32", buf, [to - from, T, F]) }, contributions ? ["score", "contribution"] : ["score"]);
      scores.set(out["score"]!.data as Float32Array, from);
      contributions?.set(out["contribution"]!.data as Float32Array, from * F);
    }
  }
  const { smoothed, alarms } = alarmsOf(scores, m.threshold, m.postprocess);
  return { scores, smoothed, flags: alarms, contributions, threshold: m.threshold, postprocess: m.postprocess };
}
