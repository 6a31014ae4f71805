/**
 * Ingest: takes an uploaded CSV through the streaming analyzer into the
 * columnar copy, under a lease so that one attempt at a time owns a dataset,
 * and flips it to `ready` or `failed` (publishing `dataset.ready` /
 * `dataset.failed`). The S3-event job calls `ingest`; the direct upload runs
 * `runIngest` inside its request.
 */
import { Billing } from "../billing";
import { DomainError, isConditionalFailure } from "../error";
import { createSecret } from "../id";
import { logger } from "../logger";
import { enqueue } from "../queue";
import { Realtime, Topic } from "../realtime";
import { DatasetFailed, DatasetReady, type PayloadOf } from "../realtime/events";
import { deleteObject, deletePrefix, getObjectStream, headObject, putObject } from "../storage";
import { CsvAnalyzer, DatasetFileError, type Profile } from "./analyze";
import { DatasetEntity } from "./entity";
import { failWithSlot, retakeSlot } from "./slots";
import { datasetPrefix, forgetPendingUpload, itemOf, parseSourceKey } from "./store";
import { chunkKey } from "./table";

/** An ingest attempt owns a dataset this long (the ingest Lambda's timeout). */
const LEASE_SECONDS = 15 * 60;

/** A fresh lease id: it also names the attempt's columnar prefix, so letters and digits only. */
export function newLeaseId(): string {
  return createSecret(9).replace(/[^a-zA-Z0-9]/g, "x");
}

/** What an ingest call did: `deferred` means another attempt holds the dataset and a re-check is queued. */
export type IngestResult = "ingested" | "failed" | "ignored" | "deferred";

/**
 * Ingests an uploaded file (the ingest job calls this for S3 events and direct
 * messages). Idempotent: only a `pending_upload`/`processing` dataset whose
 * lease is free is taken; a dataset that is ready, failed, locked or gone is
 * ignored, and an orphaned upload is removed.
 * @param input.key the object key from an S3 event, if any (must be the dataset's source key)
 * @param input.finalAttempt an unexpected error marks the dataset failed instead of retrying
 * When another attempt holds the lease, a re-check is queued for when the
 * lease lapses (so a crashed attempt is taken over) and `deferred` is returned.
 * @throws unexpected errors when a retry may help (the lease is released first)
 */
export async function ingest(input: { tenantId: string; datasetId: string; key?: string; finalAttempt?: boolean }): Promise<IngestResult> {
  const { tenantId, datasetId } = input;
  const item = await itemOf(tenantId, datasetId);
  if (!item) {
    if (input.key && parseSourceKey(input.key)) {
      // Nobody will ever read it: the dataset was deleted or never existed.
      await deleteObject(input.key).catch(() => undefined);
    }
    return "ignored";
  }
  if (input.key && input.key !== item.sourceKey) return "ignored";
  if (item.status !== "pending_upload" && item.status !== "processing") return "ignored";

  const head = await headObject(item.sourceKey);
  if (!head) {
    // A direct message for a presigned upload that has not arrived yet: its S3 event will come.
    if (item.status === "pending_upload") return "ignored";
  }
  if (item.slotReleased && head) {
    // The file arrived after its upload's slot was given back: it needs one again.
    try {
      await retakeSlot(tenantId, datasetId);
    } catch (error) {
      if (!(error instanceof DomainError && error.kind === "forbidden")) throw error;
      await failReleased(tenantId, datasetId, error);
      return "failed";
    }
  }
  const lease = await takeLease(tenantId, datasetId, LEASE_SECONDS);
  if (lease === "gone") return "ignored";
  if (typeof lease === "object") {
    await enqueue("ingest", { dataset_id: datasetId, tenant_id: tenantId }, { delaySeconds: lease.retryInSeconds });
    return "deferred";
  }
  const leaseId = lease;
  // An attempt that died earlier may have left chunks behind: no columnar data is valid before ready.
  await deletePrefix(`${datasetPrefix(tenantId, datasetId)}columnar/`);
  if (item.status === "pending_upload") await forgetPendingUpload(item);
  if (!head) {
    await markFailed(tenantId, datasetId, leaseId, new DatasetFileError("dataset.upload_missing", "The uploaded file was not found"));
    return "failed";
  }
  try {
    await Billing.assertDatasetSize(head.size);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    await markFailed(tenantId, datasetId, leaseId, new DatasetFileError(error.code, error.message, error.details as Record<string, unknown>));
    return "failed";
  }
  try {
    const outcome = await runIngest(tenantId, datasetId, leaseId, await getObjectStream(item.sourceKey));
    return outcome.status;
  } catch (error) {
    if (input.finalAttempt) {
      logger.error("ingest failed on its last attempt", { tenantId, datasetId, error: error as Error });
      await markFailed(tenantId, datasetId, leaseId, new DatasetFileError("dataset.ingest_error", "The file could not be processed; please upload it again"));
      return "failed";
    }
    await releaseLease(tenantId, datasetId, leaseId);
    throw error;
  }
}

/**
 * Takes a `pending_upload`/`processing` dataset for one attempt (an ingest,
 * an import) for `seconds`, if no other attempt holds it.
 * @returns the lease id; `gone` when the dataset is no longer waiting for
 *   one; or when another attempt holds it, how long until its lease lapses
 */
