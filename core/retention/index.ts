/**
 * Data retention: the scheduled cleanup (EventBridge daily on AWS, a timer in
 * the local runtime). It removes what nobody can use any more: raw uploads
 * past their retention (the bucket's lifecycle rule does the same on AWS;
 * the local S3 has no lifecycle), and datasets whose presigned upload was
 * never used (DynamoDB TTL does this on AWS; DynamoDB Local keeps expired
 * items, so the sweep also runs here). It also recovers training runs left
 * with no worker (see TrainingRun.recoverStuckRuns).
 */
export * as Retention from "./index";

import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { s3 } from "../aws";
import { Config } from "../config";
import { logger } from "../logger";
import { deleteObject } from "../storage";

/** Raw uploaded CSVs are kept this long; ingest has long since written the columnar copy. */
export const UPLOAD_RETENTION_DAYS = 7;
export const UPLOAD_PREFIX = "uploads/";

export interface CleanupReport {
  dry_run: boolean;
  uploads_deleted: number;
  bytes_freed: number;
  abandoned_datasets_deleted: number;
  /** Running runs with no live worker whose training message was sent again. */
  stuck_runs_requeued: number;
  /** Queued runs started by the promotion pass (0 in a dry run). */
  queued_runs_started: number;
}

export interface CleanupOptions {
  dryRun?: boolean;
  /**
   * The moment to judge age against (tests move it forward instead of waiting days). Stuck-run recovery
   * judges by the wall clock at most: it acts on live workers' leases, which a simulated future would expire.
   */
  now?: Date;
}

export async function runCleanup(options: CleanupOptions = {}): Promise<CleanupReport> {
  const now = options.now ?? new Date();
  const dryRun = options.dryRun ?? false;
  const uploads = await sweepUploads(now, dryRun);
  const abandoned = await sweepAbandonedDatasets(now, dryRun);
  const recovery = await recoverStuckRuns(now, dryRun);
  const report: CleanupReport = {
    dry_run: dryRun,
    uploads_deleted: uploads.count,
    bytes_freed: uploads.bytes,
    abandoned_datasets_deleted: abandoned,
    stuck_runs_requeued: recovery.requeued.length,
    queued_runs_started: recovery.promoted,
  };
  logger.info("retention cleanup", { ...report });
  return report;
}

async function sweepUploads(now: Date, dryRun: boolean): Promise<{ count: number; bytes: number }> {
  const cutoff = now.getTime() - UPLOAD_RETENTION_DAYS * 24 * 60 * 60 * 1000;
  let count = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await s3().send(
      new ListObjectsV2Command({ Bucket: Config.bucketName(), Prefix: UPLOAD_PREFIX, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key || !object.LastModified || object.LastModified.getTime() >= cutoff) continue;
      if (!dryRun) await deleteObject(object.Key);
      count += 1;
      bytes += object.Size ?? 0;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { count, bytes };
}

async function sweepAbandonedDatasets(now: Date, dryRun: boolean): Promise<number> {
  const { Dataset } = await import("../dataset");
  return Dataset.removeAbandonedUploads({ now, dryRun });
}

async function recoverStuckRuns(now: Date, dryRun: boolean) {
  const { TrainingRun } = await import("../training");
  return TrainingRun.recoverStuckRuns({ now, dryRun });
}
