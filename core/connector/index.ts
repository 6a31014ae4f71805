/**
 * Connected sources (seed 002 POST /datasets/connect): rows from a database,
 * a historian or an HTTP source become a dataset through the same ingest as
 * an upload. The request checks the source with a bounded probe (connect, run
 * the query for its first rows, check there is a time column and a numeric
 * one), so a wrong password or host answers at once; the import itself runs
 * as a job on the import queue: it streams the rows as CSV into the dataset's
 * upload object (capped at the plan's dataset size), then hands the dataset to
 * ingest. Progress goes to `dataset:<id>` as `dataset.rows_imported`.
 */
export * as Connector from "./index";

import { Readable } from "node:stream";
import { assertRole, useTenant } from "../actor";
import { Billing } from "../billing";
import { Breaker } from "../breaker";
import { Config } from "../config";
import { Dataset } from "../dataset";
import { DatasetFileError } from "../dataset/analyze";
import { DomainError, invalid } from "../error";
import { parse } from "../fn";
import { logger } from "../logger";
import { enqueue } from "../queue";
import { Realtime, Topic } from "../realtime";
import { DatasetRowsImported } from "../realtime/events";
import { Secrets } from "../secrets";
import { MAX_DIRECT_UPLOAD_BYTES } from "../billing/plans";
import { createId } from "../id";
import { deleteObject, putObject } from "../storage";
import { csvLine, PROBE_ROWS, shapeOf, type ProbeShape, type SourceRows, type Value } from "./rows";
import { ConnectInput, sourceTypeOf, type Spec, type TimeRange } from "./spec";
import { limited, singleSelect } from "./sql";
import type { OpenOptions } from "./sources/common";
import { openMongoDataApi, openRestRows, openSpacetime } from "./sources/documents";
import { openInflux } from "./sources/influx";
import { UPLOADED } from "./sources/common";
import { openBridge } from "./telemetry";
import { openStream } from "./uploads";

export { ConnectInput, SOURCE_TYPES, type Spec } from "./spec";
export { push as pushTelemetry, MAX_TELEMETRY_BYTES } from "./telemetry";

/** The probe inside the HTTP request: quick to connect, quick to answer. */
const probeOptions = (): OpenOptions => ({ connectTimeoutMs: 5_000, statementTimeoutMs: Config.connectorProbeTimeoutMs() });
/** The import job (a 15-minute Lambda): the query may stream for most of it. */
const IMPORT_OPTIONS: OpenOptions = { connectTimeoutMs: 10_000, statementTimeoutMs: 12 * 60_000 };
/** The import job owns its dataset this long (the import Lambda's timeout). */
const IMPORT_LEASE_SECONDS = 15 * 60;
const PROGRESS_EVERY_MS = 2_000;
/** CSV text is handed to the object upload in pieces of about this size. */
const CSV_PIECE_BYTES = 256 * 1024;

/** The message on the import queue. */
export interface ImportMessage {
  tenant_id: string;
  dataset_id: string;
}

/**
 * The database drivers, loaded when a source needs one: the HTTP functions
 * that import this module (datasets, connections) do not pay for pg, mysql2
 * and better-sqlite3 at cold start on every other request.
 */
const drivers = {
  postgres: () => import("./sources/postgres"),
  mysql: () => import("./sources/mysql"),
  sqlite: () => import("./sources/sqlite"),
};

/** A sync: only rows whose time column is after `after` (ISO 8601), the newest row the previous version holds. */
export interface Since {
  column: string;
  after: string;
}

/** `query` limited to rows after `since`, in the source's SQL dialect. */
function sqlAfter(query: string, since: Since, dialect: "postgresql" | "mysql" | "sqlite"): string {
  const quoted = dialect === "mysql" ? `\`${since.column.replace(/`/g, "``")}\`` : `"${since.column.replace(/"/g, '""')}"`;
  const at = new Date(since.after).toISOString();
  const condition =
    dialect === "mysql"
      ? `${quoted} > '${at.replace("T", " ").replace("Z", "")}'`
      : dialect === "sqlite"
        ? `julianday(${quoted}) > julianday('${at}')`
        : `${quoted} > '${at}'`;
  return `SELECT * FROM (${query}) AS flint_sync WHERE ${condition}`;
}

