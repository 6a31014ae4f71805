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
  metrics: { accuracy: number; precision: number; recall: number; f1: number; auc_roc: number } | null;
  confusion_matrix: ConfusionMatrix | null;
  /** test-split score distribution */
  score_distribution: ScoreDistribution;
  validation_score_distribution: ScoreDistribution;
  /** fraction of test windows above the threshold (stride-1 windows) */
  expected_alarm_rate: number;
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

/** Quantile used by the threshold rule. */
export const THRESHOLD_QUANTILE = 0.99;

/**
 * Threshold rule.
 * - Reconstruction / forecast models (lstm_autoencoder, gru_predictor): the 99th
 *   percentile of the validation-split window scores (stride 1), using only windows
 *   labelled normal when labels exist. It makes no distributional assumption (scores
 *   are skewed, so mean + k·std is unreliable), is insensitive to a few extreme
 *   validation windows, and fixes the expected false-alarm rate on normal data near 1%.
 * - sentinel (and gru_predictor trained with loss "bce"; pass "sentinel" for any supervised
 *   model): 0.5 on the predicted failure probability (the model is trained with
 *   class-balanced BCE, so 0.5 is the balanced decision point).
 */
export function chooseThreshold(architecture: string, valScores: ArrayLike<number>, valLabels?: ArrayLike<number>): { threshold: number; rule: string } {
  if (architecture === "sentinel") return { threshold: 0.5, rule: "sentinel: failure probability > 0.5 (class-balanced BCE decision point)" };
  const normal: number[] = [];
  for (let i = 0; i < valScores.length; i++) if (!valLabels || !valLabels[i]) normal.push(valScores[i]!);
  const use = normal.length >= 10 ? normal : Array.from(valScores);
  const s = Float64Array.from(use).sort();
  return {
    threshold: quantile(s, THRESHOLD_QUANTILE),
    rule: `p${THRESHOLD_QUANTILE * 100} of validation window scores${valLabels ? " (windows labelled normal)" : ""}; score > threshold ⇒ anomaly`,
  };
}

export function confusion(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): ConfusionMatrix {
  const cm = { true_positive: 0, false_positive: 0, true_negative: 0, false_negative: 0 };
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i]! > threshold;
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

export function classificationMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number) {
  const cm = confusion(scores, labels, threshold);
  const { true_positive: tp, false_positive: fp, true_negative: tn, false_negative: fn } = cm;
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const total = tp + fp + tn + fn;
  return { cm, metrics: { accuracy: total ? (tp + tn) / total : 0, precision, recall, f1, auc_roc: aucRoc(scores, labels) } };
}

/** Metrics where a smaller value is better; every other metric is higher-is-better. */
export const LOWER_IS_BETTER = new Set(["val_loss", "loss", "train_loss", "false_alarm_rate", "expected_alarm_rate", "latency_ms", "model_bytes", "mae", "mse", "rmse"]);
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
