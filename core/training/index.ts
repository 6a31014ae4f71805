/**
 * Training runs: starting (now or queued behind the tenant's and the
 * platform's concurrency limits), reading, listing, stopping, and the events
 * they publish. The work itself happens in ./worker (driven by the training
 * queue); this module owns the run's state machine:
 *
 *   queued ──► running ──► completed
 *     │          │  └────► failed      (permanent error, or dead letter)
 *     │          └──► stopping ──► stopped
 *     └──► stopped                     (stopped while still queued)
 */
export * as TrainingRun from "./index";

import { z } from "zod";
import { assertRole, useTenant, useActor } from "../actor";
import { Cursor } from "../cursor";
import { fn } from "../fn";
import { Dataset } from "../dataset";
import { conflict, DomainError, isConditionalFailure, notFound } from "../error";
import { createId } from "../id";
import { logger } from "../logger";
import { Architecture, autoPlan, candidatesFor, chooseHyperparameters, HyperparametersGiven, splitBounds, type DataShape, type HyperparametersGivenT } from "../ml";
import { enqueue } from "../queue";
import { Realtime, Topic } from "../realtime";
import { TrainingComplete, TrainingFailed, TrainingQueued, TrainingStarted, type PayloadOf, type RealtimeEventDefinition } from "../realtime/events";
import { EpochEntity, type EpochItem } from "./entities/epoch";
import { TrainingRunEntity, type RunStatus, type TrainingRunItem } from "./entities/run";
import { Info, serialize } from "./info";
import { createRun, finish, finishQueued, getRun, promoteQueued, queuePosition, usage } from "./slots";

export { TrainingRunEntity, RUN_STATUSES, type RunStatus, type TrainingRunItem } from "./entities/run";
export { EpochEntity, type EpochItem } from "./entities/epoch";

/** `auto` trains every candidate architecture on the same split and keeps the best (GET /training/:id/leaderboard). */
export const RunArchitecture = z.union([Architecture, z.literal("auto")]);

export const StartInput = z.object({
  dataset_id: z.string().min(1).max(100),
  architecture: RunArchitecture,
  /** Fields left out are chosen from the dataset (the run's `chosen_because` says why). */
  hyperparameters: HyperparametersGiven.optional(),
});
export type StartInput = z.input<typeof StartInput>;

/** The message a training worker receives. */
export const TrainMessage = z.object({
  kind: z.literal("train").default("train"),
  run_id: z.string().min(1),
  tenant_id: z.string().min(1),
});
export type TrainMessage = z.infer<typeof TrainMessage>;

export { Info, serialize } from "./info";
/**
 * Sends a run event (`Events.TrainingStarted`, ...) to the run's subscribers
 * and the tenant channel, with the run's `run_id`. Delivery failures are logged, not thrown.
 *
 * @throws EventPayloadError on the local runtime when the payload breaks the event's schema
 */
export function publish<D extends RealtimeEventDefinition<string, "run">>(
  run: Pick<TrainingRunItem, "tenantId" | "runId">,
  definition: D,
  payload: Omit<PayloadOf<D>, "run_id">,
): Promise<number> {
  return Realtime.publish(definition, Topic.run(run.tenantId, run.runId), { ...payload, run_id: run.runId } as PayloadOf<D>);
}

/** What a run stores and the epochs it plans; an auto run stores what its candidates share, each chooses the rest. */
function runPlan(architecture: StartInput["architecture"], shape: DataShape, given: HyperparametersGivenT, labelled: boolean) {
  if (architecture === "auto") {
    const plan = autoPlan(shape, given, candidatesFor(labelled));
    return { hyperparameters: plan.common, chosen_because: plan.chosen_because, totalEpochs: plan.totalEpochs };
  }
  const chosen = chooseHyperparameters(architecture, shape, given);
  return { ...chosen, totalEpochs: chosen.hyperparameters.epochs };
}

