/**
 * The training worker: what one training-queue message does. Safe under
 * at-least-once delivery:
 *
 * - A run is trained only by the worker holding its lease (leaseOwner,
 *   leaseUntil on the run item, renewed every HEARTBEAT_MS). A duplicate
 *   message finds the lease alive and is acknowledged without training; a
 *   finished run is left alone.
 * - Trainer state is checkpointed to S3 every few epochs. A message
 *   redelivered after its worker died (lease expired) takes the run over and
 *   resumes from the last checkpoint.
 * - The model id derives from the run id and the final status change frees
 *   the slots under a condition, so a run never yields two models or frees
 *   its slots twice.
 */
export * as TrainingWorker from "./worker";

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { withActor } from "../actor";
import { Billing } from "../billing";
import { Dataset } from "../dataset";
import { DomainError, isConditionalFailure } from "../error";
import { Evaluation } from "../evaluation";
import { logger } from "../logger";
import { effectiveStride, splitBounds, train, trainAuto, type AutoResult, type CandidateFigures, type EpochEvent, type HyperparametersT, type TrainResult } from "../ml";
import type { ChunkedData } from "../ml/stream";
import { Model } from "../model";
import { extendVisibility } from "../queue";
import { deleteObject, getObjectBytes, putObject } from "../storage";
import { EpochUpdate, TrainingComplete, TrainingCompletedWebhook, TrainingFailed, TrainingFailedWebhook, type PayloadOf, type WebhookEvent } from "../realtime/events";
import { Webhook } from "../webhook";
import { openTrainingData } from "./data-source";
import { EpochEntity } from "./entities/epoch";
import { TrainingRunEntity, type TrainingRunItem } from "./entities/run";
import { TrainingRun, type TrainMessage } from "./index";
import { LiveChannel } from "./live";
import { finish, getRun } from "./slots";

/** A lease not renewed for this long is considered dead and may be taken over. */
export const LEASE_MS = 15_000;
export const HEARTBEAT_MS = 5_000;
/** The message stays invisible this long after each extension... */
export const VISIBILITY_SECONDS = 60;
/** ...and is extended this often while the worker trains. */
export const VISIBILITY_EVERY_MS = 20_000;
/** How often shouldStop() re-reads the run's stop flag. */
const STOP_POLL_MS = 750;

export type Outcome = "completed" | "stopped" | "failed" | "duplicate" | "finished_already" | "not_started" | "missing" | "lost_lease";

/**
 * One object per checkpointed epoch: the run's record names the object it
 * describes, so a worker killed between writing the state and recording it
 * leaves the record pointing at the previous, complete checkpoint.
 */
export const checkpointKey = (tenantId: string, runId: string, epoch: number) => `tenants/${tenantId}/training/${runId}/checkpoint-${epoch}.bin`;
/** Where an auto run keeps a candidate's files and results. */
export const candidateKey = (tenantId: string, runId: string, candidate: string, file: string) => `tenants/${tenantId}/training/${runId}/candidates/${candidate}/${file}`;

/** An auto run's ranked candidates, as the run records them. */
export interface Leaderboard {
  winner: string | null;
  ranking_rule: string | null;
  candidates: (CandidateFigures & { model_id?: string | null })[];
}

export const modelIdFor = (runId: string) => `mdl_${runId.replace(/^tr_/, "")}`;
export const evaluationIdFor = (runId: string) => `eval_${runId.replace(/^tr_/, "")}`;

/** JSON-safe copy for DynamoDB: non-finite numbers (an undefined AUC, a NaN loss) become null. */
export function finiteOnly<T>(value: T): T {
  if (typeof value === "number") return (Number.isFinite(value) ? value : null) as T;
  if (Array.isArray(value)) return value.map(finiteOnly) as T;
  if (value && typeof value === "object" && !ArrayBuffer.isView(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, finiteOnly(item)])) as T;
  }
  return value;
}

const orUndefined = (value: number) => (Number.isFinite(value) ? value : undefined);

/** Checkpoint every few epochs: each epoch for short runs, at most every 5. */
export function checkpointEvery(totalEpochs: number): number {
  return Math.max(1, Math.min(5, Math.round(totalEpochs / 10)));
}

