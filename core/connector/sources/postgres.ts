/**
 * PostgreSQL through `pg`: one SELECT in a read-only transaction with a
 * statement timeout, streamed through a server-side cursor (pg-query-stream),
 * so a table of any size never sits in memory.
 */
import pg from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { to as copyTo } from "pg-copy-streams";
import QueryStream from "pg-query-stream";
import { DomainError, invalid } from "../../error";
import { Outbound } from "../../net/outbound";
import type { SourceRows, Value } from "../rows";
import { connectionFailed, socketReason, streamedRows, timedOut, type OpenOptions } from "./common";

const BATCH_ROWS = 10_000;

const BOOL = 16;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const FLOAT4 = 700;
const FLOAT8 = 701;

/**
 * Values as PostgreSQL writes them, turned straight into CSV-ready text: the
 * session runs in UTC with ISO dates, so a timestamp only needs its 'T' and
 * 'Z'; numbers stay the exact decimal text PostgreSQL gave (no float round
 * trip); booleans become 1/0; ±Infinity is no value.
 */
const textTypes = {
  getTypeParser: (oid: number) => (text: string): Value => {
    switch (oid) {
      case BOOL:
        return text === "t";
      case TIMESTAMPTZ:
        return text.replace(" ", "T").replace(/\+00$/, "Z");
      case TIMESTAMP:
        return `${text.replace(" ", "T")}Z`;
      case FLOAT4:
      case FLOAT8:
        return text === "Infinity" || text === "-Infinity" ? null : text;
      default:
        return text;
    }
  },
};

function target(connectionString: string) {
  if (!/^postgres(ql)?:\/\//i.test(connectionString)) {
    throw invalid("connector.invalid_connection_string", "connection_string must be a postgresql:// URL");
  }
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    parsed = parseConnectionString(connectionString);
  } catch {
    throw invalid("connector.invalid_connection_string", "connection_string is not a valid PostgreSQL URL");
  }
  if (!parsed.host || parsed.host.startsWith("/")) throw invalid("connector.invalid_connection_string", "connection_string must name a host");
  if (!parsed.database) throw invalid("connector.invalid_connection_string", "connection_string must name a database");
  return { ...parsed, host: parsed.host, port: Number(parsed.port ?? 5432), database: parsed.database };
}

/** pg's errors as connector errors: which host, what failed, never the password. */
function mapped(error: unknown, host: string): DomainError {
  if (error instanceof DomainError) return error;
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case "28P01":
    case "28000":
      return connectionFailed(host, "authentication failed");
    case "3D000":
      return connectionFailed(host, "database does not exist");
    case "57014":
      return timedOut(host);
    case "25006":
      return invalid("connector.not_select", "The query must be a single SELECT statement: the database refused a write in a read-only transaction");
  }
  if (e.code && /^[0-9A-Z]{5}$/.test(e.code) && /\d/.test(e.code)) return invalid("connector.query_failed", `The query failed: ${e.message}`, { host, sqlstate: e.code });
  if (/timeout/i.test(e.message ?? "")) return timedOut(host);
  return connectionFailed(host, e.code ? socketReason(e.code) : "connection failed");
}

/** A connected client inside a read-only, UTC, time-limited transaction. */
async function session(connectionString: string, options: OpenOptions): Promise<{ client: pg.Client; where: string; end: () => Promise<void> }> {
  const parsed = target(connectionString);
  const address = await Outbound.resolve(parsed.host);
  const where = `${parsed.host}:${parsed.port}`;
  const given = typeof parsed.ssl === "object" ? parsed.ssl : {};
  // Connected by address, so TLS checks the certificate against the name the user gave.
  const ssl = parsed.ssl ? { ca: given.ca, key: given.key, cert: given.cert ?? undefined, rejectUnauthorized: given.rejectUnauthorized, servername: parsed.host } : undefined;
  const client = new pg.Client({
    host: address,
    port: parsed.port,
    user: parsed.user,
    password: parsed.password,
    database: parsed.database,
    ssl,
    connectionTimeoutMillis: options.connectTimeoutMs,
    types: textTypes as never,
    application_name: "flint-import",
  });
  // A broken connection after connect is reported through the query; this keeps it from crashing the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("BEGIN READ ONLY");
    await client.query("SET LOCAL TIME ZONE 'UTC'");
    await client.query("SET LOCAL datestyle = 'ISO, YMD'");
    await client.query(`SET LOCAL statement_timeout = ${Math.round(options.statementTimeoutMs)}`);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw mapped(error, where);
  }
  return { client, where, end: () => client.end().catch(() => undefined) };
}

/** The rows of `query`, through a server-side cursor (the probe, and what the type checks see). */
export async function openPostgres(connectionString: string, query: string, options: OpenOptions): Promise<SourceRows> {
  const { client, where, end } = await session(connectionString, options);
  const stream = client.query(new QueryStream(query, [], { batchSize: BATCH_ROWS, rowMode: "array" }));
  const close = async () => {
    stream.destroy();
    await end();
  };
  const rows = await streamedRows(stream[Symbol.asyncIterator]() as AsyncIterator<Value[]>, (error) => mapped(error, where), close);
  // Known once the first row (or the end) arrived.
  const fields = ((stream as unknown as { cursor?: { _result?: { fields?: { name: string }[] } } }).cursor?._result?.fields ?? []).map((field) => field.name);
  return { columns: fields, rows, close };
}

/**
 * The whole result of `query` as CSV with a header, written by PostgreSQL
 * itself (`COPY (query) TO STDOUT`): several times faster than reading rows.
 * Timestamps come as `2026-01-01 00:00:00+00` (UTC, ISO style), which ingest
 * reads; NULL is an empty field.
 */
export async function copyPostgres(connectionString: string, query: string, options: OpenOptions): Promise<AsyncIterable<Buffer>> {
  const { client, where, end } = await session(connectionString, options);
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT WITH (FORMAT csv, HEADER)`));
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stream) yield chunk as Buffer;
      await client.query("COMMIT").catch(() => undefined);
    } catch (error) {
      throw mapped(error, where);
    } finally {
      stream.destroy();
      await end();
    }
  }
  return chunks();
}
