/**
 * Data preparation (JS does only O(n) bookkeeping here): validation, gap filling,
 * chronological split, z-score statistics from the training split, window indexing
 * and batch gathering from a row-major buffer.
 */
import { createHash } from "node:crypto";
import { invalid } from "../error";
import type { ArchitectureT } from "./schema";

export interface TrainingData {
  features: string[];
  /** one column per feature, all the same length, in time order */
  columns: Float32Array[];
  /** 0/1 per row (1 = anomalous / failure) */
  labels?: Uint8Array;
  samplingIntervalSeconds?: number;
}

/** Chronological split fractions: first 70% train, next 15% validation, last 15% test (before the minimums below). */
export const SPLIT = { train: 0.7, val: 0.15 } as const;
/** Stride-1 windows the validation and the test split each hold at least: a threshold is never calibrated on a handful. */
export const MIN_CALIBRATION_WINDOWS = 50;
/** Stride-1 windows the training split holds at least. */
export const MIN_TRAINING_WINDOWS = 64;

export type SplitBounds = { train: [number, number]; val: [number, number]; test: [number, number] };

/**
 * The chronological split of `rows` rows for windows of `seq` rows: 70/15/15, with the
 * validation and test splits grown (from the training split's share) until each holds
 * MIN_CALIBRATION_WINDOWS overlapping windows.
 *
 * @throws training.insufficient_data with the rows needed when the training split would then hold
 *   fewer than MIN_TRAINING_WINDOWS windows
 */
export function splitBounds(rows: number, seq: number): SplitBounds {
  const heldOut = Math.max(Math.floor(rows * SPLIT.val), seq - 1 + MIN_CALIBRATION_WINDOWS);
  const trainEnd = rows - 2 * heldOut;
  const needed = 2 * (seq - 1 + MIN_CALIBRATION_WINDOWS) + seq - 1 + MIN_TRAINING_WINDOWS;
  if (trainEnd - seq + 1 < MIN_TRAINING_WINDOWS) {
    throw invalid("training.insufficient_data", `${rows} rows are too few for windows of ${seq} rows: at least ${needed} are needed`, {
      rows,
      sequence_length: seq,
      rows_needed: needed,
      min_training_windows: MIN_TRAINING_WINDOWS,
      min_calibration_windows: MIN_CALIBRATION_WINDOWS,
    });
  }
  const valEnd = trainEnd + heldOut;
  return { train: [0, trainEnd], val: [trainEnd, valEnd], test: [valEnd, rows] };
}

export interface Prepared {
  n: number;
  F: number;
  /** raw values, row-major [n, F], non-finite values forward-filled (column mean before the first finite value) */
  raw: Float32Array;
  /** z-scored with training-split statistics, row-major [n, F] */
  norm: Float32Array;
  mean: Float32Array;
  std: Float32Array;
  labels?: Uint8Array;
  bounds: { train: [number, number]; val: [number, number]; test: [number, number] };
  fingerprint: string;
}

export function validateData(data: TrainingData): void {
  if (!data || !Array.isArray(data.features) || !Array.isArray(data.columns)) throw invalid("training.invalid_data", "Training data needs features and columns");
  if (data.features.length === 0) throw invalid("training.invalid_data", "At least one feature is required");
  if (data.features.length !== data.columns.length)
    throw invalid("training.invalid_data", "features and columns differ in length", { features: data.features.length, columns: data.columns.length });
  const n = data.columns[0]!.length;
  data.columns.forEach((c, i) => {
    if (c.length !== n) throw invalid("training.invalid_data", "All columns must have the same length", { feature: data.features[i], length: c.length, expected: n });
  });
  if (data.labels && data.labels.length !== n) throw invalid("training.invalid_data", "labels must have one value per row", { length: data.labels.length, expected: n });
}

/** sha256 over feature names, column bytes and labels. */
export function fingerprint(data: TrainingData): string {
  const h = createHash("sha256");
  h.update(JSON.stringify(data.features));
  for (const c of data.columns) h.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
  if (data.labels) h.update(data.labels);
  return h.digest("hex");
}

export function prepare(data: TrainingData, seq: number): Prepared {
  validateData(data);
  const F = data.features.length;
  const n = data.columns[0]!.length;
  const bounds = splitBounds(n, seq);
  const trainEnd = bounds.train[1];
  const raw = new Float32Array(n * F);
  const mean = new Float32Array(F);
  const std = new Float32Array(F);
  for (let f = 0; f < F; f++) {
    const col = data.columns[f]!;
    let sum = 0;
    let cnt = 0;
    for (let i = 0; i < trainEnd; i++) {
      const v = col[i]!;
      if (Number.isFinite(v)) {
        sum += v;
        cnt++;
      }
    }
    const m = cnt ? sum / cnt : 0;
    let prev = m;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const v = col[i]!;
      const fill = Number.isFinite(v) ? v : prev;
      prev = fill;
      raw[i * F + f] = fill;
      if (i < trainEnd) ss += (fill - m) * (fill - m);
    }
    const sd = Math.sqrt(ss / Math.max(1, trainEnd));
    mean[f] = m;
    std[f] = sd > 1e-6 * Math.max(1, Math.abs(m)) ? sd : 1;
  }
  const norm = new Float32Array(n * F);
  for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) norm[i * F + f] = (raw[i * F + f]! - mean[f]!) / std[f]!;
  return { n, F, raw, norm, mean, std, labels: data.labels, bounds, fingerprint: fingerprint(data) };
}

/** Window start indices with all rows inside [a, b). */
export function windowStarts(a: number, b: number, seq: number, stride: number): Uint32Array {
  const count = b - a >= seq ? Math.floor((b - a - seq) / stride) + 1 : 0;
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = a + i * stride;
  return out;
}

/**
 * Window label rule. lstm_autoencoder: a window is anomalous when ANY of its rows is
 * labelled 1 (the score is a whole-window reconstruction error). gru_predictor and
 * sentinel: the label of the LAST row (the forecast target / the current health).
 */
export function windowLabeller(architecture: ArchitectureT, labels: Uint8Array, seq: number): (start: number) => number {
  if (architecture === "lstm_autoencoder") {
    // prefix sums → O(1) "any" query
    const pre = new Uint32Array(labels.length + 1);
    for (let i = 0; i < labels.length; i++) pre[i + 1] = pre[i]! + (labels[i] ? 1 : 0);
    return (s) => (pre[s + seq]! - pre[s]! > 0 ? 1 : 0);
  }
  return (s) => (labels[s + seq - 1] ? 1 : 0);
}

export function anyLabel(labels: Uint8Array, seq: number): (start: number) => boolean {
  const pre = new Uint32Array(labels.length + 1);
  for (let i = 0; i < labels.length; i++) pre[i + 1] = pre[i]! + (labels[i] ? 1 : 0);
  return (s) => pre[s + seq]! - pre[s]! > 0;
}

/** Copy windows (row-major source [n,F]) into a batch buffer [B,T,F]. */
export function gather(src: Float32Array, F: number, seq: number, starts: ArrayLike<number>, from: number, to: number, out?: Float32Array): Float32Array {
  const w = seq * F;
  const buf = out && out.length === (to - from) * w ? out : new Float32Array((to - from) * w);
  for (let i = from; i < to; i++) {
    const s = starts[i]! * F;
    buf.set(src.subarray(s, s + w), (i - from) * w);
  }
  return buf;
}
