/**
 * Telemetry from edge controllers (the `aegis_bridge` source): a controller
 * pushes its sensor rows with its device credential, CSV or JSON, gzip
 * allowed; nothing ever connects to a controller. Rows are buffered in the
 * bucket per target, collection and hour of their timestamps
 * (`tenants/<t>/telemetry/<target>/<collection>/<YYYY-MM-DDTHH>/<id>.csv`),
 * so an import of a time range reads only the hours it covers.
 */
import { gunzipSync } from "node:zlib";
import { parse as parseCsv } from "csv-parse/sync";
import { z } from "zod";
import { useActor } from "../actor";
import { TargetEntity } from "../deployment/entities";
import { DomainError, invalid, unauthorized } from "../error";
import { createId } from "../id";
import { getObjectBytes, listKeys, putObject } from "../storage";
import { csvLine, TIME_COLUMN_NAMES, type SourceRows, type Value } from "./rows";
import type { TimeRange } from "./spec";

/** Largest push accepted once decompressed (a gzip bomb stops here). */
export const MAX_TELEMETRY_BYTES = 20 * 1024 * 1024;
export const MAX_TELEMETRY_ROWS = 200_000;
/** An import without a time range reads this far back. */
const DEFAULT_RANGE_DAYS = 30;

export const Collection = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, "collection may hold letters, digits, '_', '.' and '-'");


function prefixOf(tenantId: string, targetId: string, collection: string): string {
  return `tenants/${tenantId}/telemetry/${targetId}/${collection}/`;
}

const hourOf = (time: number) => new Date(time).toISOString().slice(0, 13);

/** The rows of a push as header + records, whichever format it came in. */
function recordsOf(text: string, format: "csv" | "json"): { columns: string[]; records: Value[][] } {
  if (format === "csv") {
    let table: string[][];
    try {
      table = parseCsv(text, { relax_column_count: false, skip_empty_lines: true, trim: true, bom: true }) as string[][];
    } catch (error) {
      throw invalid("telemetry.invalid_csv", `The CSV could not be read: ${(error as Error).message}`);
    }
    const [header, ...records] = table;
    if (!header) throw invalid("telemetry.empty", "No rows were sent");
    return { columns: header, records };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid("telemetry.invalid_json", "The body is not JSON");
  }
  const list = Array.isArray(body) ? body : (body as { rows?: unknown }).rows;
  if (!Array.isArray(list) || list.some((row) => !row || typeof row !== "object" || Array.isArray(row))) {
    throw invalid("telemetry.invalid_json", "Send a JSON array of row objects, or { rows: [...] }");
  }
  const columns: string[] = [];
  for (const row of list as Record<string, Value>[]) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  return { columns, records: (list as Record<string, Value>[]).map((row) => columns.map((column) => row[column] ?? null)) };
}

function timeOf(value: Value): number {
  if (typeof value === "number") return value > 1e11 ? value : value * 1000;
  if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value)) return timeOf(Number(value));
  return typeof value === "string" ? Date.parse(value) : Number.NaN;
}

/** Rows as a client sent them: CSV or JSON, maybe gzipped. */
export interface RowsBody {
  body: Uint8Array;
  contentType: string;
  gzip: boolean;
}

export interface PushInput extends RowsBody {
  collection: string;
}

/**
 * Stores a controller's rows (the caller must be a device).
 * @returns how many rows were kept and the hours they went to
 * @throws auth.device_required (401), telemetry.* (400) for a body that is
 *   not rows with a time column, request.too_large (413) past the size cap
 */
export async function push(input: PushInput): Promise<{ collection: string; rows: number; time_range: TimeRange }> {
  const actor = useActor();
  if (actor.type !== "device") throw unauthorized("auth.device_required", "Telemetry is pushed with a device credential (Authorization: Device <credential>)");
  const collection = Collection.safeParse(input.collection);
  if (!collection.success) throw invalid("telemetry.invalid_collection", collection.error.issues[0]!.message);
  const stored = await storeRows(prefixOf(actor.tenantId, actor.targetId, collection.data), input);
  return { collection: collection.data, ...stored };
}

/**
 * Checks a body of rows and stores it under `prefix`, split by the hour of
 * each row's time.
 * @throws telemetry.* (400) for a body that is not rows with a time column, request.too_large (413)
 */
