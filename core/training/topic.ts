/**
 * Makes `run:<id>` subscribable (only the calling tenant's own runs resolve)
 * and builds its snapshot: the run as GET /training/:id answers it, its last epochs as
 * `epoch_update` events and, once it is over, its `training_complete` or
 * `training_failed` event, in the shapes the worker publishes them.
 * Reads the entities directly so the WebSocket functions don't load the ML engine.
 */
import { useTenant } from "../actor";
import { notFound } from "../error";
import type { RealtimeEvent } from "../realtime";
import { EpochUpdate, message, TrainingComplete, TrainingFailed } from "../realtime/events";
import { registerTopic, type Snapshot } from "../realtime/topics";
import { EpochEntity, type EpochItem } from "./entities/epoch";
import { TrainingRunEntity, type TrainingRunItem } from "./entities/run";
import { serialize } from "./info";

/** At most this many epochs are replayed; `training_complete.final_metrics` still covers every epoch. */
export const SNAPSHOT_EPOCHS = 50;

async function findRun(id: string, options: { consistent?: boolean } = {}): Promise<TrainingRunItem> {
  const run = await TrainingRunEntity.get({ tenantId: useTenant(), runId: id }).go(options);
  if (!run.data) throw notFound("training_run", id);
  return run.data;
}

const isOver = (run: TrainingRunItem) => run.status === "completed" || run.status === "failed" || run.status === "stopped";

/** The epoch records are written with -1 for a non-finite loss; the live event carries it as null (JSON of NaN). */
const loss = (value: number) => (value < 0 ? null : value);

/** The run's epoch records in order: all of them for a finished run, else the last SNAPSHOT_EPOCHS (plus one to time the first). */
async function epochsOf(run: TrainingRunItem): Promise<EpochItem[]> {
  const key = { tenantId: run.tenantId, runId: run.runId };
  if (isOver(run)) return (await EpochEntity.query.byRun(key).go({ pages: "all", consistent: true })).data;
  const latest = await EpochEntity.query.byRun(key).go({ order: "desc", limit: SNAPSHOT_EPOCHS + 1, consistent: true });
  return latest.data.reverse();
}

function epochUpdate(run: TrainingRunItem, epoch: EpochItem, previous: EpochItem | undefined): RealtimeEvent {
  const perEpoch = epoch.elapsedSeconds / epoch.epoch;
  return message(EpochUpdate, {
    current_epoch: epoch.epoch,
    total_epochs: run.totalEpochs,
    train_loss: loss(epoch.trainLoss),
    val_loss: loss(epoch.valLoss),
    best_val_loss: loss(epoch.bestValLoss),
    learning_rate: epoch.learningRate,
    elapsed_seconds: Math.round(epoch.elapsedSeconds * 10) / 10,
    // The worker's estimate at that epoch is not stored; this one uses the mean epoch time so far.
    estimated_remaining_seconds: Math.round(perEpoch * Math.max(0, run.totalEpochs - epoch.epoch)),
    epoch_seconds: Math.round((epoch.epochSeconds ?? epoch.elapsedSeconds - (previous?.elapsedSeconds ?? 0)) * 10) / 10,
    ...(epoch.setupSeconds === undefined ? {} : { setup_seconds: Math.round(epoch.setupSeconds * 10) / 10 }),
    ended_at: epoch.recordedAt ?? null,
    ...(epoch.candidate ? { candidate: epoch.candidate, candidate_epoch: epoch.candidateEpoch } : {}),
    run_id: run.runId,
  });
}

/** The event that ended the run, as the worker published it (`final_metrics` from the epoch records). */
function finalEvent(run: TrainingRunItem, epochs: EpochItem[]): RealtimeEvent {
  const base = { current_epoch: run.currentEpoch ?? 0, total_epochs: run.totalEpochs, run_id: run.runId };
  if (run.status === "failed") return message(TrainingFailed, { status: "failed", error: run.error ?? null, ...base });
  return message(TrainingComplete, {
    status: run.status === "completed" ? "completed" : "stopped",
    ...base,
    best_val_loss: run.bestValLoss ?? null,
    final_metrics: epochs.map((epoch) => ({ train_loss: loss(epoch.trainLoss), val_loss: loss(epoch.valLoss) })),
    model_id: run.modelId ?? null,
    ...(run.status === "completed" ? { evaluation_id: run.evaluationId ?? null } : {}),
    training_time_seconds: Math.round((run.trainingTimeSeconds ?? 0) * 10) / 10,
  });
}

/** A run's snapshot for a new `run:<id>` subscriber. @throws training_run.not_found for another tenant's run */
export async function runSnapshot(id: string): Promise<Snapshot> {
  // Strongly consistent reads: the subscription was stored just before, and a write that happened before it must show.
  const run = await findRun(id, { consistent: true });
  const epochs = await epochsOf(run);
  const replayed = epochs.slice(-SNAPSHOT_EPOCHS);
  const first = epochs.length - replayed.length;
  const events = replayed.map((epoch, index) => epochUpdate(run, epoch, epochs[first + index - 1]));
  if (isOver(run)) events.push(finalEvent(run, epochs));
  return { state: serialize(run), events };
}

registerTopic("run", { find: findRun, snapshot: runSnapshot });