/**
 * Starts a training run on one of the tenant's validated datasets. The run is
 * `running` (and its message is on the training queue) when the tenant's plan
 * and the platform have a free slot, `queued` otherwise.
 *
 * @throws request.invalid (zod) / dataset.not_found (404) / dataset.not_validated (400)
 * @throws training.insufficient_data (400, with rows_needed) when the dataset is too short for its windows
 * @throws plan.model_limit_reached (403) when the tenant's models plus its unfinished runs already reach
 *   max_models (a run reserves its model atomically with its creation, so a run never finishes over the limit)
 * @throws auth.forbidden for viewers
 */
export const start = fn(StartInput, async (parsed): Promise<Info> => {
  assertRole("operator");
  const tenantId = useTenant();
  const dataset = await Dataset.get(parsed.dataset_id);
  Dataset.assertTrainable(dataset);
  const label = dataset.label_column;
  const features = Object.entries(dataset.column_stats).filter(([name, stats]) => name !== label && stats.count_numeric > 0).length;
  const shape = { rows: dataset.row_count ?? 0, features: Math.max(1, features), samplingIntervalSeconds: dataset.sampling_interval_seconds ?? undefined };
  const { hyperparameters, chosen_because, totalEpochs } = runPlan(parsed.architecture, shape, parsed.hyperparameters ?? {}, label !== null);

  // too few rows for a calibrated threshold: refused now, with the rows needed, rather than failing in the worker
  if (dataset.row_count !== null) splitBounds(dataset.row_count, Number(hyperparameters.sequence_length));

  const actor = useActor();
  // Every run is queued when it is created; one that finds a slot starts in the same call, and a queued one
  // gets a later queuedAt of its own.
  const createdAt = new Date().toISOString();
  const run = await createRun({
    createdAt,
    queuedAt: createdAt,
    tenantId,
    runId: createId("tr"),
    datasetId: parsed.dataset_id,
    architecture: parsed.architecture,
    hyperparameters,
    chosenBecause: chosen_because,
    totalEpochs,
    createdBy: actor.type === "user" ? actor.userId : undefined,
  });
  if (run.status === "running") {
    await dispatch(run);
  } else {
    await publish(run, TrainingQueued, { status: "queued", queue_position: (await queuePosition(tenantId, run.runId)) ?? null });
    // A slot may have freed between our failed take and the queue entry becoming visible.
    await startQueued();
  }
  return serialize((await getRun(tenantId, run.runId)) ?? run);
});

/**
 * Puts a running run's message on the training queue and announces the start.
 * If the message cannot be sent, the run fails at once and frees its slot
 * rather than holding it with no worker coming.
 */
export async function dispatch(run: TrainingRunItem): Promise<void> {
  try {
    await enqueue("training", { kind: "train", run_id: run.runId, tenant_id: run.tenantId } satisfies TrainMessage);
  } catch (error) {
    logger.error("could not queue a started run; failing it", { runId: run.runId, error: error as Error });
    const reason = "The run could not be handed to a training worker; start it again";
    if (await finish(run, { status: "failed", error: reason })) {
      await publish(run, TrainingFailed, { status: "failed", error: reason, current_epoch: 0, total_epochs: run.totalEpochs });
    }
    throw new DomainError("unavailable", "training.dispatch_failed", reason, { id: run.runId }, { cause: error });
  }
  await publish(run, TrainingStarted, { status: "running", total_epochs: run.totalEpochs, started_at: run.startedAt ?? null });
}

/** Starts whatever queued runs now fit, oldest first (called whenever a slot frees). */
export async function startQueued(): Promise<number> {
  const started = await promoteQueued();
  for (const run of started) {
    try {
      await dispatch(run);
    } catch (error) {
      logger.error("dispatching a promoted run failed", { runId: run.runId, error: error as Error });
    }
  }
  return started.length;
}

/**
 * How long a running run may show no sign of life (no live lease, no write)
 * before the sweep hands it to a worker again. Far longer than a lease
 * (15 s) and the training queue's retry backoff, so a run whose message is
 * merely waiting for a retry is not touched.
 */
export const STUCK_GRACE_MS = 10 * 60 * 1000;

