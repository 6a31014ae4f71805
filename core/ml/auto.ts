/**
 * `architecture: "auto"`: every candidate trained on the same data and split,
 * then judged on the same held-out rows with the alarms each would raise.
 * With labels in the test split the judge is the labels (F1, then AUC-PR);
 * without, the detection rate of faults injected into the held-out rows
 * (validation and test; inject.ts) minus the false-alarm rate on the test rows
 * as they are (the validation rows calibrated the threshold, so never alarm).
 */
import { DomainError } from "../error";
import { validateData, type TrainingData } from "./data";
import { splitBounds } from "./data";
import { chooseHyperparameters, type DataShape } from "./defaults";
import { metricsOf } from "./evaluate";
import { injectFaults } from "./inject";
import { score } from "./io";
import { chunkedFromMemory, isChunked, type ChunkedData } from "./stream";
import { z } from "zod";
import { Architecture, HyperparametersGiven, type ArchitectureT, type HyperparametersGivenT } from "./schema";
import { train, type EpochEvent, type TrainOptions, type TrainResult } from "./train";

/** Candidates of an unlabelled dataset; sentinel joins when the data has labels. */
export const AUTO_CANDIDATES: readonly ArchitectureT[] = ["lstm_autoencoder", "gru_predictor", "pca", "kmeans", "iforest"];
/** Held-out rows the candidates are judged on at most. */
export const JUDGED_ROWS = 20_000;
/** Placements of the injected faults (each a different sensor draw). */
const INJECTION_SEEDS = [17, 29, 43, 61, 79, 97];

/** One candidate's figures on the leaderboard (the schema the API answers them with). */
export const CandidateFigures = z.object({
  candidate: Architecture,
  status: z.enum(["trained", "failed", "not_run"]),
  /** 1 = the winner; null when not trained */
  rank: z.number().nullable(),
  judged_on: z.enum(["labels", "injected_faults"]),
  f1: z.number().nullable(),
  /** on held-out normal rows (labels: rows labelled normal) */
  false_alarm_rate: z.number().nullable(),
  missed_alarm_rate: z.number().nullable(),
  auc_pr: z.number().nullable(),
  /** what the ranking orders by: F1 with labels; detection rate minus false-alarm rate without */
  ranking_score: z.number().nullable(),
  train_seconds: z.number().nullable(),
  epochs: z.number().nullable(),
  error: z.string().nullable(),
});
export type CandidateFigures = z.infer<typeof CandidateFigures>;

export interface AutoEpochEvent extends EpochEvent {
  candidate: ArchitectureT;
  /** the candidate's own epoch number (`epoch` counts over all candidates) */
  candidate_epoch: number;
}

export interface AutoOptions extends Omit<TrainOptions, "architecture" | "onEpoch" | "checkpoint" | "onCheckpoint"> {
  candidates?: readonly ArchitectureT[];
  onEpoch?: (event: AutoEpochEvent) => void | Promise<void>;
  /** after each candidate, with the leaderboard so far */
  onCandidate?: (candidate: ArchitectureT, leaderboard: CandidateFigures[]) => void | Promise<void>;
}

export interface AutoResult {
  winner: ArchitectureT;
  result: TrainResult;
  /** every trained candidate's result (for keeping another one as a model) */
  results: Map<ArchitectureT, TrainResult>;
  leaderboard: CandidateFigures[];
  ranking_rule: string;
  stopped: boolean;
}

/**
 * The held-out rows (validation and test splits, with the rows the first window
 * needs), capped at JUDGED_ROWS; `testFrom` is where the test split starts in them.
 */
async function heldOut(data: ChunkedData, seq: number): Promise<{ columns: Float32Array[]; labels?: Uint8Array; firstScored: number; testFrom: number }> {
  const bounds = splitBounds(data.rows, seq);
  const from = bounds.val[0] - seq + 1;
  const to = Math.min(bounds.test[1], bounds.val[0] + JUDGED_ROWS);
  const columns = data.features.map(() => new Float32Array(to - from));
  const labels = data.labelled ? new Uint8Array(to - from) : undefined;
  for (let chunk = Math.floor(from / data.chunkRows); chunk * data.chunkRows < to; chunk++) {
    const start = chunk * data.chunkRows;
    const read = await data.read(chunk);
    const lo = Math.max(from, start);
    const hi = Math.min(to, start + read.columns[0]!.length);
    read.columns.forEach((column, f) => columns[f]!.set(column.subarray(lo - start, hi - start), lo - from));
    if (labels && read.labels) labels.set(read.labels.subarray(lo - start, hi - start), lo - from);
  }
  return { columns, labels, firstScored: seq - 1, testFrom: Math.min(to, bounds.test[0]) - from };
}

