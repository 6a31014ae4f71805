/** Thresholds, metrics and model comparison (small O(n log n) work over score arrays). */

export interface ConfusionMatrix {
  true_positive: number;
  false_positive: number;
  true_negative: number;
  false_negative: number;
}
export interface ScoreDistribution {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  std: number;
}
export interface Evaluation {
  threshold: number;
  threshold_rule: string;
  /** how a window gets its 0/1 label (null without labels) */
  window_label_rule: string | null;
  val_windows: number;
  test_windows: number;
  /** test-split classification metrics (labels only) */
  metrics: ClassificationMetrics | null;
  confusion_matrix: ConfusionMatrix | null;
  /** test-split score distribution */
  score_distribution: ScoreDistribution;
  validation_score_distribution: ScoreDistribution;
  /** fraction of test windows in alarm after post-processing (stride-1 windows) */
  expected_alarm_rate: number;
  /** how scores become alarms (smoothing and persistence) */
  postprocess: PostProcess;
  /** fault events of the test split found by the alarms (labels only) */
  event_detection: EventDetection | null;
  /** the test split's smoothed scores, alarms and labels, downsampled for plots */
  score_timeline: ScoreTimeline;
  training_curves: { epochs: number[]; train_loss: number[]; val_loss: number[] };
}

/** Linear-interpolated quantile of an ascending-sorted array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function distribution(scores: ArrayLike<number>): ScoreDistribution {
  const s = Float64Array.from(scores).sort();
  let sum = 0;
  for (const v of s) sum += v;
  const mean = s.length ? sum / s.length : NaN;
  let ss = 0;
  for (const v of s) ss += (v - mean) * (v - mean);
  return {
    count: s.length,
    min: s[0] ?? NaN,
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    max: s[s.length - 1] ?? NaN,
    mean,
    std: s.length ? Math.sqrt(ss / s.length) : NaN,
  };
}

/** Quantile of the empirical threshold rule ("p99"). */
export const THRESHOLD_QUANTILE = 0.99;
/** The false-alarm budget per (smoothed) window the fitted threshold rules aim at. */
export const FALSE_ALARM_BUDGET = 0.001;

/** How scores become alarms, the same in the cloud and on the controller (stored in the model's metadata). */
export interface PostProcess {
  /** trailing mean over this many consecutive window scores (1 = none) */
  smoothing_windows: number;
  /** alarm when at least n of the last m smoothed scores exceed the threshold */
  persistence_n: number;
  persistence_m: number;
}

export const NO_POSTPROCESS: PostProcess = { smoothing_windows: 1, persistence_n: 1, persistence_m: 1 };

/**
 * Trailing moving average of consecutive window scores: smoothed[i] is the mean of
 * scores[i-k+1..i]; the first k-1 windows average the windows there are.
 */
export function smooth(scores: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    sum += scores[i]!;
    if (i >= k) sum -= scores[i - k]!;
    out[i] = sum / Math.min(k, i + 1);
  }
  return out;
}

/** 1 where at least n of the last m values (fewer at the start) exceed the threshold. */
export function persist(values: ArrayLike<number>, threshold: number, n: number, m: number): Uint8Array {
  const out = new Uint8Array(values.length);
  let over = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! > threshold) over++;
    if (i >= m && values[i - m]! > threshold) over--;
    out[i] = over >= n ? 1 : 0;
  }
  return out;
}

/** Smoothed scores and alarms of consecutive windows under a model's post-processing. */
export function alarmsOf(scores: ArrayLike<number>, threshold: number, post: PostProcess): { smoothed: Float32Array; alarms: Uint8Array } {
  const smoothed = smooth(scores, post.smoothing_windows);
  return { smoothed, alarms: persist(smoothed, threshold, post.persistence_n, post.persistence_m) };
}

export type ThresholdRule = "p99" | "robust_log" | "pot";

