/**
 * Concurrency slots. A run may train only while it holds one slot of its
 * tenant (plan limit: Free 1, Pro 5, Enterprise 20) and one of the platform
 * (Config.platformTrainingCapacity()). Both counters change in the same
 * DynamoDB transaction as the run's status, under conditions, so concurrent
 * starts, completions and promotions can never oversubscribe or leak a slot.
 */
import { Table } from "../table";
import { Billing } from "../billing";
import { Config } from "../config";
import { logger } from "../logger";
import { countReservations } from "../model/quota";
import { QueueEntryEntity } from "./entities/queue-entry";
import { TrainingRunEntity, type TrainingRunItem } from "./entities/run";
import { SlotEntity } from "./entities/slot";

export const PLATFORM_SCOPE = "platform";
export const tenantScope = (tenantId: string) => `tenant#${tenantId}`;

/** Why a transaction was refused, read from DynamoDB's cancellation reasons (in item order). */
export type Refusal = "tenant_full" | "platform_full" | "gone" | "conflict";

interface TransactionResult {
  canceled: boolean;
  data: { rejected?: boolean; code?: string; message?: string }[];
}

function refusal(result: TransactionResult, labels: Refusal[]): Refusal {
  const index = result.data.findIndex((item) => item.rejected || (item.code && item.code !== "None"));
  return labels[index] ?? "conflict";
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}

/** The slot entity as a transaction sees it. */
type TransactionSlot = Parameters<Parameters<typeof Table.transaction.write>[0]>[0]["slot"];

/** The tenant's and the platform's slot counters +1, each below its limit: the two writes that start a run. */
function takeSlots(slot: TransactionSlot, tenantId: string, limit: number, capacity: number) {
  return [
    slot
      .update({ scope: tenantScope(tenantId) })
      .add({ active: 1 })
      .where((a, op) => `${op.notExists(a.active)} OR ${op.lt(a.active, limit)}`)
      .commit(),
    slot
      .update({ scope: PLATFORM_SCOPE })
      .add({ active: 1 })
      .where((a, op) => `${op.notExists(a.active)} OR ${op.lt(a.active, capacity)}`)
      .commit(),
  ];
}

/** The tenant's and the platform's slot counters -1: the two writes that end a run holding a slot. */
function releaseSlots(slot: TransactionSlot, tenantId: string) {
  return [
    slot
      .update({ scope: tenantScope(tenantId) })
      .add({ active: -1 })
      .where((a, op) => op.gt(a.active, 0))
      .commit(),
    slot
      .update({ scope: PLATFORM_SCOPE })
      .add({ active: -1 })
      .where((a, op) => op.gt(a.active, 0))
      .commit(),
  ];
}

async function tenantLimit(tenantId: string): Promise<number> {
  return (await Billing.limitsOf(tenantId)).max_concurrent_trainings;
}

/** TrainingRun.start passes createdAt and queuedAt, taken before startedAt is here, so created ≤ queued ≤ started. */
type NewRun = Omit<TrainingRunItem, "status" | "createdAt" | "updatedAt"> & { tenantId: string; runId: string; createdAt?: string };

/**
 * Creates `run` as `running` if a tenant and a platform slot are free (both
 * taken atomically), otherwise as `queued` with a FIFO queue entry. Either
 * way the same transaction reserves one of the tenant's max_models (the
 * `models` usage counter) for the model the run will produce.
 * @throws plan.model_limit_reached (403) when the reservations are used up
 */