/** Errors that will not go away on retry: the run fails at once instead of being retried. */
export function isPermanent(error: unknown): boolean {
  return error instanceof DomainError && ["invalid", "not_found", "forbidden", "too_large"].includes(error.kind);
}

/** A reason safe to show the tenant (no stack, bounded). */
export function reasonOf(error: unknown): string {
  if (error instanceof DomainError) return error.message.slice(0, 300);
  const message = error instanceof Error ? error.message : String(error);
  return `Internal error: ${message.split("\n")[0]!.slice(0, 200)}`;
}

export function newOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/** Takes the run's lease if it is free, expired or already ours; undefined when another live worker holds it. */
export async function claimLease(run: Pick<TrainingRunItem, "tenantId" | "runId">, owner: string, now = Date.now()): Promise<TrainingRunItem | undefined> {
  try {
    const result = await TrainingRunEntity.patch({ tenantId: run.tenantId, runId: run.runId })
      .set({ leaseOwner: owner, leaseUntil: now + LEASE_MS })
      .add({ attempts: 1 })
      .where(
        (a, op) =>
          `(${op.eq(a.status, "running")} OR ${op.eq(a.status, "stopping")}) AND (${op.notExists(a.leaseOwner)} OR ${op.lt(a.leaseUntil, now)} OR ${op.eq(a.leaseOwner, owner)})`,
      )
      .go({ response: "all_new" });
    return result.data as TrainingRunItem;
  } catch (error) {
    if (isConditionalFailure(error)) return undefined;
    throw error;
  }
}

async function renewLease(run: Pick<TrainingRunItem, "tenantId" | "runId">, owner: string): Promise<TrainingRunItem | undefined> {
  try {
    const result = await TrainingRunEntity.patch({ tenantId: run.tenantId, runId: run.runId })
      .set({ leaseUntil: Date.now() + LEASE_MS })
      .where((a, op) => op.eq(a.leaseOwner, owner))
      .go({ response: "all_new" });
    return result.data as TrainingRunItem;
  } catch (error) {
    if (isConditionalFailure(error)) return undefined;
    throw error;
  }
}

interface Context {
  receiptHandle?: string;
  owner?: string;
}

/**
 * Trains (or resumes) the run named by `message`. Returns what happened;
 * throws only errors worth retrying (the queue redelivers the message and,
 * after maxReceiveCount, dead-letters it).
 */
export async function runTraining(message: TrainMessage, context: Context = {}): Promise<Outcome> {
  const { tenant_id: tenantId, run_id: runId } = message;
  return withActor({ type: "system", tenantId }, async () => {
    const run = await getRun(tenantId, runId);
    if (!run) return "missing";
    if (TrainingRun.isFinal(run.status)) return "finished_already";
    if (run.status === "queued") return "not_started";
    const owner = context.owner ?? newOwner();
    const claimed = await claimLease(run, owner);
    if (!claimed) {
      logger.info("run is leased by another worker; duplicate message acknowledged", { runId });
      return "duplicate";
    }
    logger.info("run claimed", { runId, attempt: claimed.attempts, checkpointEpoch: claimed.checkpointEpoch });
    const session = new Session(claimed, owner, context.receiptHandle);
    try {
      return await session.execute();
    } catch (error) {
      if (session.lostLease) return "lost_lease";
      if (isPermanent(error)) {
        logger.warn("training failed permanently", { runId, error: error as Error });
        await failRun(claimed, reasonOf(error), { expectOwner: owner });
        return "failed";
      }
      logger.error("training attempt failed; the message will be retried", { runId, error: error as Error });
      // Let the redelivered message take over at once instead of waiting for the lease to expire.
      await TrainingRunEntity.patch({ tenantId, runId })
        .set({ lastError: reasonOf(error), leaseUntil: 0 })
        .where((a, op) => op.eq(a.leaseOwner, owner))
        .go()
        .catch(() => undefined);
      throw error;
    } finally {
      session.close();
    }
  });
}

class Session {
  lostLease = false;
  private stopRequested: boolean;
  private lastStopPoll = 0;
  private timers: NodeJS.Timeout[] = [];
  /** This attempt's training time starts when the worker holds the run, so loading its data counts. */
  private readonly attemptStarted = performance.now();
  private live: LiveChannel;

