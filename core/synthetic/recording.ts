/**
 * A labelled test-bench recording shaped like the ones operators bring first: a
 * water pump's 8 correlated sensors sampled at 1 Hz, a normal stretch at the
 * start (the part a user uploads to train on), then normal running interrupted
 * by faults (a valve closing, cavitation, rotor imbalance), each marked 1 in
 * `labels`. Deterministic for a seed; used by the quality tests and benchmarks.
 */
import { Rng } from "../ml/rng";

export const RECORDING_SENSORS = [
  "accelerometer1_rms",
  "accelerometer2_rms",
  "current",
  "pressure",
  "temperature",
  "thermocouple",
  "voltage",
  "volume_flow_rate",
] as const;

export type RecordingFault = "valve" | "cavitation" | "imbalance";
export const RECORDING_FAULTS: readonly RecordingFault[] = ["valve", "cavitation", "imbalance"];

export interface RecordingOptions {
  /** Rows in all (default 1,200). */
  rows?: number;
  /** Fault-free rows at the start (default 400). */
  normalRows?: number;
  /** Default 1. */
  seed?: number;
  /** Faults to cycle through after the normal start (default all three). */
  faults?: readonly RecordingFault[];
}

export interface Recording {
  features: string[];
  columns: Float32Array[];
  /** 1 on every row of a fault. */
  labels: Uint8Array;
  samplingIntervalSeconds: number;
  normalRows: number;
  /** Fault segments as [first row, last row + 1). */
  segments: { fault: RecordingFault; from: number; to: number }[];
}

function gaussian(rng: Rng): number {
  const u = Math.max(1e-12, rng.next());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** One pump run: normal for `normalRows`, then stretches of normal running and faults in turn. */
export function pumpRecording(options: RecordingOptions = {}): Recording {
  const rows = options.rows ?? 1_200;
  const normalRows = options.normalRows ?? 400;
  const rng = new Rng(options.seed ?? 1);
  const faults = options.faults ?? RECORDING_FAULTS;

  // Fault segments after the normal start: 60–240 s of normal running, then 80–200 s of a fault.
  const segments: Recording["segments"] = [];
  let at = normalRows;
  let next = rng.int(faults.length);
  for (;;) {
    const from = at + 60 + rng.int(181);
    const to = from + 80 + rng.int(121);
    if (to > rows - 20) break;
    segments.push({ fault: faults[next % faults.length]!, from, to });
    next++;
    at = to;
  }
  const faultAt = new Array<RecordingFault | undefined>(rows).fill(undefined);
  const labels = new Uint8Array(rows);
  for (const segment of segments)
    for (let t = segment.from; t < segment.to; t++) {
      faultAt[t] = segment.fault;
      labels[t] = 1;
    }

  const columns = RECORDING_SENSORS.map(() => new Float32Array(rows));
  // Latent state: pump load (AR(1) wander around 1, time constant 10 s, plus a 5-minute oscillation) and
  // coolant temperature (time constant 30 s): normal running varies, and the normal start shows how.
  let load = 0;
  let heat = 0;
  let onset = 0;
  const phase = rng.next() * 2 * Math.PI;
  for (let t = 0; t < rows; t++) {
    load = 0.9 * load + 0.02 * gaussian(rng);
    heat = 0.97 * heat + 0.035 * gaussian(rng);
    const L = 1 + load + 0.04 * Math.sin((2 * Math.PI * t) / 300 + phase);
    const fault = faultAt[t];
    onset = fault ? Math.min(1, onset + 1 / 15) : 0;
    // valve: the line closes part-way, so flow falls while pressure and (less) current rise at the same load
    const valve = fault === "valve" ? 1 - 0.3 * onset : 1;
    // cavitation: vapour bubbles make vibration and flow noisy and the delivered pressure sag
    const cavitation = fault === "cavitation" ? onset : 0;
    // imbalance: a once-per-revolution vibration on the first accelerometer, beating slowly
    const imbalance = fault === "imbalance" ? onset * (0.6 + 0.4 * Math.sin((2 * Math.PI * t) / 23)) : 0;
    const noise = (sigma: number) => sigma * gaussian(rng);
    columns[0]![t] = 0.21 + 0.05 * L + 0.04 * imbalance + noise(0.004 * (1 + 4 * cavitation));
    columns[1]![t] = 0.26 + 0.04 * L + 0.015 * imbalance + noise(0.004 * (1 + 4 * cavitation));
    columns[2]![t] = 1.9 + 0.6 * L * (0.93 + 0.07 * valve) + noise(0.015);
    columns[3]![t] = 0.7 + 0.3 * L / valve - 0.05 * cavitation + noise(0.008 * (1 + 2 * cavitation));
    columns[4]![t] = 70 + 0.6 * heat + 0.8 * (L - 1) + noise(0.05);
    columns[5]![t] = 24 + 0.7 * heat + noise(0.06);
    columns[6]![t] = 229 + noise(0.4);
    columns[7]![t] = 32 * L * valve * (1 - 0.06 * cavitation) + noise(0.25 * (1 + 3 * cavitation));
  }
  return { features: [...RECORDING_SENSORS], columns, labels, samplingIntervalSeconds: 1, normalRows, segments };
}

/** The first `rows` rows of a recording as a training upload (no labels: operators rarely have them). */
export function head(recording: Recording, rows = recording.normalRows): { features: string[]; columns: Float32Array[]; samplingIntervalSeconds: number } {
  return { features: recording.features, columns: recording.columns.map((c) => c.slice(0, rows)), samplingIntervalSeconds: recording.samplingIntervalSeconds };
}

/**
 * The rows after the training part, with the `seq - 1` rows before them that the
 * first window needs: scoring these gives one window per later row (the window
 * ending at it), and `labels[i]` is the label of the row window i ends at.
 */
export function afterTraining(recording: Recording, seq: number): { columns: Float32Array[]; labels: Uint8Array } {
  const from = recording.normalRows - seq + 1;
  return { columns: recording.columns.map((c) => c.subarray(from)), labels: recording.labels.subarray(recording.normalRows) };
}
