/**
 * Datasets: sensor CSVs uploaded by a tenant, ingested once into a compact
 * columnar copy, then previewed, validated (which locks them), recommended a
 * model for, and trained on.
 *
 * Lifecycle: `pending_upload` (presigned URL handed out) -> `processing`
 * (file arrived, ingest running) -> `ready` | `failed`. A failed dataset holds
 * no columnar data and says why in `failure`.
 *
 * Deleting a dataset removes its record, the raw upload and the columnar copy.
 * Models trained on it keep working (a model stores its own normalisation and
 * weights) and training runs keep their history; they only lose the ability to
 * re-train from it.
 */
export * as Dataset from "./index";

import { Readable } from "node:stream";
import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { Cursor } from "../cursor";
import { Billing } from "../billing";
import { MAX_DIRECT_UPLOAD_BYTES } from "../billing/plans";
import { DomainError, conflict, invalid, isConditionalFailure, notFound } from "../error";
import { createId } from "../id";
import { logger } from "../logger";
import { Realtime, Topic } from "../realtime";
import { DatasetValidated } from "../realtime/events";
import { deleteObject, deletePrefix, presignPut, putObject } from "../storage";
import type { Profile } from "./analyze";
import { DatasetEntity, EQUIPMENT_TYPES, PendingUploadEntity, STATUSES, type DatasetItem } from "./entity";
import { features, recommend as scoreArchitectures, type Recommendation } from "./recommend";
import type { Table } from "./columnar";
import { cellValue, evict, loadRows, loadTable, sortOrder, type Cell } from "./table";
import { chunksOf, newLeaseId, runIngest } from "./ingest";
import { countHeld, createWithSlot, deleteWithSlot } from "./slots";
import { datasetPrefix, forgetPendingUpload, itemOf, sourceKeyOf } from "./store";
import { issuesOf } from "./validate";

export { EQUIPMENT_TYPES, STATUSES, DatasetEntity, type DatasetItem } from "./entity";
export { DatasetFileError, type Profile, type ColumnStats } from "./analyze";
export type { Recommendation } from "./recommend";
export { ingest, readyPayload, failedPayload, takeLease, releaseLease, markFailed, type IngestResult } from "./ingest";
export { sourceKeyOf, parseSourceKey } from "./store";

/** How long a presigned upload URL stays valid. */
export const UPLOAD_URL_TTL_SECONDS = 15 * 60;
/** The direct upload ingests inside its HTTP request, which never lasts this long. */
const DIRECT_LEASE_SECONDS = 90;
export const MAX_PREVIEW_PAGE_SIZE = 1000;
/** Larger datasets are paged chunk by chunk instead of being loaded whole. */
const WHOLE_TABLE_CELLS = 20_000_000;
/** A sorted preview needs the whole table in memory (about 4 bytes a cell). */
const MAX_SORT_CELLS = 60_000_000;

// ---------------------------------------------------------------- shapes

export const EquipmentType = z.enum(EQUIPMENT_TYPES);
export type EquipmentType = z.infer<typeof EquipmentType>;

const Name = z.string().trim().min(1, "name is required").max(200, "name must be at most 200 characters");
const OptionalLabel = z.string().trim().max(200, "must be at most 200 characters").optional();

export const Metadata = z.object({
  name: Name,
  equipment_type: EquipmentType,
  location: OptionalLabel,
  unit: OptionalLabel,
});
export type Metadata = z.infer<typeof Metadata>;

export const CreateUploadInput = Metadata.extend({
  file_size_bytes: z.number().int().positive("file_size_bytes must be a positive integer"),
});
export type CreateUploadInput = z.infer<typeof CreateUploadInput>;

const ColumnStatsInfo = z.object({
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
  std: z.number().nullable(),
  count_numeric: z.number(),
  count_non_numeric: z.number(),
  count_missing: z.number(),
});