function trainingSpread(result: TrainResult, features: number): number[] {
  const normalisation = JSON.parse(result.metadata.normalisation ?? "{}") as { std?: number[] };
  return normalisation.std ?? new Array<number>(features).fill(1);
}

/** The candidates of a dataset: sentinel joins when it has labels. */
export function candidatesFor(labelled: boolean): readonly ArchitectureT[] {
  return labelled ? [...AUTO_CANDIDATES, "sentinel"] : AUTO_CANDIDATES;
}

/**
 * What every candidate shares (the windows, so the split and the held-out rows)
 * and the epochs each plans; the rest each candidate chooses from the data.
 */
export function autoPlan(shape: DataShape, given: HyperparametersGivenT, candidates: readonly ArchitectureT[]) {
  const chosen = chooseHyperparameters("lstm_autoencoder", shape, given);
  const common: HyperparametersGivenT = { ...given, sequence_length: chosen.hyperparameters.sequence_length };
  const planned = new Map(candidates.map((c) => [c, chooseHyperparameters(c, shape, common).hyperparameters.epochs]));
  const because: Record<string, string> = {};
  if (chosen.chosen_because.sequence_length) because.sequence_length = `${chosen.chosen_because.sequence_length}; the same for every candidate`;
  because.architecture = `every candidate (${candidates.join(", ")}) trains with the rest of its hyperparameters chosen from the data`;
  return { common, planned, totalEpochs: [...planned.values()].reduce((a, b) => a + b, 0), chosen_because: because };
}

/** Trains every candidate and ranks them; the winner's result is the run's model. */
export async function trainAuto(options: AutoOptions): Promise<AutoResult> {
  if (!isChunked(options.data)) validateData(options.data as TrainingData);
  const data = isChunked(options.data) ? options.data : chunkedFromMemory(options.data, options.chunkRows);
  const given = HyperparametersGiven.parse(options.hyperparameters ?? {});
  const shape = { rows: data.rows, features: data.features.length, samplingIntervalSeconds: data.samplingIntervalSeconds };
  const candidates = options.candidates ?? candidatesFor(data.labelled);
  const { common, planned } = autoPlan(shape, given, candidates);
  const seq = common.sequence_length!;
  const startedAt = options.startedAt ?? performance.now();

  const results = new Map<ArchitectureT, TrainResult>();
  const board = new Map<ArchitectureT, CandidateFigures>(
    candidates.map((candidate) => [
      candidate,
      { candidate, status: "not_run", rank: null, judged_on: "injected_faults", f1: null, false_alarm_rate: null, missed_alarm_rate: null, auc_pr: null, ranking_score: null, train_seconds: null, epochs: null, error: null },
    ]),
  );
  let offset = 0;
  let stopped = false;
  let judge: Awaited<ReturnType<typeof heldOut>> | undefined;
  for (const [index, candidate] of candidates.entries()) {
    const remaining = candidates.slice(index + 1).reduce((sum, c) => sum + planned.get(c)!, 0);
    const began = performance.now();
    let result: TrainResult;
    try {
      result = await train({
        ...options,
        architecture: candidate,
        hyperparameters: common,
        data,
        startedAt,
        onEpoch: (event) =>
          options.onEpoch?.({
            ...event,
            epoch: offset + event.epoch,
            total_epochs: offset + event.total_epochs + remaining,
            candidate,
            candidate_epoch: event.epoch,
          }),
      });
    } catch (error) {
      if (!(error instanceof DomainError) || error.kind !== "invalid") throw error;
      Object.assign(board.get(candidate)!, { status: "failed", error: `${error.code}: ${error.message}` });
      await options.onCandidate?.(candidate, [...board.values()]);
      continue;
    }
    offset += result.epochsRun;
    results.set(candidate, result);
    judge ??= await heldOut(data, seq);
    Object.assign(board.get(candidate)!, { status: "trained", train_seconds: (performance.now() - began) / 1000, epochs: result.epochsRun }, await figures(result, judge, data.features.length));
    rank(board);
    await options.onCandidate?.(candidate, [...board.values()]);
    if (result.stopped) {
      stopped = true;
      break;
    }
  }
  const leaderboard = [...board.values()].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity));
  const winner = leaderboard[0];
  if (!winner || winner.rank === null) {
    const reasons = leaderboard.map((c) => `${c.candidate}: ${c.error ?? c.status}`).join("; ");
    throw new DomainError("invalid", "training.no_candidate", `No candidate could be trained (${reasons})`, { leaderboard });
  }
  return {
    winner: winner.candidate,
    result: results.get(winner.candidate)!,
    results,
    leaderboard,
    ranking_rule: winner.judged_on === "labels"
      ? "F1 of the alarms on the held-out labelled rows, then AUC-PR, then the lower false-alarm rate"
      : "detection rate of faults injected into the held-out normal rows (drift, stuck sensor, spikes, step, noise burst, 3 × each sensor's spread) minus the false-alarm rate on those rows without faults, then AUC-PR",
    stopped,
  };
}