/**
 * Threshold of a reconstruction / forecast model from its validation window scores
 * (smoothed as in the field; windows labelled normal only, when labels exist).
 * - "pot" (default): peaks over threshold. The largest 20 % of scores are fitted
 *   with a generalised Pareto distribution (probability-weighted moments, shape
 *   clamped to [-0.5, 0.5]) and the threshold is its FALSE_ALARM_BUDGET quantile,
 *   never below the empirical one (the largest score while there are fewer than
 *   1 / budget windows). It extrapolates the tail instead of
 *   reading a quantile off a few dozen windows, and stays sound for heavy tails.
 * - "robust_log": exp(median + z·1.4826·MAD) of the log scores, z for the budget.
 * - "p99": the empirical 99th percentile (the rule before; underestimates the tail
 *   when validation is small).
 * sentinel and other supervised models: 0.5 on the failure probability.
 */
export function chooseThreshold(
  architecture: string,
  valScores: ArrayLike<number>,
  valLabels?: ArrayLike<number>,
  rule: ThresholdRule = "pot",
): { threshold: number; rule: string } {
  if (architecture === "sentinel") return { threshold: 0.5, rule: "sentinel: failure probability > 0.5 (class-balanced BCE decision point)" };
  const normal: number[] = [];
  for (let i = 0; i < valScores.length; i++) if (!valLabels || !valLabels[i]) normal.push(valScores[i]!);
  const use = normal.length >= 10 ? normal : Array.from(valScores);
  const sorted = Float64Array.from(use).sort();
  const of = valLabels ? " (windows labelled normal)" : "";
  if (rule === "p99") return { threshold: quantile(sorted, THRESHOLD_QUANTILE), rule: `p${THRESHOLD_QUANTILE * 100} of validation window scores${of}; score > threshold ⇒ anomaly` };
  if (rule === "robust_log") {
    const logs = Float64Array.from(sorted, (v) => Math.log(Math.max(v, 1e-12))).sort();
    const median = quantile(logs, 0.5);
    const mad = quantile(Float64Array.from(logs, (v) => Math.abs(v - median)).sort(), 0.5);
    const threshold = Math.max(Math.exp(median + normalQuantile(1 - FALSE_ALARM_BUDGET) * 1.4826 * mad), sorted[sorted.length - 1] ?? 0);
    return { threshold, rule: `exp(median + z·1.4826·MAD) of log validation scores${of}, z for a ${FALSE_ALARM_BUDGET} false-alarm budget, at least the largest` };
  }
  return { threshold: peaksOverThreshold(sorted, FALSE_ALARM_BUDGET), rule: `peaks over threshold: generalised Pareto fit to the top 20 % of validation scores${of}, ${FALSE_ALARM_BUDGET} false-alarm quantile, at least the empirical one` };
}

/** The `budget` exceedance quantile of an ascending sample from a GPD fitted to its top 20 %. */
export function peaksOverThreshold(sorted: Float64Array, budget: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  // the empirical budget quantile: the largest score while there are fewer than 1 / budget of them
  const largest = quantile(sorted, 1 - budget);
  const tail = Math.max(5, Math.floor(n * 0.2));
  if (n < 10) return largest;
  const u = sorted[n - tail - 1]!;
  const y = Float64Array.from(sorted.subarray(n - tail), (v) => v - u);
  // probability-weighted moments (Hosking & Wallis 1987)
  let a0 = 0;
  let a1 = 0;
  for (let i = 0; i < tail; i++) {
    a0 += y[i]!;
    a1 += (1 - (i + 1 - 0.35) / tail) * y[i]!;
  }
  a0 /= tail;
  a1 /= tail;
  if (!(a0 > 0) || !(a0 - 2 * a1 > 0)) return largest;
  const k = Math.max(-0.5, Math.min(0.5, a0 / (a0 - 2 * a1) - 2));
  const sigma = Math.max(1e-12, (2 * a0 * a1) / (a0 - 2 * a1));
  const xi = -k;
  const ratio = (n / tail) * budget;
  const excess = Math.abs(xi) < 1e-6 ? -sigma * Math.log(ratio) : (sigma / xi) * (ratio ** -xi - 1);
  return Math.max(largest, u + excess);
}

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