export const Summary = z.object({
  id: z.string(),
  name: z.string(),
  equipment_type: EquipmentType,
  location: z.string().nullable(),
  unit: z.string().nullable(),
  source: z.string(),
  status: z.enum(STATUSES),
  row_count: z.number().nullable(),
  columns: z.array(z.string()),
  file_size_bytes: z.number().nullable(),
  is_validated: z.boolean(),
  locked: z.boolean(),
  created_at: z.string(),
  created_by: z.string(),
});
export type Summary = z.infer<typeof Summary>;

export const Info = Summary.extend({
  column_stats: z.record(z.string(), ColumnStatsInfo),
  time_range: z.object({ start: z.string(), end: z.string() }).nullable(),
  timestamp_column: z.string().nullable(),
  sampling_interval_seconds: z.number().nullable(),
  sampling_regularity: z.number().nullable(),
  label_column: z.string().nullable(),
  format: z
    .object({
      delimiter: z.string(),
      decimal_separator: z.string(),
      has_header: z.boolean(),
      line_endings: z.string(),
      bom: z.boolean(),
      quoted_fields: z.boolean(),
      timestamp_format: z.string().nullable(),
    })
    .nullable(),
  ragged_rows: z.number(),
  /** The stored columnar copy: always zstd-compressed; its size in bytes once ready. */
  storage: z.object({ format: z.literal("columnar+zstd"), compressed: z.literal(true), stored_bytes: z.number().nullable() }),
  failure: z.object({ code: z.string(), reason: z.string() }).nullable(),
  upload_expires_at: z.string().nullable(),
  validated_at: z.string().nullable(),
  updated_at: z.string(),
  /** Synced from a saved connection: which one, which version, and the version before it (rows up to its end). */
  connection: z.object({ connection_id: z.string(), version: z.number(), previous_version_id: z.string().nullable() }).nullable(),
});
export type Info = z.infer<typeof Info>;

function summaryOf(item: DatasetItem): Summary {
  const profile = item.profile as Profile | undefined;
  return {
    id: item.datasetId,
    name: item.name,
    equipment_type: item.equipmentType,
    location: item.location ?? null,
    unit: item.unit ?? null,
    source: item.source,
    status: item.status,
    row_count: profile?.row_count ?? null,
    columns: profile?.columns ?? [],
    file_size_bytes: profile?.file_size_bytes ?? item.declaredSizeBytes ?? null,
    is_validated: item.isValidated,
    locked: item.locked,
    created_at: item.createdAt,
    created_by: item.createdBy,
  };
}

function infoOf(item: DatasetItem): Info {
  const profile = item.profile as Profile | undefined;
  return {
    ...summaryOf(item),
    // DynamoDB maps come back in no particular order: answer in file column order.
    column_stats: profile
      ? Object.fromEntries(profile.columns.flatMap((name) => (profile.column_stats[name] ? [[name, profile.column_stats[name]]] : [])))
      : {},
    time_range: profile?.time_range ?? null,
    timestamp_column: profile?.timestamp_column ?? null,
    sampling_interval_seconds: profile?.sampling_interval_seconds ?? null,
    sampling_regularity: profile?.sampling_regularity ?? null,
    label_column: profile?.label_column ?? null,
    format: profile
      ? {
          delimiter: profile.delimiter,
          decimal_separator: profile.decimal_separator ?? ".",
          has_header: profile.has_header,
          line_endings: profile.line_endings,
          bom: profile.bom,
          quoted_fields: profile.quoted_fields,
          timestamp_format: profile.timestamp_format,
        }
      : null,
    ragged_rows: profile?.ragged_rows ?? 0,
    storage: { format: "columnar+zstd", compressed: true, stored_bytes: item.columnarBytes ?? null },
    failure: item.status === "failed" ? { code: item.failureCode ?? "dataset.ingest_failed", reason: item.failureReason ?? "Ingest failed" } : null,
    upload_expires_at: item.status === "pending_upload" ? (item.uploadExpiresAt ?? null) : null,
    validated_at: item.validatedAt ?? null,
    updated_at: item.updatedAt,
    connection: item.connectionId
      ? { connection_id: item.connectionId, version: item.versionNumber ?? 1, previous_version_id: item.previousVersionId ?? null }
      : null,
  };
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalid("request.invalid", "Request validation failed", {
    issues: result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
  });
}