  constructor(
    private run: TrainingRunItem,
    private owner: string,
    private receiptHandle?: string,
  ) {
    this.stopRequested = run.stopRequested ?? false;
    this.live = new LiveChannel(run.tenantId, run.runId);
    this.timers.push(setInterval(() => void this.heartbeat(), HEARTBEAT_MS));
    if (receiptHandle) this.timers.push(setInterval(() => void this.extend(), VISIBILITY_EVERY_MS));
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  private async heartbeat(): Promise<void> {
    try {
      const renewed = await renewLease(this.run, this.owner);
      if (!renewed) this.lostLease = true;
      else this.stopRequested = renewed.stopRequested ?? false;
    } catch (error) {
      logger.warn("lease renewal failed", { runId: this.run.runId, error: error as Error });
    }
  }

  private async extend(): Promise<void> {
    try {
      await extendVisibility("training", this.receiptHandle!, VISIBILITY_SECONDS);
    } catch (error) {
      logger.warn("could not extend the message's visibility", { runId: this.run.runId, error: error as Error });
    }
  }

  private async shouldStop(): Promise<boolean> {
    if (Date.now() - this.lastStopPoll >= STOP_POLL_MS) {
      this.lastStopPoll = Date.now();
      const current = await getRun(this.run.tenantId, this.run.runId);
      if (!current || current.leaseOwner !== this.owner) this.lostLease = true;
      else this.stopRequested = current.stopRequested ?? false;
    }
    return this.stopRequested || this.lostLease;
  }

  private async onEpoch(event: EpochEvent & { candidate?: string; candidate_epoch?: number }): Promise<void> {
    const { tenantId, runId } = this.run;
    const now = Date.now();
    const update = finiteOnly({
      currentEpoch: event.epoch,
      currentTrainLoss: orUndefined(event.train_loss),
      currentValLoss: orUndefined(event.val_loss),
      bestValLoss: orUndefined(event.best_val_loss),
      learningRate: event.learning_rate,
      trainingTimeSeconds: event.elapsed_seconds,
      setupSeconds: event.setup_seconds,
      estimatedRemainingSeconds: Math.round(event.estimated_remaining_seconds),
      leaseUntil: now + LEASE_MS,
    });
    for (const key of Object.keys(update) as (keyof typeof update)[]) if (update[key] === undefined || update[key] === null) delete update[key];
    // The live event goes out first, alone, so the records do not compete with it for DynamoDB.
    await this.live.publish(EpochUpdate, {
      current_epoch: event.epoch,
      total_epochs: event.total_epochs,
      train_loss: event.train_loss,
      val_loss: event.val_loss,
      best_val_loss: event.best_val_loss,
      learning_rate: event.learning_rate,
      elapsed_seconds: Math.round(event.elapsed_seconds * 10) / 10,
      estimated_remaining_seconds: Math.round(event.estimated_remaining_seconds),
      epoch_seconds: Math.round(event.epoch_seconds * 10) / 10,
      setup_seconds: Math.round(event.setup_seconds * 10) / 10,
      /** When the epoch ended (epoch ms): clients measure delivery latency against it. */
      ended_at: now,
      ...(event.candidate ? { candidate: event.candidate, candidate_epoch: event.candidate_epoch } : {}),
    });
    const [, patched] = await Promise.all([
      EpochEntity.put({
        tenantId,
        runId,
        epoch: event.epoch,
        trainLoss: Number.isFinite(event.train_loss) ? event.train_loss : -1,
        valLoss: Number.isFinite(event.val_loss) ? event.val_loss : -1,
        bestValLoss: Number.isFinite(event.best_val_loss) ? event.best_val_loss : -1,
        learningRate: event.learning_rate,
        elapsedSeconds: event.elapsed_seconds,
        epochSeconds: event.epoch_seconds,
        setupSeconds: event.setup_seconds,
        candidate: event.candidate,
        candidateEpoch: event.candidate_epoch,
      }).go(),
      TrainingRunEntity.patch({ tenantId, runId })
        .set(update)
        .where((a, op) => op.eq(a.leaseOwner, this.owner))
        .go({ response: "all_new" })
        .catch((error: unknown) => {
          if (isConditionalFailure(error)) return undefined;
          throw error;
        }),
    ]);
    if (!patched) this.lostLease = true;
    else this.stopRequested = (patched.data as TrainingRunItem).stopRequested ?? false;
  }

  private async onCheckpoint(state: Uint8Array, epoch: number): Promise<void> {
    if (this.lostLease) return;
    const { tenantId, runId } = this.run;
    const key = checkpointKey(tenantId, runId, epoch);
    await putObject(key, state, "application/octet-stream");
    const recorded = await TrainingRunEntity.patch({ tenantId, runId })
      .set({ checkpointEpoch: epoch, checkpointKey: key })
      .where((a, op) => op.eq(a.leaseOwner, this.owner))
      .go({ response: "all_old" })
      .catch((error: unknown) => {
        if (isConditionalFailure(error)) this.lostLease = true;
        else throw error;
      });
    const previous = recorded ? (recorded.data as Partial<TrainingRunItem>).checkpointKey : undefined;
    if (previous && previous !== key) await deleteObject(previous).catch((error: unknown) => logger.warn("old checkpoint not deleted", { runId, error: error as Error }));
  }

  /** Records an auto run's leaderboard so far (only while this worker holds the run). */
  private async onLeaderboard(leaderboard: Partial<Leaderboard>): Promise<void> {
    if (this.lostLease) return;
    const { tenantId, runId } = this.run;
    await TrainingRunEntity.patch({ tenantId, runId })
      .set({ leaderboard: finiteOnly(leaderboard) })
      .where((a, op) => op.eq(a.leaseOwner, this.owner))
      .go()
      .catch((error: unknown) => {
        if (isConditionalFailure(error)) this.lostLease = true;
        else throw error;
      });
  }

  async execute(): Promise<Outcome> {
    const run = this.run;
    // read chunk by chunk from the columnar copy during training: memory does not grow with the dataset
    const data = await openTrainingData(run.tenantId, run.datasetId);
    const checkpoint = run.checkpointKey ? await getObjectBytes(run.checkpointKey) : undefined;
    logger.info("training data opened", { runId: run.runId, rows: data.rows, features: data.features.length });
    if (this.stopRequested && !checkpoint) {
      await finishStopped(run, this.owner, undefined);
      return "stopped";
    }
    if (checkpoint) logger.info("resuming run from checkpoint", { runId: run.runId, epoch: run.checkpointEpoch });
    const hyperparameters = run.hyperparameters as Parameters<typeof train>[0]["hyperparameters"];
    // "auto" trains every candidate in turn; it is not checkpointed (a crash trains them again)
    const auto =
      run.architecture === "auto"
        ? await trainAuto({
            hyperparameters,
            data,
            startedAt: this.attemptStarted,
            onEpoch: (event) => this.onEpoch(event),
            shouldStop: () => this.shouldStop(),
            onCandidate: (_candidate, leaderboard) => this.onLeaderboard({ candidates: leaderboard }),
          })
        : undefined;
    const result = auto
      ? { ...auto.result, epochsRun: auto.leaderboard.reduce((sum, candidate) => sum + (candidate.epochs ?? 0), 0) }
      : await train({
          architecture: run.architecture as Parameters<typeof train>[0]["architecture"],
          hyperparameters,
          data,
          checkpoint,
          checkpointEvery: checkpointEvery(run.totalEpochs),
          startedAt: this.attemptStarted,
          onEpoch: (event) => this.onEpoch(event),
          shouldStop: () => this.shouldStop(),
          onCheckpoint: (state, epoch) => this.onCheckpoint(state, epoch),
        });
    const trainedAt = performance.now();
    // The run's training time ends when its model is stored: evaluation, export and upload are waited for too.
    const trainingTime = (): TrainingTime => ({
      trainingTimeSeconds: result.elapsedSeconds + (performance.now() - trainedAt) / 1000,
      setupSeconds: result.setupSeconds,
    });
    if (this.lostLease) return "lost_lease";
    if (result.stopped && result.epochsRun === 0) {
      await finishStopped(run, this.owner, undefined, trainingTime());
      return "stopped";
    }
    const model = await storeModel(run, data, result, auto?.winner);
    if (auto) await this.onLeaderboard(await storeCandidates(run, auto, model.modelId));
    if (result.stopped) {
      await finishStopped(run, this.owner, { result, modelId: model.modelId, evaluationId: model.evaluationId }, trainingTime());
      return "stopped";
    }
    await completeRun(run, this.owner, result, model.modelId, model.evaluationId!, trainingTime());
    return "completed";
  }
}

/**
 * An auto run's candidates: each trained one's files and results are kept under
 * the run, so POST /training/:id/leaderboard/:candidate/keep can make it a model.
 */
async function storeCandidates(run: TrainingRunItem, auto: AutoResult, winnerModelId: string): Promise<Leaderboard> {
  await Promise.all(
    [...auto.results].map(async ([candidate, result]) => {
      const { model, quantizedModel, checkpoint: _checkpoint, ...facts } = result;
      await Promise.all([
        putObject(candidateKey(run.tenantId, run.runId, candidate, "model.onnx"), model, "application/octet-stream"),
        putObject(candidateKey(run.tenantId, run.runId, candidate, "model.int8.onnx"), quantizedModel, "application/octet-stream"),
        putObject(candidateKey(run.tenantId, run.runId, candidate, "result.json"), JSON.stringify(finiteOnly(facts)), "application/json"),
      ]);
    }),
  );
  return {
    winner: auto.winner,
    ranking_rule: auto.ranking_rule,
    candidates: auto.leaderboard.map((candidate) => ({ ...candidate, model_id: candidate.candidate === auto.winner ? winnerModelId : null })),
  };
}

/** Uploads both ONNX files and records the model and its evaluation (idempotent: ids derive from the run). */
export async function storeModel(
  run: TrainingRunItem,
  data: Pick<ChunkedData, "features">,
  result: Omit<TrainResult, "model" | "quantizedModel" | "checkpoint"> & { model: Uint8Array; quantizedModel: Uint8Array },
  architecture = run.architecture,
  ids: { modelId: string; evaluationId: string; record?: (model: Parameters<typeof Model.record>[0]) => Promise<Awaited<ReturnType<typeof Model.record>>> } = {
    modelId: modelIdFor(run.runId),
    evaluationId: evaluationIdFor(run.runId),
  },
) {
  const { tenantId, runId } = run;
  const { modelId, evaluationId } = ids;
  await Promise.all([
    putObject(Model.modelKey(tenantId, modelId), result.model, "application/octet-stream"),
    putObject(Model.modelKey(tenantId, modelId, true), result.quantizedModel, "application/octet-stream"),
  ]);
  const hp = result.hyperparameters;
  const recurrent = architecture === "lstm_autoencoder" || architecture === "gru_predictor";
  const dataset = await Dataset.get(run.datasetId).catch(() => undefined);
  const info: { name?: string; equipment_type?: string } = dataset ?? {};
  const evaluation = result.evaluation;
  const metrics: Record<string, number> = {
    val_loss: result.bestValLoss,
    reconstruction_error_threshold: result.threshold,
    expected_alarm_rate: evaluation.expected_alarm_rate,
    ...(evaluation.metrics ?? {}),
  };
  const architectureName: Record<string, string> = { lstm_autoencoder: "LSTM autoencoder", gru_predictor: "GRU predictor", sentinel: "Sentinel", pca: "PCA", kmeans: "k-means" };
  const model = await (ids.record ?? Model.record)(finiteOnly({
    tenantId,
    modelId,
    name: `${architectureName[architecture] ?? architecture} -- ${info.name ?? run.datasetId}`.slice(0, 200),
    architecture,
    datasetId: run.datasetId,
    equipmentType: info.equipment_type,
    trainingRunId: runId,
    evaluationId,
    parameters: result.parameters,
    featureNames: data.features,
    hiddenDim: recurrent ? hp.hidden_dim : undefined,
    bottleneckDim: architecture === "lstm_autoencoder" ? hp.bottleneck_dim : undefined,
    numLayers: recurrent ? hp.num_layers : undefined,
    sequenceLength: hp.sequence_length,
    hyperparameters: hp,
    metrics,
    threshold: result.threshold,
    fileSizeBytes: result.model.length,
    quantized: true,
    quantizedSizeBytes: result.quantizedModel.length,
    quantization: result.quantization,
    stoppedEarly: result.stopped,
    epochsTrained: result.epochsRun,
  }));
  await Evaluation.record(finiteOnly({
    tenantId,
    evaluationId,
    modelId,
    trainingRunId: runId,
    datasetId: run.datasetId,
    metrics: {
      ...(evaluation.metrics ?? {}),
      val_loss: result.bestValLoss,
      reconstruction_error_threshold: result.threshold,
      expected_alarm_rate: evaluation.expected_alarm_rate,
    },
    confusionMatrix: evaluation.confusion_matrix ?? undefined,
    trainingCurves: evaluation.training_curves,
    scoreDistribution: evaluation.score_distribution,
    details: {
      threshold_rule: evaluation.threshold_rule,
      window_label_rule: evaluation.window_label_rule,
      val_windows: evaluation.val_windows,
      test_windows: evaluation.test_windows,
      validation_score_distribution: evaluation.validation_score_distribution,
      quantization: result.quantization,
      postprocess: evaluation.postprocess,
      event_detection: evaluation.event_detection,
      score_timeline: evaluation.score_timeline,
    },
  }));
  return model;
}

function finalMetrics(result: TrainResult) {
  return result.history.map((h) => ({ train_loss: h.train_loss, val_loss: h.val_loss }));
}

/** Training windows per epoch, for metering. */
function windowsOf(hp: HyperparametersT, data: ChunkedData): number {
  const rows = splitBounds(data.rows, hp.sequence_length).train[1];
  return Math.max(0, Math.floor((rows - hp.sequence_length) / effectiveStride(hp)) + 1);
}

async function afterFinish(run: TrainingRunItem, event: WebhookEvent, data: PayloadOf<WebhookEvent>): Promise<void> {
  await TrainingRun.startQueued().catch((error: unknown) => logger.error("starting queued runs failed", { error: error as Error }));
  await Webhook.emit(event, run.tenantId, data, run.runId.replace(/^tr_/, "") + (event === TrainingFailedWebhook ? "f" : "c"));
}

/** What a finished attempt spent on the run, over all its attempts (see EpochEvent.elapsed_seconds). */
interface TrainingTime {
  trainingTimeSeconds: number;
  setupSeconds: number;
}

async function completeRun(run: TrainingRunItem, owner: string, result: TrainResult, modelId: string, evaluationId: string, time: TrainingTime): Promise<void> {
  const changed = await finish(
    run,
    {
      status: "completed",
      modelId,
      evaluationId,
      currentEpoch: result.epochsRun,
      bestValLoss: orUndefined(result.bestValLoss),
      estimatedRemainingSeconds: 0,
      ...time,
    },
    { expectOwner: owner },
  );
  if (!changed) return;
  const final = (await getRun(run.tenantId, run.runId))!;
  await TrainingRun.publish(run, TrainingComplete, {
    status: "completed",
    current_epoch: result.epochsRun,
    total_epochs: run.totalEpochs,
    best_val_loss: result.bestValLoss,
    final_metrics: finalMetrics(result),
    model_id: modelId,
    evaluation_id: evaluationId,
    training_time_seconds: TrainingRun.serialize(final).training_time_seconds,
  });
  await afterFinish(run, TrainingCompletedWebhook, TrainingRun.serialize(final));
  const data = await openTrainingData(run.tenantId, run.datasetId).catch(() => undefined);
  const windows = data ? windowsOf(result.hyperparameters, data) : 0;
  await Billing.consumeTokens(run.tenantId, Billing.trainingTokens({ windows, epochs: result.epochsRun }), {
    reason: "training",
    resource_id: run.runId,
    idempotency_key: `training:${run.runId}`,
  }).catch((error: unknown) => logger.warn("training tokens not recorded", { runId: run.runId, error: error as Error }));
}

async function finishStopped(
  run: TrainingRunItem,
  owner: string,
  stored: { result: TrainResult; modelId: string; evaluationId?: string } | undefined,
  time?: TrainingTime,
): Promise<void> {
  const changed = await finish(
    run,
    {
      status: "stopped",
      modelId: stored?.modelId,
      evaluationId: stored?.evaluationId,
      currentEpoch: stored?.result.epochsRun ?? run.currentEpoch,
      estimatedRemainingSeconds: 0,
      ...time,
    },
    { expectOwner: owner },
  );
  if (!changed) return;
  await TrainingRun.publish(run, TrainingComplete, {
    status: "stopped",
    current_epoch: stored?.result.epochsRun ?? run.currentEpoch ?? 0,
    total_epochs: run.totalEpochs,
    best_val_loss: stored?.result.bestValLoss ?? run.bestValLoss ?? null,
    final_metrics: stored ? finalMetrics(stored.result) : [],
    model_id: stored?.modelId ?? null,
    training_time_seconds: Math.round((time?.trainingTimeSeconds ?? run.trainingTimeSeconds ?? 0) * 10) / 10,
  });
  await TrainingRun.startQueued().catch((error: unknown) => logger.error("starting queued runs failed", { error: error as Error }));
}

/**
 * The model a worker stored for the run before it died (storeModel runs just
 * before the run finishes): a run that ends this way keeps it, with its
 * reservation of max_models, instead of leaving a model nothing counts.
 */
async function storedModelOf(run: TrainingRunItem): Promise<{ modelId?: string; evaluationId?: string }> {
  const modelId = modelIdFor(run.runId);
  const model = await Model.ModelEntity.get({ tenantId: run.tenantId, modelId }).go({ consistent: true });
  return model.data ? { modelId, evaluationId: model.data.evaluationId ?? undefined } : {};
}

/**
 * Marks a run failed with a readable reason, frees its slots, tells its
 * subscribers and the tenant's webhooks, and starts the next queued run.
 * Returns false when the run was not in a state to fail (already final).
 */
export async function failRun(run: TrainingRunItem, reason: string, options: { expectOwner?: string } = {}): Promise<boolean> {
  const changed = await finish(run, { status: "failed", error: reason, estimatedRemainingSeconds: 0, ...(await storedModelOf(run)) }, options);
  if (!changed) return false;
  await TrainingRun.publish(run, TrainingFailed, {
    status: "failed",
    error: reason,
    current_epoch: run.currentEpoch ?? 0,
    total_epochs: run.totalEpochs,
  });
  const final = await getRun(run.tenantId, run.runId);
  await afterFinish(run, TrainingFailedWebhook, final ? TrainingRun.serialize(final) : { id: run.runId, status: "failed", error: reason });
  return true;
}

/**
 * A training message that exhausted its deliveries (the DLQ consumer). The
 * run fails with the last error a worker recorded, unless a live worker still
 * holds it (a stray dead letter) or it already finished. A run whose stop was
 * requested ends `stopped` instead.
 */
export async function deadLetter(message: TrainMessage, receiveCount: number): Promise<"failed" | "stopped" | "ignored"> {
  const { tenant_id: tenantId, run_id: runId } = message;
  const run = await getRun(tenantId, runId);
  if (!run || TrainingRun.isFinal(run.status) || run.status === "queued") return "ignored";
  if (run.leaseOwner && (run.leaseUntil ?? 0) > Date.now()) {
    logger.warn("dead-lettered message for a run a live worker holds; ignored", { runId });
    return "ignored";
  }
  if (run.stopRequested) {
    const changed = await finish(run, { status: "stopped", estimatedRemainingSeconds: 0, ...(await storedModelOf(run)) });
    if (changed) {
      await TrainingRun.publish(run, TrainingComplete, { status: "stopped", current_epoch: run.currentEpoch ?? 0, total_epochs: run.totalEpochs, best_val_loss: run.bestValLoss ?? null, final_metrics: [], model_id: null });
      await TrainingRun.startQueued().catch(() => undefined);
    }
    return changed ? "stopped" : "ignored";
  }
  // Claims a worker made; the DLQ's own receive count also counts deliveries that never reached a worker.
  const attempts = run.attempts || receiveCount;
  const reason = `Training failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${run.lastError ?? "the worker stopped responding"}`;
  return (await failRun(run, reason)) ? "failed" : "ignored";
}