export async function takeLease(tenantId: string, datasetId: string, seconds: number): Promise<string | "gone" | { retryInSeconds: number }> {
  const leaseId = newLeaseId();
  const now = Date.now();
  try {
    await DatasetEntity.patch({ tenantId, datasetId })
      .set({ status: "processing", leaseId, leaseUntil: now + seconds * 1000 })
      .remove(["expires_at"])
      .where(
        (attr, op) =>
          `(${op.eq(attr.status, "pending_upload")} OR ${op.eq(attr.status, "processing")}) AND (${op.notExists(attr.leaseUntil)} OR ${op.lt(attr.leaseUntil, now)})`,
      )
      .go();
    return leaseId;
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const current = await itemOf(tenantId, datasetId);
    if (!current || (current.status !== "pending_upload" && current.status !== "processing")) return "gone";
    const waitSeconds = Math.ceil(((current.leaseUntil ?? now) - now) / 1000) + 1;
    return { retryInSeconds: Math.min(900, Math.max(1, waitSeconds)) };
  }
}

type RunOutcome = { status: "ingested" } | { status: "ignored" } | { status: "failed"; error: DatasetFileError };

/**
 * Streams the source through the analyzer, writes the columnar chunks under a
 * prefix owned by this attempt, then flips the dataset to ready only if the
 * attempt still holds the lease. On any failure the attempt's chunks are
 * removed, so a failed dataset never holds partial columnar data.
 */
export async function runIngest(tenantId: string, datasetId: string, leaseId: string, source: AsyncIterable<unknown>): Promise<RunOutcome> {
  const prefix = `${datasetPrefix(tenantId, datasetId)}columnar/${leaseId}/`;
  // Chunk uploads overlap with parsing, at most two in flight (memory stays bounded).
  const uploads: Promise<void>[] = [];
  let storedBytes = 0;
  const analyzer = new CsvAnalyzer({
    columnar: true,
    onChunk: async (index, bytes) => {
      storedBytes += bytes.length;
      const upload = putObject(chunkKey(prefix, index), bytes, "application/zstd");
      upload.catch(() => undefined);
      uploads.push(upload);
      if (uploads.length >= 2) await uploads.shift();
    },
  });
  let profile: Profile;
  try {
    for await (const chunk of source) await analyzer.push(chunk as Uint8Array);
    profile = await analyzer.finish();
    await Promise.all(uploads);
  } catch (error) {
    await Promise.allSettled(uploads);
    await deletePrefix(prefix).catch(() => undefined);
    if (!(error instanceof DatasetFileError)) throw error;
    await markFailed(tenantId, datasetId, leaseId, error);
    return { status: "failed", error };
  }
  try {
    await DatasetEntity.patch({ tenantId, datasetId })
      .set({ status: "ready", profile, columnarPrefix: prefix, chunkCount: profile.chunk_count, columnarBytes: storedBytes })
      .remove(["leaseId", "leaseUntil", "failureCode", "failureReason"])
      .where((attr, op) => `${op.eq(attr.leaseId, leaseId)} AND ${op.eq(attr.status, "processing")}`)
      .go();
  } catch (error) {
    await deletePrefix(prefix).catch(() => undefined);
    if (isConditionalFailure(error)) return { status: "ignored" };
    throw error;
  }
  await Realtime.publish(DatasetReady, Topic.dataset(tenantId, datasetId), readyPayload(datasetId, profile));
  return { status: "ingested" };
}

/** Moves a dataset this attempt holds to `failed` (giving its slot back) and tells its subscribers why. */
export async function markFailed(tenantId: string, datasetId: string, leaseId: string, error: DatasetFileError): Promise<void> {
  const failed = await failWithSlot(
    tenantId,
    datasetId,
    {
      set: { failureCode: error.code, failureReason: error.message },
      remove: ["leaseId", "leaseUntil", "profile", "columnarPrefix", "chunkCount", "columnarBytes"],
    },
    leaseId,
  );
  if (!failed) return;
  await Realtime.publish(DatasetFailed, Topic.dataset(tenantId, datasetId), failedPayload(datasetId, { code: error.code, reason: error.message }));
}

/** A late file for an upload whose slot went back, refused for the plan's limit: the dataset fails (it holds no slot). */
async function failReleased(tenantId: string, datasetId: string, error: DomainError): Promise<void> {
  try {
    await DatasetEntity.patch({ tenantId, datasetId })
      .set({ status: "failed", failureCode: error.code, failureReason: error.message })
      .where((attr, op) => `${op.eq(attr.status, "pending_upload")} AND ${op.exists(attr.slotReleased)}`)
      .go();
  } catch (failure) {
    if (isConditionalFailure(failure)) return;
    throw failure;
  }
  await forgetPendingUpload(await itemOf(tenantId, datasetId) ?? { tenantId, datasetId });
  await Realtime.publish(DatasetFailed, Topic.dataset(tenantId, datasetId), failedPayload(datasetId, { code: error.code, reason: error.message }));
}

/** The `dataset.ready` event's payload (on `dataset:<id>`), published when ingest finishes and replayed in its snapshot. */
export function readyPayload(datasetId: string, profile: { row_count: number | null; columns: string[] }): PayloadOf<typeof DatasetReady> {
  return { dataset_id: datasetId, row_count: profile.row_count, columns: profile.columns };
}

/** The `dataset.failed` event's payload, published when ingest rejects the file and replayed in its snapshot. */
export function failedPayload(datasetId: string, failure: { code: string; reason: string }): PayloadOf<typeof DatasetFailed> {
  return { dataset_id: datasetId, code: failure.code, reason: failure.reason };
}

export async function releaseLease(tenantId: string, datasetId: string, leaseId: string): Promise<void> {
  await DatasetEntity.patch({ tenantId, datasetId })
    .remove(["leaseId", "leaseUntil"])
    .where((attr, op) => op.eq(attr.leaseId, leaseId))
    .go()
    .catch(() => undefined);
}

/** A file held in memory as a stream of 256 KiB buffers, for runIngest. */
export function* chunksOf(bytes: Uint8Array, size = 256 * 1024): Generator<Buffer> {
  for (let at = 0; at < bytes.byteLength; at += size) {
    yield Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(size, bytes.byteLength - at));
  }
}