function creatorName(): string {
  const actor = useActor();
  return actor.type === "user" ? actor.username : "system";
}

// ---------------------------------------------------------------- reads

async function requireItem(datasetId: string): Promise<DatasetItem> {
  const item = await itemOf(useTenant(), datasetId);
  if (!item) throw notFound("dataset", datasetId);
  return item;
}

/**
 * The calling tenant's dataset.
 * @throws dataset.not_found (404) for an unknown id or another tenant's dataset
 */
export async function get(datasetId: string): Promise<Info> {
  return infoOf(await requireItem(datasetId));
}

/** How many datasets of the calling tenant count against its plan (see ./slots). */
export async function count(): Promise<number> {
  const tenantId = useTenant();
  return (await Billing.readCounter(tenantId, "datasets")) ?? (await countHeld(tenantId));
}

/** The calling tenant's dataset ids, oldest first (for Billing.assertWritable). */
export async function listIds(): Promise<string[]> {
  const result = await DatasetEntity.query.byTenant({ tenantId: useTenant() }).go({ pages: "all", attributes: ["datasetId"] });
  return result.data.map((item) => item.datasetId);
}

export const ListInput = z.object({
  limit: z.number().int().min(1).max(100).default(50),
  cursor: Cursor.Param.optional(),
});

/**
 * The calling tenant's datasets, newest first, one page at a time.
 * @returns the page and the cursor of the next page (null on the last page)
 * @throws request.invalid_cursor (400) for a malformed cursor or one of another list
 */
export async function list(input: z.input<typeof ListInput> = {}): Promise<{ data: Summary[]; cursor: string | null }> {
  const { limit, cursor } = parse(ListInput, input);
  const result = await Cursor.page(DatasetEntity.query.byTenant({ tenantId: useTenant() }), { order: "desc", limit, cursor });
  return { data: result.data.map(summaryOf), cursor: result.cursor ?? null };
}

// ---------------------------------------------------------------- create

async function assertCanCreate(sizeBytes: number): Promise<void> {
  if (sizeBytes <= 0) throw invalid("dataset.empty_file", "The file is empty");
  await Billing.assertDatasetSize(sizeBytes);
}

/**
 * Starts a serverless upload: creates the dataset (`pending_upload`) and a
 * presigned S3 PUT URL bound to the announced size. The object's arrival
 * (S3 event -> ingest queue) starts the ingest.
 * @throws request.invalid (400), plan.dataset_size_limit_reached / plan.dataset_limit_reached (403), auth.forbidden (403)
 */
export async function createUpload(input: z.input<typeof CreateUploadInput>): Promise<{
  dataset_id: string;
  upload_url: string;
  expires_at: string;
  method: "PUT";
  headers: Record<string, string>;
}> {
  assertRole("operator");
  const data = parse(CreateUploadInput, input);
  await assertCanCreate(data.file_size_bytes);
  const tenantId = useTenant();
  const datasetId = createId("ds");
  const sourceKey = sourceKeyOf(tenantId, datasetId);
  const expiresAt = new Date(Date.now() + UPLOAD_URL_TTL_SECONDS * 1000);
  const url = await presignPut(sourceKey, UPLOAD_URL_TTL_SECONDS, data.file_size_bytes);
  const uploadExpiresAt = expiresAt.toISOString();
  // Never uploaded: the record goes away a day after the URL expired (TTL on AWS, the retention sweep locally).
  const ttl = Math.floor(expiresAt.getTime() / 1000) + 24 * 3600;
  await createWithSlot(
    {
      ...newItem(tenantId, datasetId, data),
      uploadMethod: "presigned",
      status: "pending_upload",
      sourceKey,
      declaredSizeBytes: data.file_size_bytes,
      uploadExpiresAt,
      createdBy: creatorName(),
      expires_at: ttl,
    },
    { uploadExpiresAt, tenantId, datasetId, expires_at: ttl + 3600 },
  );
  return {
    dataset_id: datasetId,
    upload_url: url,
    expires_at: expiresAt.toISOString(),
    method: "PUT",
    headers: { "Content-Length": String(data.file_size_bytes) },
  };
}

