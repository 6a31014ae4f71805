/**
 * The document and REST sources: the MongoDB Data API (`/action/find`, paged),
 * SpaceTimeDB's SQL endpoint (`/v1/database/:name/sql`) and a REST endpoint
 * that answers an SQL query with JSON rows (the seed's `api_url` for
 * PostgreSQL and TiDB).
 */
import { invalid } from "../../error";
import { PROBE_ROWS, objectSource, type SourceRows, type Value } from "../rows";
import { connectionFailed, type OpenOptions } from "./common";
import { jsonLines, jsonOf, request } from "./http";

const MONGO_PAGE = 5_000;

/** Extended JSON scalars as plain values: {$date}, {$oid}, {$numberDouble}, ... */
function plain(value: Value): Value {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const object = value as Record<string, Value>;
  if ("$date" in object) {
    const date = object.$date as Value;
    return new Date(typeof date === "object" && date && "$numberLong" in date ? Number((date as { $numberLong: string }).$numberLong) : (date as string | number));
  }
  if ("$oid" in object) return object.$oid;
  for (const key of ["$numberDouble", "$numberInt", "$numberLong", "$numberDecimal"]) if (key in object) return Number(object[key]);
  return value;
}

/** A document's fields, nested objects flattened one level (`sensor.temp`); `_id` is not sensor data. */
function flatten(document: Record<string, Value>): Record<string, Value> {
  const row: Record<string, Value> = {};
  for (const [key, raw] of Object.entries(document)) {
    if (key === "_id") continue;
    const value = plain(raw);
    if (value && typeof value === "object" && !(value instanceof Date) && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value as Record<string, Value>)) row[`${key}.${inner}`] = plain(innerValue);
    } else row[key] = value;
  }
  return row;
}

export interface MongoSpec {
  api_url: string;
  api_key: string;
  database: string;
  mongodb_collection: string;
  data_source: string;
  filter: Record<string, unknown>;
}

export async function openMongoDataApi(spec: MongoSpec, options: OpenOptions, probe: boolean): Promise<SourceRows> {
  const url = `${spec.api_url.replace(/\/+$/, "")}/action/find`;
  const host = new URL(spec.api_url).host;
  const page = probe ? PROBE_ROWS : MONGO_PAGE;
  async function* batches(): AsyncGenerator<Record<string, Value>[]> {
    for (let skip = 0; ; skip += page) {
      const response = await request(
        url,
        {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json", "api-key": spec.api_key },
          body: JSON.stringify({ dataSource: spec.data_source, database: spec.database, collection: spec.mongodb_collection, filter: spec.filter, sort: { _id: 1 }, skip, limit: page }),
        },
        options,
      );
      const body = (await jsonOf(response, host)) as { documents?: Record<string, Value>[] };
      if (!Array.isArray(body.documents)) throw connectionFailed(host, "the answer has no documents");
      yield body.documents.map(flatten);
      if (probe || body.documents.length < page) return;
    }
  }
  return objectSource(batches());
}

export interface SpacetimeSpec {
  api_url: string;
  database: string;
  query: string;
  auth_token?: string;
}

interface SpacetimeResult {
  schema?: { elements?: { name?: string | { some?: string } | null }[] };
  rows?: Value[][];
}

/** SpaceTimeDB's Timestamp is `{ __timestamp_micros_since_unix_epoch__: n }`. */
function spacetimeValue(value: Value): Value {
  if (value && typeof value === "object" && "__timestamp_micros_since_unix_epoch__" in value) {
    return new Date(Number((value as Record<string, number>).__timestamp_micros_since_unix_epoch__) / 1000);
  }
  return value;
}

export async function openSpacetime(spec: SpacetimeSpec, options: OpenOptions, probe: boolean): Promise<SourceRows> {
  const host = new URL(spec.api_url).host;
  const sql = probe && !/\blimit\s+\d+\s*$/i.test(spec.query) ? `${spec.query} LIMIT ${PROBE_ROWS}` : spec.query;
  const response = await request(
    `${spec.api_url.replace(/\/+$/, "")}/v1/database/${encodeURIComponent(spec.database)}/sql`,
    { method: "POST", headers: { "content-type": "text/plain", ...(spec.auth_token ? { authorization: `Bearer ${spec.auth_token}` } : {}) }, body: sql },
    options,
  );
  const results = (await jsonOf(response, host)) as SpacetimeResult[];
  const result = Array.isArray(results) ? results.at(-1) : undefined;
  if (!result || !Array.isArray(result.rows)) throw connectionFailed(host, "the answer has no rows");
  const columns = (result.schema?.elements ?? []).map((element, index) =>
    typeof element.name === "string" ? element.name : element.name?.some ?? `column_${index + 1}`,
  );
  const all = result.rows;
  async function* rows(): AsyncGenerator<Value[]> {
    for (const row of all) yield row.map(spacetimeValue);
  }
  return { columns, rows: rows(), close: async () => {} };
}

/**
 * The seed's `api_url` alternative for SQL sources: `POST {query}`, answered
 * with a JSON array of row objects, `{ rows | data: [...] }`, or JSON lines.
 */
export async function openRestRows(apiUrl: string, query: string, apiKey: string | undefined, options: OpenOptions, probe: boolean): Promise<SourceRows> {
  const host = new URL(apiUrl).host;
  const response = await request(
    apiUrl,
    {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, application/x-ndjson", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({ query, ...(probe ? { limit: PROBE_ROWS } : {}) }),
    },
    options,
  );
  const type = response.headers.get("content-type") ?? "";
  if (/ndjson|jsonl|json-seq/.test(type)) {
    async function* batches(): AsyncGenerator<Record<string, Value>[]> {
      let batch: Record<string, Value>[] = [];
      for await (const line of jsonLines(response, host)) {
        batch.push(line as Record<string, Value>);
        if (batch.length === 1_000) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    }
    return objectSource(batches(), async () => void (await response.body?.cancel().catch(() => undefined)));
  }
  const body = (await jsonOf(response, host)) as unknown;
  const list = Array.isArray(body) ? body : (body as { rows?: unknown; data?: unknown }).rows ?? (body as { data?: unknown }).data;
  if (!Array.isArray(list) || list.some((row) => !row || typeof row !== "object" || Array.isArray(row))) {
    throw invalid("connector.invalid_answer", "api_url must answer with a JSON array of row objects (or { rows: [...] })", { host });
  }
  async function* single(): AsyncGenerator<Record<string, Value>[]> {
    yield list as Record<string, Value>[];
  }
  return objectSource(single());
}