/** The time range after `since` (exclusive) up to the range's end, or now. */
function rangeAfter(range: TimeRange | undefined, since: Since | undefined): TimeRange | undefined {
  if (!since) return range;
  return { start: new Date(Date.parse(since.after) + 1).toISOString(), end: range?.end ?? new Date().toISOString() };
}

/** Opens a source for reading: the probe reads its first rows, the import all of them (after `since`, for a sync). */
async function open(spec: Spec, options: OpenOptions, probe: boolean, since?: Since): Promise<SourceRows> {
  switch (spec.source_type) {
    case "postgresql":
    case "tidb": {
      const selected = singleSelect(spec.query);
      if (spec.api_url) return afterRows(await openRestRows(spec.api_url, selected, spec.api_key, options, probe), since);
      const query = since ? sqlAfter(selected, since, spec.source_type === "postgresql" ? "postgresql" : "mysql") : selected;
      const sql = probe ? limited(query, PROBE_ROWS) : query;
      return spec.source_type === "postgresql"
        ? (await drivers.postgres()).openPostgres(spec.connection_string!, sql, options)
        : (await drivers.mysql()).openMysql(spec.connection_string!, sql, options);
    }
    case "sqlite": {
      const selected = singleSelect(spec.query);
      const query = since ? sqlAfter(selected, since, "sqlite") : selected;
      return (await drivers.sqlite()).openSqlite(useTenant(), spec.connection_string, probe ? limited(query, PROBE_ROWS) : query, options);
    }
    case "influxdb":
      return openInflux({ ...spec, time_range: rangeAfter(spec.time_range, since) }, options, probe);
    case "mongodb":
      return afterRows(await openMongoDataApi(spec, options, probe && !since), since);
    case "spacetimedb":
      return afterRows(await openSpacetime({ ...spec, query: singleSelect(spec.query) }, options, probe && !since), since);
    case "aegis_bridge":
    case "edge_bridge":
      return openBridge(useTenant(), { ...spec, time_range: rangeAfter(spec.time_range, since) });
    case "upload_stream":
      return openStream(useTenant(), { ...spec, time_range: rangeAfter(spec.time_range, since) });
  }
}

/** The host a spec reaches over the network (its circuit breaker's name), or undefined for local sources. */
function hostOf(spec: Spec): string | undefined {
  const address =
    "connection_string" in spec && spec.connection_string && spec.source_type !== "sqlite"
      ? spec.connection_string
      : "api_url" in spec && spec.api_url
        ? spec.api_url
        : "url" in spec
          ? spec.url
          : undefined;
  if (!address) return undefined;
  const match = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]+)/i.exec(address);
  return match?.[1]?.toLowerCase();
}

/**
 * Runs `connect` through the source host's circuit breaker (per tenant, so one
 * tenant's dead database never blocks another's): after repeated failures to
 * connect, calls fail fast with 503 connector.circuit_open until a probe succeeds.
 */
function guarded<T>(spec: Spec, connect: () => Promise<T>): Promise<T> {
  const host = hostOf(spec);
  if (!host) return connect();
  return Breaker.guard(
    `connector:${useTenant()}:${host}`,
    {
      code: "connector.circuit_open",
      label: host,
      isFailure: (error) => error instanceof DomainError && (error.kind === "upstream" || error.kind === "timeout"),
    },
    connect,
  );
}

/** For sources that cannot filter: the rows after `since`, filtered here. */
function afterRows(source: SourceRows, since: Since | undefined): SourceRows {
  if (!since) return source;
  const index = source.columns.indexOf(since.column);
  const after = Date.parse(since.after);
  if (index === -1) return source;
  async function* rows() {
    for await (const row of source.rows) {
      const value = row[index];
      const time = value instanceof Date ? value.getTime() : Date.parse(String(value));
      if (!(time <= after)) yield row;
    }
  }
  return { ...source, rows: rows() };
}

