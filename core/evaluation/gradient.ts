/**
 * The gradient evaluation: how a model behaves across the range of its
 * inputs and thresholds, computed with ONNX Runtime on the dataset's test
 * split (the last 15% of rows, at most MAX_ROWS of them).
 */
import { openNumericChunks, readNumericRows } from "../dataset/chunks";
import { invalid } from "../error";
import { score } from "../ml";
import { ModelEntity } from "../model/entity";
import { getObjectBytes } from "../storage";
import type { EvaluationItem } from "./entity";

const MAX_ROWS = 4_000;
const TEST_FRACTION = 0.15;
const LATENCY_SAMPLES = 15;

/** What each field of `gradient_evaluation` means; returned alongside the values. */
export const METRIC_DEFINITIONS = {
  sensor_contribution:
    "Per sensor: mean absolute change of the anomaly score when that sensor is replaced by its test-split mean (occlusion). 'share' normalises the changes to sum to 1; a high share means the model relies on that sensor.",
  score_distribution: "Anomaly scores of every stride-1 test window: count, min, mean, std, p50, p90, p95, p99, max.",
  histogram: "Test-window scores in 20 equal-width bins between min and max; counts per bin.",
  threshold_sweep:
    "For thresholds at score quantiles 50%..99.9% and the model's own: alarm_rate (share of windows above), and with labels precision, recall and f1 where a window is anomalous when any of its rows is labelled 1.",
  model_threshold: "The decision threshold stored in the model (chosen on the validation split during training).",
  latency: "Inference on one window (batch 1): median and 95th-percentile milliseconds over repeated runs; throughput_windows_per_second from scoring the whole test split.",
  separation: "With labels: mean score of anomalous windows divided by the mean score of normal windows (higher separates better).",
} as const;

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

const round = (value: number, digits = 6) => Math.round(value * 10 ** digits) / 10 ** digits;

