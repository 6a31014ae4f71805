/**
 * Dataset slots: how datasets count against the plan's max_datasets.
 *
 * A dataset holds a slot from its creation until it fails, is deleted, or is
 * a presigned upload whose URL expired without the file arriving (such a
 * slot is given back when the tenant reaches its limit, and taken again
 * should the file still arrive). Every one of these changes writes the
 * dataset and the tenant's `datasets` usage counter in one transaction, so
 * concurrent uploads hold the limit exactly and a create that fails leaves
 * the count as it was.
 */
import { Table } from "../table";
import { Billing } from "../billing";
import { DomainError } from "../error";
import { DatasetEntity, PendingUploadEntity, type DatasetItem } from "./entity";

type NewDataset = Parameters<typeof DatasetEntity.create>[0];
type PendingMarker = Parameters<typeof PendingUploadEntity.create>[0];

/** True while a dataset counts against max_datasets. */
export function holdsSlot(item: Pick<DatasetItem, "status" | "slotReleased">): boolean {
  return item.status !== "failed" && !item.slotReleased;
}

/** How many of a tenant's datasets hold a slot, counted from the records (for a tenant without a counter). */
export async function countHeld(tenantId: string): Promise<number> {
  const result = await DatasetEntity.query.byTenant({ tenantId }).go({ pages: "all", attributes: ["status", "slotReleased"] });
  return result.data.filter(holdsSlot).length;
}

/**
 * Creates a dataset (and, for a presigned upload, its pending-upload marker)
 * in one transaction with its slot. When the tenant is at its limit, the
 * slots of its expired presigned uploads are given back first, then the
 * create is tried once more.
 * @throws plan.dataset_limit_reached (403) with `{ limit, used, tier }`
 */
export async function createWithSlot(item: NewDataset, marker?: PendingMarker): Promise<void> {
  const { tenantId } = item;
  const create = () =>
    Billing.takeUnit(tenantId, "datasets", () => countHeld(tenantId), async (max) => {
      const result = (await Table.transaction
        .write(({ dataset, pending, usage }) => [
          Billing.takeOne(usage, tenantId, "datasets", max),
          dataset.create(item).commit(),
          ...(marker ? [pending.create(marker).commit()] : []),
        ])
        .go()) as Billing.TransactionResult;
      const refused = Billing.refusedItem(result);
      if (refused === 0) return Billing.COUNTER_REFUSED;
      if (refused === Billing.TRANSACTION_CONFLICT) return refused;
      if (refused !== undefined) throw new Error(`dataset ${item.datasetId} could not be created: ${JSON.stringify(result.data.map((d) => d.code))}`);
      return "created";
    });
  try {
    await create();
  } catch (error) {
    if (!(error instanceof DomainError && error.code === "plan.dataset_limit_reached")) throw error;
    if ((await releaseExpiredUploads(tenantId)) === 0) throw error;
    await create();
  }
}

/**
 * Gives back the slots of a tenant's presigned uploads whose URL expired with
 * no file (each under the condition that it is still so). Returns how many.
 */
export async function releaseExpiredUploads(tenantId: string, now = new Date()): Promise<number> {
  const expiredBefore = now.toISOString();
  const pending = await DatasetEntity.query
    .byTenant({ tenantId })
    .where((a, op) => `${op.eq(a.status, "pending_upload")} AND ${op.lt(a.uploadExpiresAt, expiredBefore)} AND ${op.notExists(a.slotReleased)}`)
    .go({ pages: "all", attributes: ["datasetId"] });
  let released = 0;
  for (const { datasetId } of pending.data) {
    const done = await Billing.withCounter(tenantId, "datasets", () => countHeld(tenantId), async () => {
      const result = (await Table.transaction
        .write(({ dataset, usage }) => [
          dataset
            .patch({ tenantId, datasetId })
            .set({ slotReleased: true })
            .where((a, op) => `${op.eq(a.status, "pending_upload")} AND ${op.lt(a.uploadExpiresAt, expiredBefore)} AND ${op.notExists(a.slotReleased)}`)
            .commit(),
          Billing.giveOne(usage, tenantId, "datasets"),
        ])
        .go()) as Billing.TransactionResult;
      return Billing.counterOutcome(result, 1);
    });
    if (done) released++;
  }
  return released;
}