/** The fields every new dataset record starts with, whichever way its file arrives. */
function newItem(tenantId: string, datasetId: string, data: Metadata) {
  return {
    tenantId,
    datasetId,
    name: data.name,
    equipmentType: data.equipment_type,
    location: data.location,
    unit: data.unit,
  };
}

/**
 * The direct (multipart) upload: the file is ingested right away and the
 * answer is the ready dataset. A file that cannot become a dataset answers
 * 400 with the reason and leaves nothing behind.
 * @throws dataset.empty_file / dataset.* file problems / request.invalid (400),
 *   dataset.file_too_large (413), plan.* (403), auth.forbidden (403)
 */
export async function upload(input: z.input<typeof Metadata> & { file: Uint8Array }): Promise<Info> {
  assertRole("operator");
  const data = parse(Metadata, input);
  const bytes = input.file;
  if (bytes.byteLength > MAX_DIRECT_UPLOAD_BYTES) {
    throw new DomainError(
      "too_large",
      "dataset.file_too_large",
      `Direct uploads are limited to ${MAX_DIRECT_UPLOAD_BYTES / 1024 / 1024} MB; use POST /datasets/uploads for larger files`,
      { limit: MAX_DIRECT_UPLOAD_BYTES, size_bytes: bytes.byteLength },
    );
  }
  await assertCanCreate(bytes.byteLength);
  const tenantId = useTenant();
  const datasetId = createId("ds");
  const sourceKey = sourceKeyOf(tenantId, datasetId);
  const leaseId = newLeaseId();
  await createWithSlot({
    ...newItem(tenantId, datasetId, data),
    uploadMethod: "multipart",
    status: "processing",
    sourceKey,
    declaredSizeBytes: bytes.byteLength,
    createdBy: creatorName(),
    leaseId,
    leaseUntil: Date.now() + DIRECT_LEASE_SECONDS * 1000,
  });
  const discard = async () => {
    await deleteWithSlot(tenantId, datasetId);
    await deleteObject(sourceKey).catch(() => undefined);
  };
  let outcome: Awaited<ReturnType<typeof runIngest>>;
  try {
    // Stored first: should this request die mid-ingest, the object's S3 event
    // lets the ingest job take over once the short lease lapses.
    await putObject(sourceKey, bytes, "text/csv");
    outcome = await runIngest(tenantId, datasetId, leaseId, Readable.from(chunksOf(bytes)));
  } catch (error) {
    await discard();
    throw error;
  }
  if (outcome.status === "failed") {
    await discard();
    throw invalid(outcome.error.code, outcome.error.message, outcome.error.details);
  }
  return get(datasetId);
}

/**
 * A dataset whose rows an import job brings from a connected source (see
 * core/connector): created `processing` under the plan's dataset limit, with
 * its source spec sealed by `seal` (which is given the new dataset's id).
 * @returns the new dataset's id
 * @throws plan.dataset_limit_reached (403), auth.forbidden (403)
 */