export async function computeGradientEvaluation(evaluation: EvaluationItem): Promise<Record<string, unknown>> {
  const { tenantId } = evaluation;
  const found = await ModelEntity.get({ tenantId, modelId: evaluation.modelId }).go();
  const model = found.data;
  if (!model) throw invalid("evaluation.model_missing", "The evaluated model no longer exists");
  // only the chunks holding the scored rows are read: the dataset may be far larger than memory
  const chunks = await openNumericChunks(tenantId, evaluation.datasetId);
  for (const name of model.featureNames) {
    if (!chunks.columns.includes(name)) throw invalid("evaluation.dataset_changed", `The dataset no longer has the feature '${name}'`);
  }
  const n = chunks.rows;
  const from = Math.max(0, Math.min(n - model.sequenceLength, n - Math.max(Math.ceil(n * TEST_FRACTION), MAX_ROWS)));
  const to = Math.min(n, from + MAX_ROWS);
  const rows = await readNumericRows(chunks, chunks.labelColumn ? [...model.featureNames, chunks.labelColumn] : model.featureNames, from, to);
  const slice = model.featureNames.map((name) => rows[name]!);
  const labelColumn = chunks.labelColumn ? rows[chunks.labelColumn] : undefined;
  const bytes = await getObjectBytes(`tenants/${tenantId}/models/${model.modelId}/model.onnx`);

  const started = performance.now();
  const base = await score(bytes, slice);
  const baseSeconds = (performance.now() - started) / 1000;
  const windows = base.scores.length;
  if (windows === 0) throw invalid("evaluation.too_few_rows", "The test split is shorter than one window");

  // Occlusion per sensor.
  const contributions: { sensor: string; mean_abs_change: number; share: number }[] = [];
  for (let f = 0; f < slice.length; f++) {
    const column = slice[f]!;
    let mean = 0;
    let finite = 0;
    for (const value of column) if (Number.isFinite(value)) (mean += value), finite++;
    mean = finite > 0 ? mean / finite : 0;
    const occluded = slice.map((c, index) => (index === f ? new Float32Array(c.length).fill(mean) : c));
    const result = await score(bytes, occluded);
    let change = 0;
    for (let i = 0; i < windows; i++) change += Math.abs(result.scores[i]! - base.scores[i]!);
    contributions.push({ sensor: model.featureNames[f]!, mean_abs_change: change / windows, share: 0 });
  }
  const total = contributions.reduce((sum, item) => sum + item.mean_abs_change, 0);
  for (const item of contributions) {
    item.share = total > 0 ? round(item.mean_abs_change / total, 4) : round(1 / contributions.length, 4);
    item.mean_abs_change = round(item.mean_abs_change);
  }
  contributions.sort((a, b) => b.mean_abs_change - a.mean_abs_change);

  const sorted = Float64Array.from(base.scores).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const mean = sum / windows;
  let variance = 0;
  for (const value of sorted) variance += (value - mean) ** 2;
  const distribution = {
    count: windows,
    min: round(sorted[0]!),
    mean: round(mean),
    std: round(Math.sqrt(variance / windows)),
    p50: round(quantile(sorted, 0.5)),
    p90: round(quantile(sorted, 0.9)),
    p95: round(quantile(sorted, 0.95)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted[windows - 1]!),
  };
  const bins = 20;
  const width = (distribution.max - distribution.min) / bins || 1;
  const counts = new Array<number>(bins).fill(0);
  for (const value of sorted) counts[Math.min(bins - 1, Math.floor((value - sorted[0]!) / width))]!++;

  // Window labels: a window is anomalous when any of its rows is.
  let windowLabels: Uint8Array | undefined;
  if (labelColumn) {
    windowLabels = new Uint8Array(windows);
    for (let i = 0; i < windows; i++) {
      for (let t = 0; t < model.sequenceLength; t++) {
        if ((labelColumn[i + t] ?? 0) >= 0.5) {
          windowLabels[i] = 1;
          break;
        }
      }
    }
  }
  const thresholds = [0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999].map((q) => ({ quantile: q as number | null, threshold: quantile(sorted, q) }));
  thresholds.push({ quantile: null, threshold: base.threshold });
  const sweep = thresholds
    .sort((a, b) => a.threshold - b.threshold)
    .map(({ quantile: q, threshold }) => {
      let tp = 0, fp = 0, fn = 0, above = 0;
      for (let i = 0; i < windows; i++) {
        const flagged = base.scores[i]! > threshold;
        if (flagged) above++;
        if (windowLabels) {
          if (flagged && windowLabels[i]) tp++;
          else if (flagged) fp++;
          else if (windowLabels[i]) fn++;
        }
      }
      const precision = tp + fp > 0 ? tp / (tp + fp) : null;
      const recall = tp + fn > 0 ? tp / (tp + fn) : null;
      const f1 = precision !== null && recall !== null && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : null;
      return {
        threshold: round(threshold),
        quantile: q,
        is_model_threshold: q === null,
        alarm_rate: round(above / windows, 4),
        precision: windowLabels && precision !== null ? round(precision, 4) : null,
        recall: windowLabels && recall !== null ? round(recall, 4) : null,
        f1: windowLabels && f1 !== null ? round(f1, 4) : null,
      };
    });

  let separation: number | null = null;
  if (windowLabels) {
    let anomalous = 0, anomalousCount = 0, normal = 0, normalCount = 0;
    for (let i = 0; i < windows; i++) {
      if (windowLabels[i]) (anomalous += base.scores[i]!), anomalousCount++;
      else (normal += base.scores[i]!), normalCount++;
    }
    if (anomalousCount > 0 && normalCount > 0 && normal > 0) separation = round(anomalous / anomalousCount / (normal / normalCount), 4);
  }

  const one = slice.map((column) => column.slice(0, model.sequenceLength));
  const timings: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    await score(bytes, one);
    timings.push(performance.now() - t0);
  }
  timings.sort((a, b) => a - b);
  const latencies = Float64Array.from(timings);

  return {
    evaluated_rows: to - from,
    evaluated_windows: windows,
    labelled: windowLabels !== undefined,
    model_threshold: round(base.threshold),
    sensor_contribution: contributions,
    score_distribution: distribution,
    histogram: { min: distribution.min, max: distribution.max, bin_width: round(width), counts },
    threshold_sweep: sweep,
    separation,
    latency: {
      p50_ms: round(quantile(latencies, 0.5), 3),
      p95_ms: round(quantile(latencies, 0.95), 3),
      throughput_windows_per_second: Math.round(windows / Math.max(baseSeconds, 1e-6)),
    },
    metric_definitions: METRIC_DEFINITIONS,
    completed_at: new Date().toISOString(),
  };
}
