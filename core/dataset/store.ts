/**
 * What the dataset use cases and ingest share: record reads, the
 * pending-upload marker and where a dataset's objects live in the bucket.
 */
import { DatasetEntity, PendingUploadEntity, type DatasetItem } from "./entity";

/** uploads/<tenant>/<dataset>/source.csv: the tenant and dataset are recoverable from the key. */
export function sourceKeyOf(tenantId: string, datasetId: string): string {
  return `uploads/${tenantId}/${datasetId}/source.csv`;
}

/** Reads tenant and dataset ids back from an upload key; undefined for foreign keys. */
export function parseSourceKey(key: string): { tenantId: string; datasetId: string } | undefined {
  const match = /^uploads\/([^/]+)\/(ds_[a-z0-9]+)\/source\.csv$/.exec(key);
  return match ? { tenantId: match[1]!, datasetId: match[2]! } : undefined;
}

/** Where a dataset's own objects (the columnar copy) live. */
export function datasetPrefix(tenantId: string, datasetId: string): string {
  return `tenants/${tenantId}/datasets/${datasetId}/`;
}

/** A dataset record, read strongly consistent; undefined for an unknown or malformed id. */
export async function itemOf(tenantId: string, datasetId: string): Promise<DatasetItem | undefined> {
  if (!/^ds_[a-z0-9]+$/.test(datasetId)) return undefined;
  const result = await DatasetEntity.get({ tenantId, datasetId }).go({ consistent: true });
  return result.data ?? undefined;
}

/** Removes the pending-upload marker the retention sweep reads, if the dataset had one. */
export async function forgetPendingUpload(item: Pick<DatasetItem, "tenantId" | "datasetId" | "uploadExpiresAt">): Promise<void> {
  if (!item.uploadExpiresAt) return;
  await PendingUploadEntity.delete({ uploadExpiresAt: item.uploadExpiresAt, tenantId: item.tenantId, datasetId: item.datasetId }).go();
}
