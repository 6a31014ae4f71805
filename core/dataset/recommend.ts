/**
 * Model recommendations computed from the data itself: how many usable numeric
 * sensors there are, how regular the sampling is, how periodic the signals are
 * (autocorrelation), whether a 0/1 label column exists and how many sequence
 * windows the rows allow. Deterministic: the same dataset always gets the same
 * answer.
 */
import type { Profile } from "./analyze";
import type { Table } from "./columnar";

export const ARCHITECTURES = ["lstm_autoencoder", "gru_predictor", "sentinel"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface Recommendation {
  architecture: Architecture;
  match_score: number;
  use_case: string;
  description: string;
  inputs: string;
  outputs: string;
  inference_result: string;
  hyperparameters: Record<string, number | string>;
  reasons: string[];
}

export interface DataFeatures {
  sensors: string[];
  rows: number;
  label_column: string | null;
  sampling_interval_seconds: number | null;
  sampling_regularity: number | null;
  regular: boolean;
  /** Strongest autocorrelation peak: its period and strength (0..1), if any. */
  period_seconds: number | null;
  periodicity: number;
  sequence_length: number;
  windows: number;
}

const MAX_ACF_POINTS = 4096;
const MAX_ACF_SENSORS = 4;

/** Extracts the features the scores are based on. */
export function features(profile: Profile, table: Table): DataFeatures {
  const sensors = profile.columns.filter((name) => {
    const stats = profile.column_stats[name];
    return (
      profile.column_kinds[name] === "numeric" &&
      name !== profile.label_column &&
      stats !== undefined &&
      stats.count_numeric > 1 &&
      (stats.std ?? 0) > 0
    );
  });
  const interval = profile.sampling_interval_seconds && profile.sampling_interval_seconds > 0 ? profile.sampling_interval_seconds : null;
  const regular = interval !== null && (profile.sampling_regularity ?? 0) >= 0.9 && profile.out_of_order_timestamps === 0;
  const sequenceLength = interval ? Math.min(120, Math.max(30, Math.round(3600 / interval))) : 60;

  // Periodicity: mean ACF of the most variable sensors (normalised), on a block-averaged series.
  const ranked = [...sensors]
    .sort((a, b) => coefficient(profile, b) - coefficient(profile, a) || (a < b ? -1 : 1))
    .slice(0, MAX_ACF_SENSORS);
  const block = Math.max(1, Math.ceil(table.rows / MAX_ACF_POINTS));
  let acfSum: Float64Array | undefined;
  let used = 0;
  for (const name of ranked) {
    const column = table.columns.find((item) => item.name === name);
    if (!column || column.kind !== "numeric") continue;
    const series = blockMeans(column.values, block);
    const acf = autocorrelation(series);
    if (!acf) continue;
    acfSum ??= new Float64Array(acf.length);
    for (let lag = 0; lag < acf.length; lag++) acfSum[lag]! += acf[lag]!;
    used++;
  }
  let periodicity = 0;
  let periodSeconds: number | null = null;
  if (acfSum && used > 0) {
    const acf = acfSum.map((value) => value / used);
    const peak = strongestPeak(acf);
    if (peak) {
      periodicity = Math.max(0, Math.min(1, peak.value));
      periodSeconds = interval ? peak.lag * block * interval : null;
    }
  }
  return {
    sensors,
    rows: profile.row_count,
    label_column: profile.label_column,
    sampling_interval_seconds: interval,
    sampling_regularity: profile.sampling_regularity,
    regular,
    period_seconds: periodSeconds,
    periodicity: round(periodicity, 3),
    sequence_length: sequenceLength,
    windows: Math.max(0, profile.row_count - sequenceLength + 1),
  };
}

function coefficient(profile: Profile, name: string): number {
  const stats = profile.column_stats[name]!;
  const mean = Math.abs(stats.mean ?? 0);
  return (stats.std ?? 0) / (mean > 1e-9 ? mean : 1);
}

function blockMeans(values: Float32Array, block: number): Float64Array {
  const out = new Float64Array(Math.ceil(values.length / block));
  let points = 0;
  for (let start = 0; start < values.length; start += block) {
    let sum = 0;
    let count = 0;
    const end = Math.min(values.length, start + block);
    for (let i = start; i < end; i++) {
      const value = values[i]!;
      if (value === value) {
        sum += value;
        count++;
      }
    }
    // Missing blocks repeat the previous mean so gaps do not look like cycles.
    out[points] = count > 0 ? sum / count : points > 0 ? out[points - 1]! : 0;
    points++;
  }
  return out;
}

/** Normalised autocorrelation for lags 0..n/2, or undefined for a flat series. */
export function autocorrelation(series: Float64Array): Float64Array | undefined {
  const n = series.length;
  if (n < 8) return undefined;
  let mean = 0;
  for (const value of series) mean += value;
  mean /= n;
  let variance = 0;
  for (const value of series) variance += (value - mean) ** 2;
  if (variance <= 1e-12) return undefined;
  const maxLag = Math.floor(n / 2);
  const acf = new Float64Array(maxLag + 1);
  for (let lag = 0; lag <= maxLag; lag++) {
    let sum = 0;
    for (let i = 0; i + lag < n; i++) sum += (series[i]! - mean) * (series[i + lag]! - mean);
    acf[lag] = sum / variance;
  }
  return acf;
}

/** The highest local maximum after the ACF first drops below zero (a true cycle, not persistence). */
export function strongestPeak(acf: Float64Array): { lag: number; value: number } | undefined {
  let lag = 1;
  while (lag < acf.length && acf[lag]! > 0) lag++;
  let best: { lag: number; value: number } | undefined;
  for (; lag < acf.length - 1; lag++) {
    const value = acf[lag]!;
    if (value > acf[lag - 1]! && value >= acf[lag + 1]! && value > 0.1 && (!best || value > best.value)) best = { lag, value };
  }
  return best;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function clampScore(value: number): number {
  return round(Math.min(0.99, Math.max(0.05, value)), 2);
}

function describePeriod(seconds: number): string {
  if (Math.abs(seconds - 86_400) / 86_400 < 0.1) return "a daily cycle";
  if (Math.abs(seconds - 604_800) / 604_800 < 0.1) return "a weekly cycle";
  if (seconds >= 3600) return `a ${round(seconds / 3600, 1)} h cycle`;
  return `a ${Math.round(seconds / 60)} min cycle`;
}

/** Scores the three architectures for the data; sorted best first (ties by name). */
export function recommend(data: DataFeatures): Recommendation[] {
  const sensorCount = data.sensors.length;
  const sensorsText = `${sensorCount} sensor column${sensorCount === 1 ? "" : "s"}`;
  const seq = data.sequence_length;
  const facts = {
    sensors: `${sensorCount} numeric sensor column${sensorCount === 1 ? "" : "s"} with variation`,
    regular: data.regular
      ? `regular sampling every ${data.sampling_interval_seconds} s (${Math.round((data.sampling_regularity ?? 0) * 100)}% of intervals match)`
      : data.sampling_interval_seconds
        ? `irregular sampling (only ${Math.round((data.sampling_regularity ?? 0) * 100)}% of intervals match the median of ${data.sampling_interval_seconds} s)`
        : "no usable timestamp column, so no time structure",
    periodic:
      data.periodicity >= 0.3 && data.period_seconds
        ? `strong periodicity: ${describePeriod(data.period_seconds)} (autocorrelation ${data.periodicity})`
        : data.periodicity >= 0.3
          ? `strong periodicity (autocorrelation ${data.periodicity})`
          : `weak periodicity (autocorrelation ${data.periodicity})`,
    windows: `${data.windows} windows of ${seq} steps available`,
    label: data.label_column
      ? `0/1 label column '${data.label_column}' available to calibrate the alert threshold`
      : "no label column: unsupervised training",
  };

  let lstm = 0.6;
  const lstmReasons: string[] = [facts.sensors];
  if (sensorCount >= 3) lstm += 0.15;
  else lstm -= 0.15;
  lstmReasons.push(facts.regular);
  lstm += data.regular ? 0.1 : -0.25;
  lstmReasons.push(facts.windows);
  lstm += data.windows >= 5000 ? 0.1 : data.windows >= 500 ? 0 : -0.3;
  if (!data.label_column) {
    lstm += 0.04;
    lstmReasons.push(facts.label);
  }

  let gru = 0.5;
  const gruReasons: string[] = [facts.periodic];
  gru += 0.3 * Math.min(1, data.periodicity);
  gruReasons.push(facts.regular);
  gru += data.regular ? 0.1 : -0.3;
  gruReasons.push(facts.windows);
  gru += data.windows >= 10_000 ? 0.08 : data.windows >= 1000 ? 0 : -0.3;
  if (sensorCount === 0) gru -= 0.4;

  let sentinel = 0.55;
  const sentinelReasons: string[] = [facts.sensors];
  if (sensorCount > 0 && sensorCount <= 4) sentinel += 0.05;
  if (data.label_column) {
    sentinel += 0.15;
    sentinelReasons.push(facts.label);
  }
  if (!data.regular) {
    sentinel += 0.15;
    sentinelReasons.push(`${facts.regular}: point-wise scoring does not need evenly spaced rows`);
  }
  if (data.rows < 5000) {
    sentinel += 0.1;
    sentinelReasons.push(`only ${data.rows} rows: a small model fits without overfitting`);
  }
  if (sensorCount === 0) sentinel -= 0.4;

  const hidden = sensorCount > 16 ? 128 : 64;
  const epochs = data.windows > 200_000 ? 50 : 100;
  const recommendations: Recommendation[] = [
    {
      architecture: "lstm_autoencoder",
      match_score: clampScore(lstm),
      use_case: "Anomaly Detection",
      description:
        "Learns the normal joint behaviour of all sensors over time and flags windows it cannot reconstruct.",
      inputs: `${sensorsText}, ${seq}-step sequences`,
      outputs: "Reconstruction error score (0.0-1.0)",
      inference_result: "Real-time anomaly alerts when the score exceeds the calibrated threshold",
      hyperparameters: {
        hidden_dim: hidden,
        bottleneck_dim: hidden / 2,
        num_layers: 2,
        sequence_length: seq,
        dropout: 0.1,
        learning_rate: 0.001,
        batch_size: 64,
        epochs,
      },
      reasons: lstmReasons,
    },
    {
      architecture: "gru_predictor",
      match_score: clampScore(gru),
      use_case: "Forecast-based Anomaly Detection",
      description:
        "Predicts the next reading of every sensor from the recent past; large prediction errors mark abnormal behaviour.",
      inputs: `${sensorsText}, ${seq}-step history`,
      outputs: `Next-step prediction of ${sensorsText} and the prediction error`,
      inference_result: "Alerts when readings deviate from the forecast beyond the threshold",
      hyperparameters: {
        hidden_dim: hidden,
        num_layers: 2,
        sequence_length: seq,
        dropout: 0.1,
        learning_rate: 0.001,
        batch_size: 64,
        epochs,
      },
      reasons: gruReasons,
    },
    {
      architecture: "sentinel",
      match_score: clampScore(sentinel),
      use_case: "Lightweight Edge Monitoring",
      description:
        "A compact per-reading model that scores each row against learned sensor ranges and correlations; runs on the smallest controllers.",
      inputs: `${sensorsText}, one row at a time`,
      outputs: "Anomaly score per reading (0.0-1.0)",
      inference_result: "Immediate alerts per reading, no history buffer needed",
      hyperparameters: {
        hidden_dim: 32,
        num_layers: 1,
        sequence_length: 1,
        learning_rate: 0.001,
        batch_size: 128,
        epochs: 50,
      },
      reasons: sentinelReasons,
    },
  ];
  return recommendations.sort((a, b) => b.match_score - a.match_score || (a.architecture < b.architecture ? -1 : 1));
}