export async function createImport(
  input: Metadata & {
    source: string;
    seal: (tenantId: string, datasetId: string) => Promise<string>;
    /** A sync of a saved connection: the new version follows `previousVersionId`. */
    version?: { connectionId: string; number: number; previousVersionId?: string };
  },
): Promise<string> {
  assertRole("operator");
  const data = parse(Metadata, input);
  const tenantId = useTenant();
  const datasetId = createId("ds");
  await createWithSlot({
    ...newItem(tenantId, datasetId, data),
    source: input.source,
    uploadMethod: "import",
    status: "processing",
    sourceKey: sourceKeyOf(tenantId, datasetId),
    importSpec: await input.seal(tenantId, datasetId),
    connectionId: input.version?.connectionId,
    versionNumber: input.version?.number,
    previousVersionId: input.version?.previousVersionId,
    createdBy: creatorName(),
  });
  return datasetId;
}

// ---------------------------------------------------------------- delete

/**
 * Deletes a dataset, its raw upload and its columnar copy. Models trained on
 * it keep working; runs keep their history.
 * @throws dataset.not_found (404), auth.forbidden (403)
 */
export async function remove(datasetId: string): Promise<void> {
  assertRole("operator");
  const found = await requireItem(datasetId);
  const item = await deleteWithSlot(found.tenantId, datasetId);
  if (!item) throw notFound("dataset", datasetId);
  if (item.columnarPrefix) evict(item.columnarPrefix);
  const results = await Promise.allSettled([
    deletePrefix(datasetPrefix(item.tenantId, datasetId)),
    deletePrefix(`uploads/${item.tenantId}/${datasetId}/`),
    forgetPendingUpload(item),
  ]);
  for (const result of results) {
    if (result.status === "rejected") logger.warn("dataset objects not removed", { datasetId, error: result.reason as Error });
  }
}

/**
 * Retention: deletes datasets whose presigned upload expired at least a day
 * before `now` without the file ever arriving (DynamoDB TTL does the same on
 * AWS; DynamoDB Local keeps expired items). Reads one Query of upload markers.
 * @returns how many datasets were (or, with dryRun, would be) deleted
 */
export async function removeAbandonedUploads(options: { now?: Date; dryRun?: boolean } = {}): Promise<number> {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - 24 * 3600 * 1000).toISOString();
  const markers = await PendingUploadEntity.query.byExpiry({}).lt({ uploadExpiresAt: cutoff }).go({ pages: "all" });
  let removed = 0;
  for (const marker of markers.data) {
    const item = await itemOf(marker.tenantId, marker.datasetId);
    const abandoned = item?.status === "pending_upload";
    if (abandoned) removed++;
    if (options.dryRun) continue;
    if (abandoned) {
      // The file may have arrived meanwhile: then the dataset stays.
      const deleted = await deleteWithSlot(marker.tenantId, marker.datasetId, (current) => current.status !== "pending_upload");
      if (deleted) await deletePrefix(`uploads/${marker.tenantId}/${marker.datasetId}/`);
      else removed--;
    }
    await forgetPendingUpload(marker);
  }
  return removed;
}

// ---------------------------------------------------------------- preview

export const PreviewInput = z.object({
  page: z.number().int().min(1, "page starts at 1").default(1),
  page_size: z.number().int().min(1).max(MAX_PREVIEW_PAGE_SIZE, `page_size is at most ${MAX_PREVIEW_PAGE_SIZE}`).default(100),
  sort_col: z.string().min(1).optional(),
  sort_dir: z.enum(["asc", "desc"]).default("asc"),
});

export interface Preview {
  headers: string[];
  rows: Cell[][];
  total_rows: number;
  page: number;
  page_size: number;
  total_pages: number;
  sort_col: string | null;
  sort_dir: "asc" | "desc";
}

function requireReady(item: DatasetItem): asserts item is DatasetItem & { profile: Profile; columnarPrefix: string; chunkCount: number } {
  if (item.status !== "ready" || !item.profile || !item.columnarPrefix || item.chunkCount === undefined) {
    throw conflict("dataset.not_ready", `Dataset is ${item.status === "failed" ? "failed" : "not ready yet"} (status: ${item.status})`, {
      status: item.status,
    });
  }
}

