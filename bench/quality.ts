/**
 * Model quality on a user's first recording and on a day of data: every
 * architecture and baseline trained with the defaults Flint chooses, next to the
 * previous fixed defaults, judged row by row (F1, false-alarm rate, missed-alarm
 * rate, AUC-PR of the alarms Flint raises) on the generated pump recordings of
 * core/synthetic/recording.ts, with training time and time to the first epoch.
 *
 *   npx tsx bench/quality.ts [--small-only]
 */
import { fileURLToPath } from "node:url";
import { score, train, trainAuto, type ArchitectureT, type HyperparametersGivenT } from "../core/ml";
import { metricsOf } from "../core/ml/evaluate";
import { afterTraining, head, pumpRecording } from "../core/synthetic/recording";

/** What a run trained with before data-aware defaults (a fixed set, whatever the data). */
const PREVIOUS_DEFAULTS: HyperparametersGivenT = {
  sequence_length: 60,
  stride: 10,
  batch_size: 64,
  epochs: 20,
  hidden_dim: 64,
  bottleneck_dim: 32,
  num_layers: 2,
  dropout: 0.1,
  learning_rate: 0.001,
  patience: 10,
  smoothing_windows: 1,
  persistence_n: 1,
  persistence_m: 1,
};

interface Candidate {
  name: string;
  architecture: ArchitectureT | "auto";
  hyperparameters?: HyperparametersGivenT;
}

const CANDIDATES: Candidate[] = [
  { name: "lstm_autoencoder", architecture: "lstm_autoencoder" },
  { name: "lstm_autoencoder (previous defaults)", architecture: "lstm_autoencoder", hyperparameters: PREVIOUS_DEFAULTS },
  { name: "gru_predictor", architecture: "gru_predictor" },
  { name: "pca", architecture: "pca" },
  { name: "kmeans", architecture: "kmeans" },
  { name: "iforest", architecture: "iforest" },
  { name: "auto (its pick, without labels)", architecture: "auto" },
];

interface Row {
  data: string;
  model: string;
  f1: number;
  far: number;
  mar: number;
  auc_pr: number;
  f1_int8: number;
  train_s: number;
  first_epoch_s: number;
  /** of the first epoch, graph building and ONNX Runtime session creation */
  setup_s: number;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Trains `candidate` on each recording's normal start and judges the rows after it. */
async function judge(data: string, candidate: Candidate, recordings: ReturnType<typeof pumpRecording>[]): Promise<Row> {
  const figures: Omit<Row, "data" | "model">[] = [];
  for (const recording of recordings) {
    const started = performance.now();
    let firstEpoch = NaN;
    let setup = NaN;
    const onEpoch = (event: { epoch: number; elapsed_seconds: number; setup_seconds: number }) => {
      if (event.epoch === 1) {
        firstEpoch = event.elapsed_seconds;
        setup = event.setup_seconds;
      }
    };
    const result =
      candidate.architecture === "auto"
        ? (await trainAuto({ hyperparameters: candidate.hyperparameters, data: head(recording), onEpoch })).result
        : await train({ architecture: candidate.architecture, hyperparameters: candidate.hyperparameters, data: head(recording), onEpoch });
    const trainSeconds = (performance.now() - started) / 1000;
    const later = afterTraining(recording, result.hyperparameters.sequence_length);
    const [float, int8] = await Promise.all([score(result.model, later.columns), score(result.quantizedModel, later.columns)]);
    const m = metricsOf(float.flags, later.labels, float.smoothed).metrics;
    figures.push({
      f1: m.f1,
      far: m.false_alarm_rate,
      mar: m.missed_alarm_rate,
      auc_pr: m.auc_pr,
      f1_int8: metricsOf(int8.flags, later.labels, int8.smoothed).metrics.f1,
      train_s: trainSeconds,
      first_epoch_s: firstEpoch,
      setup_s: setup,
    });
  }
  const round = (value: number, digits = 3) => Number(value.toFixed(digits));
  return {
    data,
    model: candidate.name,
    f1: round(mean(figures.map((f) => f.f1))),
    far: round(mean(figures.map((f) => f.far))),
    mar: round(mean(figures.map((f) => f.mar))),
    auc_pr: round(mean(figures.map((f) => f.auc_pr))),
    f1_int8: round(mean(figures.map((f) => f.f1_int8))),
    train_s: round(mean(figures.map((f) => f.train_s)), 1),
    first_epoch_s: round(mean(figures.map((f) => f.first_epoch_s)), 2),
    setup_s: round(mean(figures.map((f) => f.setup_s)), 2),
  };
}

export async function benchQuality(options: { smallOnly?: boolean } = {}): Promise<Row[]> {
  const rows: Row[] = [];
  // small: the first hour of a user's first recording, six recordings
  const small = [1, 2, 3, 4, 5, 6].map((seed) => pumpRecording({ seed }));
  for (const candidate of CANDIDATES) rows.push(await judge("400 rows × 6", candidate, small));
  if (!options.smallOnly) {
    // large: a day at 1 Hz of normal running to train on, then faults
    const large = [pumpRecording({ seed: 11, rows: 86_400 + 2_400, normalRows: 86_400 })];
    for (const candidate of CANDIDATES) rows.push(await judge("86,400 rows", candidate, large));
  }
  console.log("Row-level alarms after the training part of generated pump recordings (means over recordings):");
  console.table(rows);
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchQuality({ smallOnly: process.argv.includes("--small-only") });
  process.exit(0);
}