export async function storeRows(prefix: string, input: RowsBody): Promise<{ rows: number; time_range: TimeRange }> {
  let bytes = Buffer.from(input.body);
  if (input.gzip) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_TELEMETRY_BYTES });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge();
      throw invalid("telemetry.invalid_gzip", "The body is not valid gzip");
    }
  }
  if (bytes.byteLength > MAX_TELEMETRY_BYTES) throw tooLarge();
  const format = /json/i.test(input.contentType) ? "json" : "csv";
  const { columns, records } = recordsOf(bytes.toString("utf8"), format);
  if (records.length === 0) throw invalid("telemetry.empty", "No rows were sent");
  if (records.length > MAX_TELEMETRY_ROWS) throw invalid("telemetry.too_many_rows", `At most ${MAX_TELEMETRY_ROWS} rows per push`, { rows: records.length });
  const timeIndex = columns.findIndex((column) => TIME_COLUMN_NAMES.includes(column.toLowerCase()));
  if (timeIndex === -1) throw invalid("telemetry.no_time_column", `The rows need a time column (${TIME_COLUMN_NAMES.join(", ")})`, { columns });
  const byHour = new Map<string, Value[][]>();
  let first = Infinity;
  let last = -Infinity;
  for (const [index, record] of records.entries()) {
    const time = timeOf(record[timeIndex]);
    if (!Number.isFinite(time)) throw invalid("telemetry.invalid_time", `Row ${index + 1} has no valid time`, { row: index + 1 });
    first = Math.min(first, time);
    last = Math.max(last, time);
    const row = [...record];
    row[timeIndex] = new Date(time);
    const hour = hourOf(time);
    const rows = byHour.get(hour) ?? [];
    rows.push(row);
    byHour.set(hour, rows);
  }
  const header = [...columns];
  header[timeIndex] = "timestamp";
  const batch = createId("tb");
  for (const [hour, rows] of byHour) {
    await putObject(`${prefix}${hour}/${batch}.csv`, csvLine(header) + rows.map(csvLine).join(""), "text/csv");
  }
  return { rows: records.length, time_range: { start: new Date(first).toISOString(), end: new Date(last).toISOString() } };
}

const tooLarge = () =>
  new DomainError("too_large", "request.too_large", `A telemetry push may hold at most ${MAX_TELEMETRY_BYTES / 1024 / 1024} MB of rows`, { max_bytes: MAX_TELEMETRY_BYTES });

export interface BridgeSpec {
  controller_ip?: string;
  target_id?: string;
  collection: string;
  time_range?: TimeRange;
}

/** The calling tenant's controller a spec names. @throws connector.unknown_controller (400) */
async function targetOf(tenantId: string, spec: BridgeSpec): Promise<string> {
  if (spec.target_id) {
    const found = await TargetEntity.get({ tenantId, targetId: spec.target_id }).go();
    if (!found.data) throw invalid("connector.unknown_controller", "No controller of yours has this target_id", { target_id: spec.target_id });
    return found.data.targetId;
  }
  if (!spec.controller_ip) throw invalid("request.invalid", "give controller_ip or target_id", { issues: [{ path: "controller_ip", message: "give controller_ip or target_id" }] });
  const targets = (await TargetEntity.query.byTenant({ tenantId }).go({ pages: "all" })).data.filter((target) => target.ip === spec.controller_ip);
  if (targets.length > 1) {
    throw invalid("connector.ambiguous_controller", "Several controllers have this IP; give target_id", { target_ids: targets.map((target) => target.targetId) });
  }
  if (!targets[0]) throw invalid("connector.unknown_controller", "No controller of yours has this IP; register it under /deployments/targets", { controller_ip: spec.controller_ip });
  return targets[0].targetId;
}

/**
 * The pushed rows of one controller's collection within the time range (the
 * last 30 days by default), hour by hour. Columns are the first batch's;
 * a later batch's other columns are matched by name.
 */
export async function openBridge(tenantId: string, spec: BridgeSpec): Promise<SourceRows> {
  const targetId = await targetOf(tenantId, spec);
  // The probe reads as far as it needs: batches are read one at a time, as the rows are.
  return openBuffered(prefixOf(tenantId, targetId, spec.collection), spec.time_range);
}

/** Rows stored by `storeRows` under `prefix` within the time range (the last 30 days by default), hour by hour. */
export async function openBuffered(prefix: string, range: TimeRange | undefined): Promise<SourceRows> {
  const end = range ? Date.parse(range.end) : Date.now();
  const start = range ? Date.parse(range.start) : end - DEFAULT_RANGE_DAYS * 86_400_000;
  const keys: string[] = [];
  // Keys sort by hour: start listing at the first hour of the range.
  for await (const key of listKeys(prefix, `${prefix}${hourOf(start)}`)) {
    const hour = key.slice(prefix.length, prefix.length + 13);
    if (hour < hourOf(start)) continue;
    if (hour > hourOf(end)) break;
    keys.push(key);
  }
  if (keys.length === 0) return { columns: [], rows: (async function* () {})(), close: async () => {} };
  const read = async (key: string) => recordsOf(Buffer.from(await getObjectBytes(key)).toString("utf8"), "csv");
  const first = await read(keys[0]!);
  const columns = first.columns;
  async function* rows(): AsyncGenerator<Value[]> {
    for (const [index, key] of keys.entries()) {
      const batch = index === 0 ? first : await read(key);
      const order = columns.map((column) => batch.columns.indexOf(column));
      const timeAt = batch.columns.indexOf("timestamp");
      for (const record of batch.records) {
        const time = Date.parse(String(record[timeAt]));
        if (time < start || time > end) continue;
        yield order.map((at) => (at === -1 ? null : record[at]));
      }
    }
  }
  return { columns, rows: rows(), close: async () => {} };
}