/**
 * One page of rows, optionally sorted by a column (missing values last).
 * Cells of numeric columns are numbers (float32 as stored, in their shortest
 * decimal form), timestamps ISO 8601 UTC strings, text as in the file (also
 * text found in a numeric column); a missing value is null.
 * @throws dataset.not_found (404), dataset.not_ready (409), dataset.unknown_column / request.invalid (400)
 */
export async function preview(datasetId: string, input: z.input<typeof PreviewInput> = {}): Promise<Preview> {
  const query = parse(PreviewInput, input);
  const item = await requireItem(datasetId);
  requireReady(item);
  const profile = item.profile;
  const totalRows = profile.row_count;
  const cells = totalRows * profile.columns.length;
  const start = (query.page - 1) * query.page_size;
  const end = Math.min(totalRows, start + query.page_size);
  let table: Table;
  let offset = 0;
  let order: Uint32Array | undefined;
  if (query.sort_col !== undefined) {
    const index = profile.columns.indexOf(query.sort_col);
    if (index < 0) throw invalid("dataset.unknown_column", `Unknown column '${query.sort_col}'`, { columns: profile.columns });
    if (cells > MAX_SORT_CELLS) {
      throw invalid("dataset.too_large_to_sort", `Sorted previews are available for datasets up to ${MAX_SORT_CELLS} cells; this one has ${cells}`, {
        cells,
        max_cells: MAX_SORT_CELLS,
      });
    }
    table = await loadTable(item.columnarPrefix, item.chunkCount);
    order = await sortOrder(item.columnarPrefix, item.chunkCount, index, query.sort_dir);
  } else if (cells > WHOLE_TABLE_CELLS && profile.chunk_rows) {
    ({ table, offset } = start < end ? await loadRows(item.columnarPrefix, profile.chunk_rows, item.chunkCount, start, end) : { table: { rows: 0, columns: [], bytes: 0 }, offset: 0 });
  } else {
    table = await loadTable(item.columnarPrefix, item.chunkCount);
  }
  const rows: Cell[][] = [];
  for (let position = start; position < end; position++) {
    const row = order ? order[position]! : position - offset;
    rows.push(table.columns.map((column) => cellValue(column, row)));
  }
  return {
    headers: profile.columns,
    rows,
    total_rows: totalRows,
    page: query.page,
    page_size: query.page_size,
    total_pages: Math.ceil(totalRows / query.page_size),
    sort_col: query.sort_col ?? null,
    sort_dir: query.sort_dir,
  };
}

// ---------------------------------------------------------------- validate / lock

export interface ValidationResult {
  valid: boolean;
  issues: string[];
  columns_checked: number;
  rows_checked: number;
  is_validated: boolean;
  locked: boolean;
}

async function assertWritable(item: DatasetItem): Promise<void> {
  const ids = await listIds();
  await Billing.assertWritable("datasets", item.createdAt, ids.indexOf(item.datasetId) + 1);
}

/**
 * Checks every row's statistics gathered at ingest (type consistency, missing
 * values, rows whose width differs from the header, timestamps). A valid
 * dataset is locked: immutable and usable for training until unlocked.
 * @throws dataset.not_found (404), dataset.not_ready (409), auth.forbidden / plan.resource_read_only (403)
 */
export async function validate(datasetId: string): Promise<ValidationResult> {
  assertRole("operator");
  const item = await requireItem(datasetId);
  requireReady(item);
  await assertWritable(item);
  const issues = issuesOf(item.profile);
  const valid = issues.length === 0;
  const result = {
    valid,
    issues,
    columns_checked: item.profile.columns.length,
    rows_checked: item.profile.row_count,
    is_validated: valid,
    locked: valid,
  };
  try {
    await DatasetEntity.patch({ tenantId: item.tenantId, datasetId })
      .set({
        isValidated: valid,
        locked: valid,
        lastValidation: { valid, issues, at: new Date().toISOString() },
        ...(valid ? { validatedAt: new Date().toISOString() } : {}),
      })
      .where((attr, op) => `${op.eq(attr.status, "ready")} AND ${op.eq(attr.columnarPrefix, item.columnarPrefix)}`)
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) throw conflict("dataset.changed", "The dataset changed during validation; try again", undefined, error);
    throw error;
  }
  if (valid) {
    await Realtime.publish(DatasetValidated, Topic.dataset(item.tenantId, datasetId), { dataset_id: datasetId });
  }
  return result;
}