export async function createRun(run: NewRun): Promise<TrainingRunItem> {
  const { tenantId } = run;
  const limit = await tenantLimit(tenantId);
  const capacity = Config.platformTrainingCapacity();
  await Billing.takeUnit(tenantId, "models", () => countReservations(tenantId), async (maxModels) => {
    const now = new Date().toISOString();
    const running = { ...run, status: "running" as const, slotHeld: true, startedAt: now };
    const started = (await Table.transaction
      .write(({ slot, run: runs, usage }) => [
        Billing.takeOne(usage, tenantId, "models", maxModels),
        ...takeSlots(slot, tenantId, limit, capacity),
        runs.create(running).commit(),
      ])
      .go()) as Billing.TransactionResult;
    const refused = Billing.refusedItem(started);
    if (refused === undefined) return "running";
    if (refused === 0) return Billing.COUNTER_REFUSED;
    if (refused === Billing.TRANSACTION_CONFLICT) return refused;

    const queuedAt = Date.now();
    const queued = { ...run, status: "queued" as const, slotHeld: false, queuedAt: new Date(queuedAt).toISOString() };
    const result = (await Table.transaction
      .write(({ run: runs, queue, usage }) => [
        Billing.takeOne(usage, tenantId, "models", maxModels),
        runs.create(queued).commit(),
        queue.create({ tenantId, runId: run.runId, queuedAt }).commit(),
      ])
      .go()) as Billing.TransactionResult;
    const why = Billing.refusedItem(result);
    if (why === undefined) return "queued";
    if (why === 0) return Billing.COUNTER_REFUSED;
    if (why === Billing.TRANSACTION_CONFLICT) return why;
    throw new Error(`Could not queue run ${run.runId}: ${JSON.stringify(result.data.map((d) => d.code))}`);
  });
  return (await getRun(tenantId, run.runId))!;
}

export async function getRun(tenantId: string, runId: string): Promise<TrainingRunItem | undefined> {
  const result = await TrainingRunEntity.get({ tenantId, runId }).go({ consistent: true });
  return result.data ?? undefined;
}

/**
 * Frees the slots a run holds and moves it to a final status in one
 * transaction. The condition `slotHeld = true` makes a second release (a
 * duplicate message, the dead-letter handler racing a worker) a no-op.
 * `expectOwner` additionally requires that this worker still holds the lease.
 * Returns false when the run was not in a state this release applies to.
 */
export async function finish(
  run: Pick<TrainingRunItem, "tenantId" | "runId" | "slotHeld">,
  changes: Partial<TrainingRunItem> & { status: TrainingRunItem["status"] },
  options: { expectOwner?: string; fromStatuses?: TrainingRunItem["status"][] } = {},
): Promise<boolean> {
  const from = options.fromStatuses ?? ["running", "stopping"];
  // A run that ends without a model gives its model reservation back, in the same transaction.
  const releasesModel = !changes.modelId;
  const patch = definedOnly({ ...changes, slotHeld: false, completedAt: changes.completedAt ?? new Date().toISOString() });
  const { tenantId, runId } = run;
  const release = async () => {
    const result = (await Table.transaction
      .write(({ run: runs, slot, usage }) => [
        runs
          .patch({ tenantId, runId })
          .set(patch)
          .remove(["leaseOwner"])
          .where((a, op) =>
            [
              `(${from.map((status) => op.eq(a.status, status)).join(" OR ")})`,
              op.eq(a.slotHeld, true),
              ...(options.expectOwner ? [op.eq(a.leaseOwner, options.expectOwner)] : []),
            ].join(" AND "),
          )
          .commit(),
        ...releaseSlots(slot, tenantId),
        ...(releasesModel
          ? [Billing.giveOne(usage, tenantId, "models")]
          : []),
      ])
      .go()) as Billing.TransactionResult;
    const refused = Billing.refusedItem(result);
    if (refused === 3) return Billing.COUNTER_REFUSED;
    if (refused === Billing.TRANSACTION_CONFLICT) return refused;
    if (refused !== undefined) logger.info("run release refused", { runId, reasons: result.data.map((item) => item.code) });
    return refused === undefined;
  };
  return Billing.withCounter(tenantId, "models", () => countReservations(tenantId), release);
}

