/**
 * InfluxDB: v3's SQL API (`POST /api/v3/query_sql`, JSON lines) and InfluxQL
 * (`GET /query`, chunked JSON) for 1.x and 2.x servers. With
 * `influx_version: "auto"` the server's `/ping` version header decides.
 */
import { invalid } from "../../error";
import type { TimeRange } from "../spec";
import { PROBE_ROWS, type SourceRows, type Value } from "../rows";
import { connectionFailed, type OpenOptions } from "./common";
import { jsonLines, request } from "./http";

export interface InfluxSpec {
  url: string;
  database: string;
  measurement: string;
  time_range?: TimeRange;
  influx_version: "auto" | "3" | "1";
  token?: string;
  username?: string;
  password?: string;
}

const CHUNK_ROWS = 10_000;

function base(url: string): string {
  return url.replace(/\/+$/, "");
}

function authorization(spec: InfluxSpec, version: "3" | "1"): Record<string, string> {
  if (spec.token) return { authorization: version === "3" ? `Bearer ${spec.token}` : `Token ${spec.token}` };
  if (spec.username !== undefined) return { authorization: `Basic ${Buffer.from(`${spec.username}:${spec.password ?? ""}`).toString("base64")}` };
  return {};
}

async function versionOf(spec: InfluxSpec, options: OpenOptions): Promise<"3" | "1"> {
  if (spec.influx_version !== "auto") return spec.influx_version;
  const response = await request(`${base(spec.url)}/ping`, { headers: authorization(spec, "1") }, { ...options, statementTimeoutMs: options.connectTimeoutMs });
  const header = response.headers.get("x-influxdb-version") ?? "";
  await response.body?.cancel().catch(() => undefined);
  return header.startsWith("3") || header.toLowerCase().includes("v3") ? "3" : "1";
}

/** `"name"` with InfluxQL's and SQL's identifier quoting. */
const identifier = (name: string) => `"${name.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const literal = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

function selectFor(spec: InfluxSpec, limit?: number): string {
  const where = spec.time_range ? ` WHERE time >= ${literal(spec.time_range.start)} AND time <= ${literal(spec.time_range.end)}` : "";
  return `SELECT * FROM ${identifier(spec.measurement)}${where} ORDER BY time${limit ? ` LIMIT ${limit}` : ""}`;
}

/** v3 gives UTC timestamps without a zone: they are made explicit, so nothing reads them as local time. */
function utc(value: Value): Value {
  return typeof value === "string" && /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(value) ? `${value}Z` : value;
}

async function openV3(spec: InfluxSpec, options: OpenOptions, probe: boolean): Promise<SourceRows> {
  const host = new URL(spec.url).host;
  const response = await request(
    `${base(spec.url)}/api/v3/query_sql`,
    {
      method: "POST",
      headers: { "content-type": "application/json", ...authorization(spec, "3") },
      body: JSON.stringify({ db: spec.database, q: selectFor(spec, probe ? PROBE_ROWS : undefined), format: "jsonl" }),
    },
    options,
  );
  const lines = jsonLines(response, host);
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  const columns = first.done ? [] : Object.keys(first.value as object);
  async function* rows(): AsyncGenerator<Value[]> {
    if (first.done) return;
    const row = (object: unknown) => columns.map((column) => (column === "time" ? utc((object as Record<string, Value>)[column]) : (object as Record<string, Value>)[column]));
    yield row(first.value);
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield row(next.value);
    }
  }
  return { columns, rows: rows(), close: async () => void (await iterator.return?.(undefined)) };
}

interface InfluxChunk {
  error?: string;
  results?: { error?: string; series?: { columns: string[]; values: Value[][] }[] }[];
}

async function openV1(spec: InfluxSpec, options: OpenOptions, probe: boolean): Promise<SourceRows> {
  const host = new URL(spec.url).host;
  const parameters = new URLSearchParams({ db: spec.database, q: selectFor(spec, probe ? PROBE_ROWS : undefined), chunked: "true", chunk_size: String(CHUNK_ROWS) });
  const response = await request(`${base(spec.url)}/query?${parameters}`, { headers: authorization(spec, "1") }, options);
  const chunks = jsonLines(response, host);
  const iterator = chunks[Symbol.asyncIterator]();
  const seriesOf = (chunk: unknown) => {
    const body = chunk as InfluxChunk;
    const failure = body.error ?? body.results?.find((result) => result.error)?.error;
    if (failure) {
      throw /not found/i.test(failure)
        ? connectionFailed(host, failure)
        : invalid("connector.query_failed", `The query failed: ${failure}`, { host });
    }
    return body.results?.flatMap((result) => result.series ?? []) ?? [];
  };
  let pending: { columns: string[]; values: Value[][] }[] = [];
  let done = false;
  while (pending.length === 0 && !done) {
    const next = await iterator.next();
    if (next.done) done = true;
    else pending = seriesOf(next.value);
  }
  const columns = pending[0]?.columns ?? [];
  async function* rows(): AsyncGenerator<Value[]> {
    for (;;) {
      for (const series of pending) {
        const order = columns.map((column) => series.columns.indexOf(column));
        for (const values of series.values) yield order.map((index) => (index === -1 ? null : values[index]));
      }
      if (done) return;
      const next = await iterator.next();
      if (next.done) return;
      pending = seriesOf(next.value);
    }
  }
  return { columns, rows: rows(), close: async () => void (await iterator.return?.(undefined)) };
}

export async function openInflux(spec: InfluxSpec, options: OpenOptions, probe: boolean): Promise<SourceRows> {
  const version = await versionOf(spec, options);
  return version === "3" ? openV3(spec, options, probe) : openV1(spec, options, probe);
}