/**
 * Unlocks a dataset: it is no longer validated, and training needs a new validation.
 * @throws dataset.not_found (404), auth.forbidden / plan.resource_read_only (403)
 */
export async function unlock(datasetId: string): Promise<{ message: string; is_validated: false; locked: false }> {
  assertRole("operator");
  const item = await requireItem(datasetId);
  await assertWritable(item);
  try {
    await DatasetEntity.patch({ tenantId: item.tenantId, datasetId })
      .set({ isValidated: false, locked: false })
      .remove(["validatedAt"])
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) throw notFound("dataset", datasetId);
    throw error;
  }
  return { message: "Dataset unlocked", is_validated: false, locked: false };
}

/**
 * For the training worker: throws 400 dataset.not_validated unless the dataset
 * is ready, validated and locked.
 * @example Dataset.assertTrainable(await Dataset.get(id));
 */
export function assertTrainable(dataset: Pick<Info, "id" | "status" | "is_validated" | "locked">): void {
  if (dataset.status !== "ready" || !dataset.is_validated || !dataset.locked) {
    throw invalid("dataset.not_validated", "Dataset has not been validated", {
      dataset_id: dataset.id,
      status: dataset.status,
      is_validated: dataset.is_validated,
      locked: dataset.locked,
    });
  }
}

// ---------------------------------------------------------------- columns for training

export interface Columns {
  /** Numeric columns in file order (the label column included, if any). */
  columns: string[];
  numeric: Record<string, Float32Array>;
  /** Epoch milliseconds of each row (NaN where unparseable), when the file has a timestamp column. */
  timestamps?: Float64Array;
  /** A 0/1 column named anomaly/fault/label (also present in `numeric`). */
  labelColumn?: string;
  rowCount: number;
  samplingIntervalSeconds?: number;
}

/**
 * The dataset's numeric columns as typed arrays (NaN = missing), read from the
 * columnar copy (cached per process). Needs no actor: the tenant is explicit.
 * @throws dataset.not_found (404), dataset.not_ready (409)
 */
export async function loadColumns(tenantId: string, datasetId: string): Promise<Columns> {
  const item = await itemOf(tenantId, datasetId);
  if (!item) throw notFound("dataset", datasetId);
  requireReady(item);
  const table = await loadTable(item.columnarPrefix, item.chunkCount);
  const numeric: Record<string, Float32Array> = {};
  const columns: string[] = [];
  let timestamps: Float64Array | undefined;
  for (const column of table.columns) {
    if (column.kind === "numeric") {
      numeric[column.name] = column.values;
      columns.push(column.name);
    } else if (column.kind === "time") timestamps = column.values;
  }
  return {
    columns,
    numeric,
    timestamps,
    labelColumn: item.profile.label_column ?? undefined,
    rowCount: table.rows,
    samplingIntervalSeconds: item.profile.sampling_interval_seconds ?? undefined,
  };
}

// ---------------------------------------------------------------- recommend

/**
 * Architecture recommendations computed from the data, best first.
 * @throws dataset.not_found (404), dataset.not_ready (409)
 */
export async function recommendations(datasetId: string): Promise<{
  dataset_id: string;
  recommendations: Recommendation[];
  analysis: ReturnType<typeof features>;
}> {
  const item = await requireItem(datasetId);
  requireReady(item);
  const table = await loadTable(item.columnarPrefix, item.chunkCount);
  const analysis = features(item.profile, table);
  return { dataset_id: datasetId, recommendations: scoreArchitectures(analysis), analysis };
}