export function confusion(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): ConfusionMatrix {
  return confusionOf(overThreshold(scores, threshold), labels);
}

function overThreshold(scores: ArrayLike<number>, threshold: number): Uint8Array {
  return Uint8Array.from(scores, (score) => (score > threshold ? 1 : 0));
}

/** Confusion matrix of 0/1 predictions (alarms) against 0/1 labels. */
export function confusionOf(predicted: ArrayLike<number>, labels: ArrayLike<number>): ConfusionMatrix {
  const cm = { true_positive: 0, false_positive: 0, true_negative: 0, false_negative: 0 };
  for (let i = 0; i < predicted.length; i++) {
    const p = predicted[i]! > 0;
    const y = labels[i]! > 0;
    if (p && y) cm.true_positive++;
    else if (p) cm.false_positive++;
    else if (y) cm.false_negative++;
    else cm.true_negative++;
  }
  return cm;
}

/** AUC-ROC via the Mann–Whitney U statistic (ties get average ranks). NaN with a single class. */
export function aucRoc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]!]! > 0) {
      pos++;
      rankSum += avg;
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface ClassificationMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  auc_roc: number;
  /** average precision over the score ranking */
  auc_pr: number;
  /** alarms on normal windows / normal windows */
  false_alarm_rate: number;
  /** fault windows without an alarm / fault windows */
  missed_alarm_rate: number;
}

export function classificationMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number) {
  return metricsOf(overThreshold(scores, threshold), labels, scores);
}

/** Metrics of alarms (0/1 per window) against labels; the ranking metrics use `scores`. */
export function metricsOf(alarms: ArrayLike<number>, labels: ArrayLike<number>, scores: ArrayLike<number>): { cm: ConfusionMatrix; metrics: ClassificationMetrics } {
  const cm = confusionOf(alarms, labels);
  const { true_positive: tp, false_positive: fp, true_negative: tn, false_negative: fn } = cm;
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const total = tp + fp + tn + fn;
  return {
    cm,
    metrics: {
      accuracy: total ? (tp + tn) / total : 0,
      precision,
      recall,
      f1,
      auc_roc: aucRoc(scores, labels),
      auc_pr: averagePrecision(scores, labels),
      false_alarm_rate: fp + tn ? fp / (fp + tn) : 0,
      missed_alarm_rate: tp + fn ? fn / (tp + fn) : 0,
    },
  };
}

/** Average precision (area under the precision-recall curve, step-wise); NaN without positives. */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]! > 0) positives++;
  if (positives === 0) return NaN;
  let tp = 0;
  let sum = 0;
  let i = 0;
  while (i < order.length) {
    // tied scores enter the ranking together
    let j = i;
    let newTp = 0;
    while (j < order.length && scores[order[j]!] === scores[order[i]!]) {
      if (labels[order[j]!]! > 0) newTp++;
      j++;
    }
    tp += newTp;
    sum += newTp * (tp / j);
    i = j;
  }
  return sum / positives;
}

/** Fault events (runs of labelled windows) found by the alarms, and how late. */
export interface EventDetection {
  events: number;
  detected: number;
  /** detected / events (null without events) */
  event_recall: number | null;
  /** windows from an event's start to its first alarm, over the detected events */
  mean_delay_windows: number | null;
  max_delay_windows: number | null;
}

/**
 * An event is a run of consecutive labelled windows; it is detected when an alarm
 * falls inside it, its delay the windows from its start to that first alarm.
 */