/** The first rows of a source, read and closed: what the probe checks. */
async function sample(spec: Spec, since?: Since): Promise<{ columns: string[]; rows: Value[][] }> {
  const source = await guarded(spec, () => open(spec, probeOptions(), true, since));
  const rows: Value[][] = [];
  try {
    for await (const row of source.rows) {
      rows.push(row);
      if (rows.length >= PROBE_ROWS) break;
    }
  } finally {
    await source.close();
  }
  return { columns: source.columns, rows };
}

/** Where a sealed spec belongs: it opens only for this tenant's dataset. */
const sealContext = (tenantId: string, datasetId: string) => `dataset-import:${tenantId}:${datasetId}`;

/**
 * Checks the source and starts importing it as a new dataset.
 * @returns the new dataset (status `processing`; `dataset.ready` follows on `dataset:<id>`)
 * @throws connector.unsupported_source / request.invalid / connector.not_select /
 *   connector.invalid_connection_string / connector.address_not_allowed /
 *   connector.query_failed / connector.no_time_column / connector.no_numeric_columns /
 *   connector.no_rows (400), connector.cannot_connect (502), connector.timeout (504),
 *   plan.dataset_limit_reached / auth.forbidden (403)
 */
export async function connect(input: unknown): Promise<Dataset.Info> {
  assertRole("operator");
  const given = (input ?? {}) as Record<string, unknown>;
  const spec = parse(ConnectInput, { ...given, source_type: sourceTypeOf(given) });
  if (spec.source_type === "sqlite" && spec.connection_string.startsWith(UPLOADED)) {
    throw invalid("connector.sqlite_not_found", "Upload the SQLite file to POST /datasets/connect/sqlite, or name a file in the import folder");
  }
  await probe(spec);
  return startImport(spec);
}

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

/**
 * An uploaded SQLite file as the source (POST /datasets/connect/sqlite,
 * multipart with `query` and the `file`): the file is kept
 * under the tenant in the bucket until its import ends, probed and imported
 * like a file of the import folder.
 * @throws connector.not_sqlite (400), dataset.file_too_large (413), and what connect throws
 */
export async function connectFile(input: { fields: Record<string, unknown>; file: Uint8Array }): Promise<Dataset.Info> {
  assertRole("operator");
  if (input.file.byteLength > MAX_DIRECT_UPLOAD_BYTES) {
    throw new DomainError("too_large", "dataset.file_too_large", `Uploaded files are limited to ${MAX_DIRECT_UPLOAD_BYTES / 1024 / 1024} MB`, { limit: MAX_DIRECT_UPLOAD_BYTES, size_bytes: input.file.byteLength });
  }
  if (!Buffer.from(input.file.subarray(0, SQLITE_MAGIC.length)).equals(SQLITE_MAGIC)) throw invalid("connector.not_sqlite", "The file is not a SQLite database");
  const key = `tenants/${useTenant()}/imports/${createId("sqlf")}.db`;
  const spec = parse(ConnectInput, { ...input.fields, source_type: "sqlite", connection_string: `${UPLOADED}${key}` });
  await putObject(key, input.file, "application/vnd.sqlite3");
  try {
    await probe(spec);
    return await startImport(spec);
  } catch (error) {
    await deleteObject(key).catch(() => undefined);
    throw error;
  }
}

/** An uploaded source file is kept only until its import ends. */
async function forgetUploadedFile(spec: Spec): Promise<void> {
  if (spec.source_type === "sqlite" && spec.connection_string.startsWith(UPLOADED)) {
    await deleteObject(spec.connection_string.slice(UPLOADED.length)).catch(() => undefined);
  }
}

/**
 * Checks that the first rows of a source (after `since`, for a sync) can become a dataset.
 * @returns the time column, the numeric columns, all columns and how many rows were read
 * @throws connector.no_rows (also when a sync finds nothing new) / no_time_column / no_numeric_columns (400),
 *   and whatever opening the source throws
 */
