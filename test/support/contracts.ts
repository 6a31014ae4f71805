/**
 * A local server for the HTTP sources no real server can be installed for
 * here, implementing each one's documented request and answer shapes over a
 * table of rows the test gives:
 * - InfluxDB v3: `GET /ping` (version header) and `POST /api/v3/query_sql`
 *   ({ db, q, format: "jsonl" }, bearer token), with `WHERE time >= ... AND
 *   time <= ...` and `LIMIT n` honoured;
 * - the MongoDB Data API: `POST /action/find` (`api-key` header; dataSource,
 *   database, collection, equality filter, sort by _id, skip, limit);
 * - SpaceTimeDB: `POST /v1/database/:name/sql` (SQL text, optional bearer),
 *   answering `[{ schema: { elements }, rows }]` with Timestamp values;
 * - a REST rows endpoint: `POST /rows` ({ query }) answering a JSON array.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface SensorRow {
  timestamp: string;
  [sensor: string]: string | number | null;
}

export interface ContractServer {
  url: string;
  /** Requests seen, for asserting what a source sent (path and headers). */
  requests: { method: string; path: string; headers: http.IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

export interface ContractOptions {
  rows: SensorRow[];
  token: string;
  /** Milliseconds every answer waits (to test timeouts). */
  delayMs?: number;
  /** Listen on this port (default: a free one). */
  port?: number;
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function limitOf(sql: string): number | undefined {
  const match = /\blimit\s+(\d+)\s*$/i.exec(sql.trim());
  return match ? Number(match[1]) : undefined;
}

function send(response: http.ServerResponse, status: number, body: unknown, type = "application/json"): void {
  response.writeHead(status, { "content-type": type });
  response.end(typeof body === "string" ? body : JSON.stringify(body));
}

export async function startContractServer(options: ContractOptions): Promise<ContractServer> {
  const requests: ContractServer["requests"] = [];
  const sensors = Object.keys(options.rows[0] ?? {}).filter((key) => key !== "timestamp");
  const server = http.createServer(async (request, response) => {
    const body = await readBody(request);
    const path = (request.url ?? "/").split("?")[0]!;
    requests.push({ method: request.method ?? "GET", path, headers: request.headers, body });
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    const bearer = request.headers.authorization === `Bearer ${options.token}`;

    if (request.method === "GET" && path === "/ping") {
      response.writeHead(200, { "x-influxdb-version": "3.0.0", "content-type": "application/json" });
      return response.end(JSON.stringify({ version: "3.0.0", revision: "contract" }));
    }
    if (request.method === "POST" && path === "/api/v3/query_sql") {
      if (!bearer) return send(response, 401, { error: "unauthorized access" });
      const { db, q, format } = JSON.parse(body) as { db: string; q: string; format: string };
      if (db !== "building_sensors") return send(response, 404, { error: `database not found: ${db}` });
      if (format !== "jsonl") return send(response, 400, { error: "format must be jsonl here" });
      if (!/^SELECT \* FROM "ahu_readings"/.test(q)) return send(response, 400, { error: `table not found in: ${q}` });
      const range = /time >= '([^']+)' AND time <= '([^']+)'/.exec(q);
      let rows = options.rows;
      if (range) rows = rows.filter((row) => Date.parse(row.timestamp) >= Date.parse(range[1]!) && Date.parse(row.timestamp) <= Date.parse(range[2]!));
      rows = rows.slice(0, limitOf(q) ?? rows.length);
      // v3 answers timestamps without a zone (they are UTC).
      const lines = rows.map((row) => JSON.stringify({ ...row, timestamp: undefined, time: row.timestamp.replace(/Z$/, "") })).join("\n");
      return send(response, 200, lines + "\n", "application/jsonl");
    }
    if (request.method === "POST" && path === "/action/find") {
      if (request.headers["api-key"] !== options.token) return send(response, 401, { error: "invalid session: error finding user for endpoint", error_code: "InvalidSession" });
      const find = JSON.parse(body) as { database: string; collection: string; filter: Record<string, unknown>; skip?: number; limit?: number };
      if (find.database !== "building_data" || find.collection !== "sensor_readings") return send(response, 200, { documents: [] });
      const documents = options.rows
        .map((row, index) => ({ _id: index.toString(16).padStart(24, "0"), location: "Warren", ...row }))
        .filter((document) => Object.entries(find.filter ?? {}).every(([key, value]) => (document as Record<string, unknown>)[key] === value));
      const skip = find.skip ?? 0;
      return send(response, 200, { documents: documents.slice(skip, skip + (find.limit ?? 1000)) });
    }
    const sql = /^\/v1\/database\/([^/]+)\/sql$/.exec(path);
    if (request.method === "POST" && sql) {
      if (request.headers.authorization && !bearer) return send(response, 401, "invalid token", "text/plain");
      if (decodeURIComponent(sql[1]!) !== "building_sensors") return send(response, 404, `database not found`, "text/plain");
      if (!/^select \* from temperature_readings/i.test(body.trim())) return send(response, 400, `no such table in: ${body}`, "text/plain");
      const rows = options.rows.slice(0, limitOf(body) ?? options.rows.length);
      return send(response, 200, [
        {
          schema: { elements: [{ name: { some: "ts" }, algebraic_type: { Product: {} } }, ...sensors.map((name) => ({ name: { some: name }, algebraic_type: { F64: [] } }))] },
          rows: rows.map((row) => [{ __timestamp_micros_since_unix_epoch__: Date.parse(row.timestamp) * 1000 }, ...sensors.map((name) => row[name])]),
          total_duration_micros: 120,
        },
      ]);
    }
    if (request.method === "POST" && path === "/rows") {
      if (!bearer) return send(response, 401, { error: "unauthorized" });
      const { query, limit } = JSON.parse(body) as { query: string; limit?: number };
      if (!/^select/i.test(query)) return send(response, 400, { error: "only SELECT" });
      return send(response, 200, options.rows.slice(0, limit ?? options.rows.length));
    }
    send(response, 404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