export function eventDetection(alarms: ArrayLike<number>, labels: ArrayLike<number>): EventDetection {
  let events = 0;
  let detected = 0;
  let delaySum = 0;
  let delayMax: number | null = null;
  let start = -1;
  let firstAlarm = -1;
  const close = () => {
    if (start === -1) return;
    events++;
    if (firstAlarm !== -1) {
      detected++;
      const delay = firstAlarm - start;
      delaySum += delay;
      delayMax = Math.max(delayMax ?? 0, delay);
    }
    start = -1;
    firstAlarm = -1;
  };
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! > 0) {
      if (start === -1) start = i;
      if (firstAlarm === -1 && alarms[i]! > 0) firstAlarm = i;
    } else close();
  }
  close();
  return { events, detected, event_recall: events ? detected / events : null, mean_delay_windows: detected ? delaySum / detected : null, max_delay_windows: delayMax };
}

/** A plot-sized view of consecutive windows: per bucket the largest smoothed score, whether any alarm and any label fell in it. */
export interface ScoreTimeline {
  /** windows per point */
  bucket: number;
  max_score: number[];
  alarm: number[];
  label: number[] | null;
}

export function scoreTimeline(smoothed: ArrayLike<number>, alarms: ArrayLike<number>, labels: ArrayLike<number> | undefined, maxPoints = 500): ScoreTimeline {
  const bucket = Math.max(1, Math.ceil(smoothed.length / maxPoints));
  const points = Math.ceil(smoothed.length / bucket);
  const max_score = new Array<number>(points).fill(-Infinity);
  const alarm = new Array<number>(points).fill(0);
  const label = labels ? new Array<number>(points).fill(0) : null;
  for (let i = 0; i < smoothed.length; i++) {
    const p = Math.floor(i / bucket);
    if (smoothed[i]! > max_score[p]!) max_score[p] = smoothed[i]!;
    if (alarms[i]) alarm[p] = 1;
    if (label && labels![i]) label[p] = 1;
  }
  return { bucket, max_score: max_score.map((v) => Math.round(v * 1e6) / 1e6), alarm, label };
}

/** Metrics where a smaller value is better; every other metric is higher-is-better. */
export const LOWER_IS_BETTER = new Set(["val_loss", "loss", "train_loss", "false_alarm_rate", "missed_alarm_rate", "expected_alarm_rate", "latency_ms", "model_bytes", "mae", "mse", "rmse"]);
/** Decision order for the winner; the first metric both models report with a difference decides. */
export const PRIMARY_METRICS = ["f1", "auc_roc", "recall", "precision", "accuracy", "val_loss"];

/**
 * Compare two models on their shared metrics. `advantage[m]` is the winner's margin on
 * metric m, signed so that a positive value means the winner is better on m (for
 * lower-is-better metrics the sign is flipped). The winner is decided by the first metric in
 * PRIMARY_METRICS both report that differs; failing that by the count of metrics each is
 * better on; a full tie goes to `a`.
 */
export function compareModels(a: { id: string; metrics: Record<string, number> }, b: { id: string; metrics: Record<string, number> }): { winner: string; advantage: Record<string, number> } {
  const shared = Object.keys(a.metrics).filter((k) => k in b.metrics && Number.isFinite(a.metrics[k]) && Number.isFinite(b.metrics[k]));
  const better = (k: string) => {
    const d = a.metrics[k]! - b.metrics[k]!;
    return LOWER_IS_BETTER.has(k) ? -d : d; // > 0 ⇒ a better
  };
  let aWins: boolean | undefined;
  for (const k of PRIMARY_METRICS) {
    if (!shared.includes(k)) continue;
    const d = better(k);
    if (d !== 0) {
      aWins = d > 0;
      break;
    }
  }
  if (aWins === undefined) {
    let score = 0;
    for (const k of shared) score += Math.sign(better(k));
    aWins = score >= 0;
  }
  const advantage: Record<string, number> = {};
  for (const k of shared) advantage[k] = aWins ? better(k) : -better(k);
  return { winner: aWins ? a.id : b.id, advantage };
}