export async function probe(spec: Spec, options: { since?: Since } = {}): Promise<ProbeShape & { columns: string[]; rows_sampled: number }> {
  const sampled = await sample(spec, options.since);
  const shape = shapeOf(sampled.columns, sampled.rows);
  if ("problem" in shape) {
    const messages = {
      no_rows:
        spec.source_type === "aegis_bridge" || spec.source_type === "edge_bridge"
          ? "The controller has pushed no rows for this collection and time range (controllers push to POST /api/v1/devices/telemetry)"
          : spec.source_type === "upload_stream"
            ? "No rows were pushed to this stream in this time range (gateways push to POST /api/v1/upload/batch)"
          : options.since
            ? `The source has no rows after ${options.since.after}`
            : "The source returned no rows",
      no_time_column: "The source's rows have no time column (a column of timestamps in every row)",
      no_numeric_columns: "The source's rows have no numeric column besides the time",
    } as const;
    throw invalid(`connector.${shape.problem}`, messages[shape.problem], { columns: sampled.columns, rows_sampled: sampled.rows.length });
  }
  return { ...shape, columns: sampled.columns, rows_sampled: sampled.rows.length };
}

/** What the import job opens: the spec, and for a sync where it starts. */
interface SealedImport {
  spec: Spec;
  since?: Since;
}

/**
 * Creates the dataset and queues its import.
 * @param sync a saved connection's next version: its number, the version before it and where that one ended
 */
export async function startImport(spec: Spec, sync?: { connectionId: string; version: number; previousVersionId?: string; since?: Since }): Promise<Dataset.Info> {
  const sealed: SealedImport = { spec, since: sync?.since };
  const datasetId = await Dataset.createImport({
    name: sync ? `${spec.name} v${sync.version}` : spec.name,
    equipment_type: spec.equipment_type,
    location: spec.location,
    unit: spec.unit,
    source: spec.source_type,
    seal: (tenantId, id) => Secrets.seal(JSON.stringify(sealed), sealContext(tenantId, id)),
    version: sync ? { connectionId: sync.connectionId, number: sync.version, previousVersionId: sync.previousVersionId } : undefined,
  });
  const tenantId = useTenant();
  try {
    await enqueue("import", { tenant_id: tenantId, dataset_id: datasetId } satisfies ImportMessage);
  } catch (error) {
    // Never a dataset that nothing will import.
    await Dataset.remove(datasetId).catch(() => undefined);
    throw error;
  }
  return Dataset.get(datasetId);
}