/** Ends a run that holds no slot (a queued run being stopped) and drops its queue entry. */
export async function finishQueued(
  run: Pick<TrainingRunItem, "tenantId" | "runId" | "queuedAt">,
  changes: Partial<TrainingRunItem> & { status: TrainingRunItem["status"] },
): Promise<boolean> {
  const entries = await QueueEntryEntity.query.byTenant({ tenantId: run.tenantId }).go({ pages: "all" });
  const entry = entries.data.find((item) => item.runId === run.runId);
  const { tenantId, runId } = run;
  return Billing.withCounter(tenantId, "models", () => countReservations(tenantId), async () => {
    const result = (await Table.transaction
      .write(({ run: runs, queue, usage }) => [
        runs
          .patch({ tenantId, runId })
          .set(definedOnly({ ...changes, completedAt: new Date().toISOString() }))
          .where((a, op) => op.eq(a.status, "queued"))
          .commit(),
        Billing.giveOne(usage, tenantId, "models"),
        ...(entry ? [queue.delete({ runId, queuedAt: entry.queuedAt }).commit()] : []),
      ])
      .go()) as Billing.TransactionResult;
    return Billing.counterOutcome(result, 1);
  });
}

/**
 * Starts queued runs, oldest first platform-wide, while slots are free:
 * each start deletes the queue entry, takes both slots and flips the run to
 * `running` in one transaction. Entries of a tenant at its limit are skipped
 * (its later runs wait behind its earlier ones); a full platform ends the
 * pass. Returns the runs it started, for the caller to dispatch.
 */
export async function promoteQueued(): Promise<TrainingRunItem[]> {
  const started: TrainingRunItem[] = [];
  const page = await QueueEntryEntity.query.fifo({}).go({ limit: 100 });
  const fullTenants = new Set<string>();
  const capacity = Config.platformTrainingCapacity();
  for (const entry of page.data) {
    if (fullTenants.has(entry.tenantId)) continue;
    const limit = await tenantLimit(entry.tenantId);
    const { tenantId, runId, queuedAt } = entry;
    const result = (await Table.transaction
      .write(({ run: runs, slot, queue }) => [
        queue
          .delete({ runId, queuedAt })
          .where((a, op) => op.exists(a.runId))
          .commit(),
        ...takeSlots(slot, tenantId, limit, capacity),
        runs
          .patch({ tenantId, runId })
          .set({ status: "running", slotHeld: true, startedAt: new Date().toISOString() })
          .where((a, op) => op.eq(a.status, "queued"))
          .commit(),
      ])
      .go()) as TransactionResult;
    if (!result.canceled) {
      const run = await getRun(tenantId, runId);
      if (run) started.push(run);
      continue;
    }
    const why = refusal(result, ["gone", "tenant_full", "platform_full", "conflict"]);
    if (why === "platform_full") break;
    if (why === "tenant_full") fullTenants.add(tenantId);
    if (why === "conflict") {
      // The run left `queued` (stopped) without its entry: drop the stale entry.
      await QueueEntryEntity.delete({ runId, queuedAt }).go();
    }
  }
  return started;
}

/** Running trainings of a tenant (its slot counter) and of the platform. */
export async function usage(tenantId: string): Promise<{ tenantActive: number; platformActive: number; tenantLimit: number; platformCapacity: number; queued: number }> {
  const [tenant, platform, limit, queued] = await Promise.all([
    SlotEntity.get({ scope: tenantScope(tenantId) }).go({ consistent: true }),
    SlotEntity.get({ scope: PLATFORM_SCOPE }).go({ consistent: true }),
    tenantLimit(tenantId),
    QueueEntryEntity.query.byTenant({ tenantId }).go({ pages: "all" }),
  ]);
  return {
    tenantActive: tenant.data?.active ?? 0,
    platformActive: platform.data?.active ?? 0,
    tenantLimit: limit,
    platformCapacity: Config.platformTrainingCapacity(),
    queued: queued.data.length,
  };
}

/** Position (1-based) of a queued run in its tenant's queue, or undefined. */
export async function queuePosition(tenantId: string, runId: string): Promise<number | undefined> {
  const entries = await QueueEntryEntity.query.byTenant({ tenantId }).go({ pages: "all" });
  const index = entries.data.findIndex((entry) => entry.runId === runId);
  return index === -1 ? undefined : index + 1;
}
