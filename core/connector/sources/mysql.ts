/**
 * TiDB, MySQL and MariaDB through `mysql2`: one SELECT in a read-only
 * transaction with a statement timeout (max_execution_time on MySQL and
 * TiDB, max_statement_time on MariaDB), streamed row by row.
 */
import mysql from "mysql2";
import { DomainError, invalid } from "../../error";
import { Outbound } from "../../net/outbound";
import type { SourceRows, Value } from "../rows";
import { connectionFailed, socketReason, streamedRows, timedOut, type OpenOptions } from "./common";

function target(connectionString: string) {
  if (!/^(mysql|mariadb|tidb):\/\//i.test(connectionString) || !URL.canParse(connectionString)) {
    throw invalid("connector.invalid_connection_string", "connection_string must be a mysql:// URL");
  }
  const url = new URL(connectionString);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!url.hostname) throw invalid("connector.invalid_connection_string", "connection_string must name a host");
  if (!database) throw invalid("connector.invalid_connection_string", "connection_string must name a database");
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 4000),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    ssl: url.searchParams.get("ssl") === "true" || ["required", "verify_identity", "verify_ca"].includes((url.searchParams.get("ssl-mode") ?? "").toLowerCase()),
  };
}

function mapped(error: unknown, host: string): DomainError {
  if (error instanceof DomainError) return error;
  const e = error as { code?: string; errno?: number; sqlMessage?: string; message?: string };
  switch (e.code) {
    case "ER_ACCESS_DENIED_ERROR":
    case "ER_DBACCESS_DENIED_ERROR":
    case "ER_NOT_SUPPORTED_AUTH_MODE":
      return connectionFailed(host, "authentication failed");
    case "ER_BAD_DB_ERROR":
      return connectionFailed(host, "database does not exist");
    case "ER_QUERY_TIMEOUT":
    case "ER_STATEMENT_TIMEOUT":
    case "PROTOCOL_SEQUENCE_TIMEOUT":
      return timedOut(host);
    case "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION":
      return invalid("connector.not_select", "The query must be a single SELECT statement: the database refused a write in a read-only transaction");
  }
  // MySQL 3024 / MariaDB 1969: the statement ran past max_execution_time / max_statement_time.
  if (e.errno === 3024 || e.errno === 1969) return timedOut(host);
  if (e.code === "ETIMEDOUT" && !e.sqlMessage) return timedOut(host);
  if (e.sqlMessage) return invalid("connector.query_failed", `The query failed: ${e.sqlMessage}`, { host, error: e.code });
  return connectionFailed(host, socketReason(e.code));
}

function run(connection: mysql.Connection, sql: string): Promise<void> {
  return new Promise((resolve, reject) => connection.query(sql, (error) => (error ? reject(error) : resolve())));
}

export async function openMysql(connectionString: string, query: string, options: OpenOptions): Promise<SourceRows> {
  const parsed = target(connectionString);
  const address = await Outbound.resolve(parsed.host);
  const where = `${parsed.host}:${parsed.port}`;
  const connection = mysql.createConnection({
    host: address,
    port: parsed.port,
    user: parsed.user,
    password: parsed.password,
    database: parsed.database,
    connectTimeout: options.connectTimeoutMs,
    ssl: parsed.ssl ? { servername: parsed.host } as never : undefined,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: false,
    timezone: "Z",
    rowsAsArray: true,
  });
  connection.on("error", () => undefined);
  const close = async () => {
    await new Promise<void>((resolve) => connection.end(() => resolve()));
    connection.destroy();
  };
  try {
    await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
    try {
      await run(connection, `SET SESSION max_execution_time = ${Math.round(options.statementTimeoutMs)}`);
    } catch {
      await run(connection, `SET SESSION max_statement_time = ${(options.statementTimeoutMs / 1000).toFixed(3)}`);
    }
    await run(connection, "START TRANSACTION READ ONLY");
  } catch (error) {
    connection.destroy();
    throw mapped(error, where);
  }
  const stream = connection.query({ sql: query, rowsAsArray: true }).stream({ highWaterMark: 1_000 });
  let columns: string[] = [];
  stream.once("fields", (fields: { name: string }[] | undefined) => {
    columns = (fields ?? []).map((field) => field.name);
  });
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Value[]>;
  const closeAll = async () => {
    stream.destroy();
    connection.destroy();
  };
  const rows = await streamedRows(iterator, (error) => mapped(error, where), () => close().catch(() => connection.destroy()));
  return { columns, rows, close: closeAll };
}