/** The CSV text of a source's rows, in pieces of about CSV_PIECE_BYTES. */
async function* csvOf(source: SourceRows): AsyncGenerator<Buffer> {
  let piece = csvLine(source.columns);
  try {
    for await (const row of source.rows) {
      piece += csvLine(row);
      if (piece.length >= CSV_PIECE_BYTES) {
        yield Buffer.from(piece, "utf8");
        piece = "";
      }
    }
    yield Buffer.from(piece, "utf8");
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** The import's CSV: PostgreSQL writes its own (COPY); every other source's rows are written here. */
async function csvFor({ spec, since }: SealedImport): Promise<AsyncIterable<Buffer>> {
  if (spec.source_type === "postgresql" && spec.connection_string) {
    const query = singleSelect(spec.query);
    const { copyPostgres } = await drivers.postgres();
    return guarded(spec, () => copyPostgres(spec.connection_string!, since ? sqlAfter(query, since, "postgresql") : query, IMPORT_OPTIONS));
  }
  return csvOf(await guarded(spec, () => open(spec, IMPORT_OPTIONS, false, since)));
}

const NEWLINE = 10;

/** Passes the CSV on, counting rows (lines after the header) and bytes, and refusing more than `maxBytes`. */
async function* counted(csv: AsyncIterable<Buffer>, maxBytes: number, tier: string, totals: { rows: number; bytes: number }): AsyncGenerator<Buffer> {
  let lines = 0;
  for await (const chunk of csv) {
    totals.bytes += chunk.byteLength;
    if (totals.bytes > maxBytes) throw sizeLimit(maxBytes, tier);
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) lines++;
    totals.rows = Math.max(0, lines - 1);
    yield chunk;
  }
}

const sizeLimit = (maxBytes: number, tier: string) =>
  new DomainError("forbidden", "plan.dataset_size_limit_reached", `The source holds more than your ${tier} plan's dataset size allows`, { limit: maxBytes, tier });

export type ImportResult = "imported" | "failed" | "ignored" | "deferred";

/**
 * The import job: streams the source into the dataset's upload object and
 * hands it to ingest. Idempotent: a dataset that is no longer waiting for its
 * import is ignored; a second attempt while one holds the lease is deferred.
 * A source error fails the dataset with the error's code and message (and
 * gives its slot back); an unexpected error is retried, and fails the dataset
 * on the last attempt.
 */
export async function runImport(message: ImportMessage & { finalAttempt?: boolean }): Promise<ImportResult> {
  const { tenant_id: tenantId, dataset_id: datasetId } = message;
  const item = await Dataset.DatasetEntity.get({ tenantId, datasetId }).go({ consistent: true });
  const dataset = item.data;
  if (!dataset || dataset.uploadMethod !== "import" || dataset.status !== "processing" || !dataset.importSpec) return "ignored";
  const lease = await Dataset.takeLease(tenantId, datasetId, IMPORT_LEASE_SECONDS);
  if (lease === "gone") return "ignored";
  if (typeof lease === "object") {
    await enqueue("import", { tenant_id: tenantId, dataset_id: datasetId } satisfies ImportMessage, { delaySeconds: lease.retryInSeconds });
    return "deferred";
  }
  const topic = Topic.dataset(tenantId, datasetId);
  const totals = { rows: 0, bytes: 0 };
  const fail = async (error: DomainError | DatasetFileError) => {
    await deleteObject(dataset.sourceKey).catch(() => undefined);
    await Dataset.markFailed(tenantId, datasetId, lease, new DatasetFileError(error.code, error.message, error.details as Record<string, unknown> | undefined));
    await Dataset.DatasetEntity.patch({ tenantId, datasetId }).remove(["importSpec"]).go().catch(() => undefined);
  };
  let timer: NodeJS.Timeout | undefined;
  let spec: Spec | undefined;
  try {
    const sealed = JSON.parse(await Secrets.open(dataset.importSpec, sealContext(tenantId, datasetId))) as SealedImport;
    const limits = await Billing.currentLimits();
    spec = parse(ConnectInput, sealed.spec);
    const csv = await csvFor({ spec, since: sealed.since });
    timer = setInterval(() => {
      void Realtime.publish(DatasetRowsImported, topic, { dataset_id: datasetId, rows: totals.rows, bytes: totals.bytes, done: false }).catch(() => undefined);
    }, PROGRESS_EVERY_MS);
    try {
      await putObject(dataset.sourceKey, Readable.from(counted(csv, limits.max_dataset_size_bytes, limits.tier, totals)), "text/csv");
    } finally {
      clearInterval(timer);
    }
  } catch (error) {
    clearInterval(timer);
    if (error instanceof DomainError) {
      logger.warn("import failed", { tenantId, datasetId, code: error.code, rows: totals.rows });
      await fail(error);
      if (spec) await forgetUploadedFile(spec);
      return "failed";
    }
    if (message.finalAttempt) {
      logger.error("import failed on its last attempt", { tenantId, datasetId, error: error as Error });
      await fail(new DomainError("upstream", "connector.import_error", "The import could not be completed; please connect again"));
      if (spec) await forgetUploadedFile(spec);
      return "failed";
    }
    await Dataset.releaseLease(tenantId, datasetId, lease);
    throw error;
  }
  await Realtime.publish(DatasetRowsImported, topic, { dataset_id: datasetId, rows: totals.rows, bytes: totals.bytes, done: true });
  if (spec) await forgetUploadedFile(spec);
  // The rows are stored: credentials are no longer needed, and ingest may take the dataset.
  await Dataset.DatasetEntity.patch({ tenantId, datasetId })
    .remove(["importSpec", "leaseId", "leaseUntil"])
    .where((attr, op) => op.eq(attr.leaseId, lease))
    .go();
  const ingested = await Dataset.ingest({ tenantId, datasetId, finalAttempt: message.finalAttempt });
  logger.info("import", { tenantId, datasetId, rows: totals.rows, bytes: totals.bytes, ingest: ingested });
  return ingested === "failed" ? "failed" : "imported";
}