/**
 * A presigned upload whose slot was given back, whose file arrived after all:
 * takes a slot again (under the limit), so the ingest may go on.
 * @returns false when the dataset is no longer such an upload (nothing to take)
 * @throws plan.dataset_limit_reached (403) when the tenant is at its limit
 */
export async function retakeSlot(tenantId: string, datasetId: string): Promise<boolean> {
  return Billing.takeUnit(tenantId, "datasets", () => countHeld(tenantId), async (max) => {
    const result = (await Table.transaction
      .write(({ dataset, usage }) => [
        Billing.takeOne(usage, tenantId, "datasets", max),
        dataset
          .patch({ tenantId, datasetId })
          .remove(["slotReleased"])
          .where((a, op) => `${op.eq(a.status, "pending_upload")} AND ${op.exists(a.slotReleased)}`)
          .commit(),
      ])
      .go()) as Billing.TransactionResult;
    return Billing.counterOutcome(result, 0);
  });
}

/**
 * Applies `change` to a dataset that holds a slot and moves it to `failed`,
 * giving the slot back in the same transaction, if the dataset still meets
 * `condition` (an ingest attempt's lease).
 * @returns false when the condition failed (another attempt owns the dataset)
 */
export async function failWithSlot(
  tenantId: string,
  datasetId: string,
  change: { set: Partial<DatasetItem>; remove: (keyof DatasetItem)[] },
  leaseId: string,
): Promise<boolean> {
  return Billing.withCounter(tenantId, "datasets", () => countHeld(tenantId), async () => {
    const result = (await Table.transaction
      .write(({ dataset, usage }) => [
        dataset
          .patch({ tenantId, datasetId })
          .set({ ...change.set, status: "failed" })
          .remove(change.remove as never[])
          .where((a, op) => `${op.eq(a.leaseId, leaseId)} AND ${op.notExists(a.slotReleased)} AND ${op.ne(a.status, "failed")}`)
          .commit(),
        Billing.giveOne(usage, tenantId, "datasets"),
      ])
      .go()) as Billing.TransactionResult;
    return Billing.counterOutcome(result, 1);
  });
}

/**
 * Deletes a dataset record, giving its slot back in the same transaction if
 * it holds one. Reads the record first and deletes it only as read (a
 * concurrent change makes it read again), so a slot is given back once.
 * @param keep answers true for a record that must stay as it is (then nothing is deleted)
 * @returns the deleted record, or undefined when there was none (or `keep` kept it)
 */
export async function deleteWithSlot(
  tenantId: string,
  datasetId: string,
  keep: (item: DatasetItem) => boolean = () => false,
): Promise<DatasetItem | undefined> {
  return Billing.withCounter(tenantId, "datasets", () => countHeld(tenantId), async () => {
    const found = await DatasetEntity.get({ tenantId, datasetId }).go({ consistent: true });
    const item = found.data;
    if (!item || keep(item)) return undefined;
    const holds = holdsSlot(item);
    const result = (await Table.transaction
      .write(({ dataset, usage }) => [
        dataset
          .delete({ tenantId, datasetId })
          .where((a, op) =>
            // Deleted only in the state it was read in, so whether it held a slot is still true.
            item.status === "failed" ? op.eq(a.status, "failed") : `${op.eq(a.status, item.status as DatasetItem["status"])} AND ${holds ? op.notExists(a.slotReleased) : op.exists(a.slotReleased)}`,
          )
          .commit(),
        ...(holds
          ? [Billing.giveOne(usage, tenantId, "datasets")]
          : []),
      ])
      .go()) as Billing.TransactionResult;
    const refused = Billing.refusedItem(result);
    // The record changed since it was read: read it again.
    if (refused === 0) return Billing.TRANSACTION_CONFLICT;
    if (refused === 1) return Billing.COUNTER_REFUSED;
    if (refused === Billing.TRANSACTION_CONFLICT) return refused;
    return item;
  });
}