export interface RecoveryReport {
  /** Runs whose training message was put back on the queue (or would be, in a dry run). */
  requeued: string[];
  /** Queued runs the promotion pass started. */
  promoted: number;
}

/** The latest moment anything vouched for the run: a lease, a write, or an earlier requeue. */
function lastSignOfLife(run: TrainingRunItem): number {
  const parsed = (value: string | undefined) => (value ? Date.parse(value) || 0 : 0);
  return Math.max(run.leaseUntil ?? 0, parsed(run.updatedAt), parsed(run.requeuedAt));
}

/**
 * Recovers runs nobody is working on: a `running` or `stopping` run whose
 * lease is absent or expired and that has not been written (or requeued)
 * for STUCK_GRACE_MS before `now` (a crash between taking its slot and
 * sending its message, or a lost message) gets its training message again;
 * the worker's lease and checkpoint make a duplicate harmless and resume
 * where the run left off. `now` counts no later than the wall clock. Then it
 * runs the queued-run promotion, so queued runs whose start was missed begin
 * when slots are free. Reads the sparse byActiveStatus index, never the
 * whole table. Called by the scheduled retention cleanup.
 *
 * Each requeue first marks the run (requeuedAt) under the condition that it
 * is unchanged since it was read, so a worker that revived it meanwhile wins,
 * and a second sweep within the grace period does not send it again. A send
 * that fails is logged and retried by a later sweep.
 *
 * @example await TrainingRun.recoverStuckRuns({ now: new Date(), dryRun: true })
 */
export async function recoverStuckRuns(options: { now?: Date; dryRun?: boolean } = {}): Promise<RecoveryReport> {
  // Leases and write times are the wall clock of live workers, and a requeue acts on them for real: a `now`
  // ahead of the wall clock (a test simulating days for the file sweeps) must not make working runs look dead.
  const now = new Date(Math.min((options.now ?? new Date()).getTime(), Date.now()));
  const cutoff = now.getTime() - STUCK_GRACE_MS;
  const requeued: string[] = [];
  for (const status of ["running", "stopping"] as const) {
    const active = await TrainingRunEntity.query.byActiveStatus({ status }).go({ pages: "all" });
    for (const run of active.data) {
      if (lastSignOfLife(run) >= cutoff) continue;
      if (options.dryRun || (await requeue(run, now))) requeued.push(run.runId);
    }
  }
  if (requeued.length) logger.warn("stuck training runs requeued", { runIds: requeued, dryRun: options.dryRun ?? false });
  const promoted = options.dryRun ? 0 : await startQueued();
  return { requeued, promoted };
}