async function figures(result: TrainResult, judge: Awaited<ReturnType<typeof heldOut>>, features: number): Promise<Partial<CandidateFigures>> {
  const seq = result.hyperparameters.sequence_length;
  const skip = judge.firstScored - (seq - 1);
  const columns = judge.columns.map((column) => column.subarray(skip));
  // labels and false alarms are read on the test split only: the validation split calibrated the threshold
  const testWindow = judge.testFrom - judge.firstScored;
  const labels = judge.labels?.subarray(judge.testFrom);
  const labelled = labels !== undefined && labels.some((v) => v === 1) && labels.some((v) => v === 0);
  const scored = await score(result.model, columns);
  const clean = { flags: scored.flags.subarray(testWindow), smoothed: scored.smoothed.subarray(testWindow) };
  if (labelled) {
    const { metrics } = metricsOf(clean.flags, labels, clean.smoothed);
    return {
      judged_on: "labels",
      f1: metrics.f1,
      false_alarm_rate: metrics.false_alarm_rate,
      missed_alarm_rate: metrics.missed_alarm_rate,
      auc_pr: finite(metrics.auc_pr),
      ranking_score: metrics.f1,
    };
  }
  // faults of up to 3 windows, short enough that a small held-out part still holds four of them
  const length = Math.max(5, Math.min(3 * seq, Math.floor(columns[0]!.length / 8)));
  // the same injections for every candidate (fixed seeds), several placements so one sensor does not decide
  const spread = trainingSpread(result, features);
  const runs = [];
  for (const seed of INJECTION_SEEDS) {
    const injected = injectFaults(columns, spread, { length, seed });
    const faulty = await score(result.model, injected.columns);
    runs.push(metricsOf(faulty.flags, injected.labels.subarray(seq - 1), faulty.smoothed).metrics);
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  let alarms = 0;
  for (const flag of clean.flags) alarms += flag;
  const aucs = runs.map((m) => m.auc_pr).filter(Number.isFinite);
  const falseAlarmRate = clean.flags.length ? alarms / clean.flags.length : 0;
  const missed = mean(runs.map((m) => m.missed_alarm_rate));
  return {
    judged_on: "injected_faults",
    f1: mean(runs.map((m) => m.f1)),
    false_alarm_rate: falseAlarmRate,
    missed_alarm_rate: missed,
    auc_pr: aucs.length ? mean(aucs) : null,
    // half the rows of an injected run are faults, so F1 barely notices a model that alarms everywhere
    ranking_score: 1 - missed - falseAlarmRate,
  };
}

const finite = (value: number) => (Number.isFinite(value) ? value : null);

/** Ranks trained candidates: higher ranking score, then higher AUC-PR, then lower false-alarm rate. */
function rank(board: Map<ArchitectureT, CandidateFigures>): void {
  const trained = [...board.values()].filter((c) => c.status === "trained");
  trained.sort(
    (a, b) => (b.ranking_score ?? -Infinity) - (a.ranking_score ?? -Infinity) || (b.auc_pr ?? 0) - (a.auc_pr ?? 0) || (a.false_alarm_rate ?? 1) - (b.false_alarm_rate ?? 1),
  );
  trained.forEach((candidate, i) => (candidate.rank = i + 1));
}