async function requeue(run: TrainingRunItem, now: Date): Promise<boolean> {
  const { tenantId, runId } = run;
  try {
    await TrainingRunEntity.patch({ tenantId, runId })
      .set({ requeuedAt: now.toISOString() })
      .add({ requeues: 1 })
      .where((a, op) => `${op.eq(a.status, run.status)} AND ${op.eq(a.updatedAt, run.updatedAt)}`)
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
  try {
    await enqueue("training", { kind: "train", run_id: runId, tenant_id: tenantId } satisfies TrainMessage);
    return true;
  } catch (error) {
    logger.error("could not requeue a stuck run; a later sweep retries", { runId, error: error as Error });
    return false;
  }
}

/** A run of the calling tenant; another tenant's id is not found. */
export async function get(runId: string): Promise<TrainingRunItem> {
  const run = await getRun(useTenant(), runId);
  if (!run) throw notFound("training_run", runId);
  return run;
}

export async function detail(runId: string): Promise<Info> {
  return serialize(await get(runId));
}

/** The calling tenant's runs, newest first, a page at a time. @throws request.invalid_cursor */
export async function list(options: { limit?: number; cursor?: string | null } = {}): Promise<{ items: Info[]; cursor: string | null }> {
  const result = await Cursor.page(TrainingRunEntity.query.byTenant({ tenantId: useTenant() }), {
    order: "desc",
    limit: options.limit ?? 50,
    cursor: options.cursor,
  });
  return { items: result.data.map(serialize), cursor: result.cursor ?? null };
}

/** Epoch records of a run, in order. */
export async function epochs(tenantId: string, runId: string): Promise<EpochItem[]> {
  const result = await EpochEntity.query.byRun({ tenantId, runId }).go({ pages: "all" });
  return result.data.sort((a, b) => a.epoch - b.epoch);
}

/** The public shape of one finished epoch. */
export const EpochInfo = z.object({
  epoch: z.number(),
  train_loss: z.number(),
  val_loss: z.number(),
  best_val_loss: z.number(),
  learning_rate: z.number(),
  elapsed_seconds: z.number(),
});
export type EpochInfo = z.infer<typeof EpochInfo>;

/**
 * Every finished epoch of one of the calling tenant's runs, in order.
 * @throws training_run.not_found (404), also for another tenant's run
 */
export async function epochHistory(runId: string): Promise<EpochInfo[]> {
  const run = await get(runId);
  return (await epochs(run.tenantId, run.runId)).map((epoch) => ({
    epoch: epoch.epoch,
    train_loss: epoch.trainLoss,
    val_loss: epoch.valLoss,
    best_val_loss: epoch.bestValLoss,
    learning_rate: epoch.learningRate,
    elapsed_seconds: epoch.elapsedSeconds,
  }));
}

export const QueueInfo = z.object({
  active_trainings: z.number(),
  max_concurrent: z.number(),
  queued: z.number(),
  capacity_available: z.number(),
  platform_active: z.number(),
  platform_capacity: z.number(),
});

/** The calling tenant's view of the queue: its running and queued runs and the slots left to it. */
export async function queue(): Promise<z.infer<typeof QueueInfo>> {
  const u = await usage(useTenant());
  const forTenant = Math.max(0, u.tenantLimit - u.tenantActive);
  const forPlatform = Math.max(0, u.platformCapacity - u.platformActive);
  return {
    active_trainings: u.tenantActive,
    max_concurrent: u.tenantLimit,
    queued: u.queued,
    capacity_available: Math.min(forTenant, forPlatform),
    platform_active: u.platformActive,
    platform_capacity: u.platformCapacity,
  };
}

/**
 * Stops a run. A queued run stops at once. A running run gets a stop flag the
 * worker checks after every epoch; it ends `stopped` within one epoch, and if
 * at least one epoch finished its best weights become a model flagged
 * `stopped_early`. Waits briefly for the worker so the answer is usually final.
 *
 * @throws training_run.not_found, training.not_stoppable (409) for finished runs
 */
export async function stop(runId: string, options: { waitMs?: number } = {}): Promise<Info> {
  assertRole("operator");
  const run = await get(runId);
  if (run.status === "queued") {
    const done = await finishQueued(run, { status: "stopped", stopRequested: true });
    if (done) {
      await publish(run, TrainingComplete, { status: "stopped", current_epoch: 0, total_epochs: run.totalEpochs, best_val_loss: null, final_metrics: [], model_id: null });
      return serialize((await getRun(run.tenantId, runId))!);
    }
    return stop(runId, options);
  }
  if (run.status === "stopped") return serialize(run);
  if (run.status !== "running" && run.status !== "stopping") {
    throw conflict("training.not_stoppable", `A ${run.status} run cannot be stopped`, { status: run.status });
  }
  if (run.status === "running") {
    try {
      await TrainingRunEntity.patch({ tenantId: run.tenantId, runId })
        .set({ stopRequested: true, status: "stopping" })
        .where((a, op) => op.eq(a.status, "running"))
        .go();
    } catch {
      // It finished meanwhile; report what it is now.
    }
  }
  const deadline = Date.now() + (options.waitMs ?? 8_000);
  let current = (await getRun(run.tenantId, runId))!;
  while (current.status === "stopping" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    current = (await getRun(run.tenantId, runId))!;
  }
  return serialize(current);
}

export function isFinal(status: RunStatus): boolean {
  return status === "completed" || status === "failed" || status === "stopped";
}
