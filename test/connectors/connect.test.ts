/**
 * POST /datasets/connect against real servers (PostgreSQL, MariaDB as the
 * MySQL-protocol `tidb` source, InfluxDB 1.x, SQLite through better-sqlite3)
 * and, for the sources no server can be installed for here, a local server
 * implementing their documented HTTP contracts (test/support/contracts.ts).
 * The same rows uploaded as CSV are the reference: an imported dataset must
 * have the same statistics.
 */
import { mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { gzipSync } from "node:zlib";
import path from "node:path";
import Database from "better-sqlite3";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Billing } from "../../core/billing";
import { listKeys } from "../../core/storage";
import { startContractServer, type ContractServer, type SensorRow } from "../support/contracts";
import { call } from "../support/http";
import { startInfluxDb1, startMariaDb, startPostgres, type DatabaseServer } from "../support/servers";
import { createUser, type TestUser } from "../support/users";
import { EventClient } from "../support/ws";
import { uploadMultipart, waitForIngest } from "../datasets/helpers";

const SENSORS = ["supply_temp", "return_temp", "fan_speed", "damper_pos"] as const;
const START = Date.parse("2026-01-01T00:00:00Z");

/** 480 one-minute rows with a daily-ish swing and a few missing values. */
const rows: SensorRow[] = Array.from({ length: 480 }, (_, i) => ({
  timestamp: new Date(START + i * 60_000).toISOString(),
  supply_temp: Math.round((55 + 3 * Math.sin(i / 40) + (i % 7) * 0.1) * 100) / 100,
  return_temp: i % 97 === 5 ? null : Math.round((72 + 2 * Math.cos(i / 30)) * 100) / 100,
  fan_speed: Math.round((60 + (i % 13)) * 10) / 10,
  damper_pos: (i * 7) % 100,
}));

const csv = ["timestamp," + SENSORS.join(","), ...rows.map((row) => [row.timestamp, ...SENSORS.map((s) => row[s] ?? "")].join(","))].join("\n") + "\n";

let alice: TestUser;
let reference: any;
let postgres: DatabaseServer;
let mariadb: DatabaseServer;
let influx: DatabaseServer;
let contracts: ContractServer;
const TOKEN = "contract-token-" + Math.random().toString(36).slice(2);

async function connect(body: Record<string, unknown>, user = alice) {
  return call("POST", "/datasets/connect", { token: user.token, body: { name: "Connected", equipment_type: "air_handler", ...body } });
}

/** The statistics an imported dataset must share with the uploaded CSV. */
function statsOf(dataset: any) {
  return {
    row_count: dataset.row_count,
    columns: dataset.columns,
    timestamp_column: dataset.timestamp_column,
    sampling_interval_seconds: dataset.sampling_interval_seconds,
    time_range: { start: Date.parse(dataset.time_range.start), end: Date.parse(dataset.time_range.end) },
    column_stats: Object.fromEntries(SENSORS.map((sensor) => [sensor, dataset.column_stats[sensor]])),
  };
}

async function expectSameAsUpload(reply: Awaited<ReturnType<typeof connect>>, source: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  expect(reply.body).toMatchObject({ source, status: "processing", name: "Connected" });
  const dataset = await waitForIngest(alice, reply.body.id, 60_000);
  expect(dataset.status, JSON.stringify(dataset.failure ?? dataset)).toBe("ready");
  const imported = statsOf(dataset);
  // A time column named otherwise by the source (time, ts) is the same column; InfluxDB orders fields by name.
  expect({ ...imported, columns: imported.columns.slice(1).sort(), timestamp_column: "t" }).toEqual({
    ...statsOf(reference),
    columns: reference.columns.slice(1).sort(),
    timestamp_column: "t",
  });
  return dataset;
}

beforeAll(async () => {
  [postgres, mariadb, influx] = await Promise.all([startPostgres(), startMariaDb(), startInfluxDb1()]);
  contracts = await startContractServer({ rows, token: TOKEN });
  alice = await createUser();
  // Room for every import below (the Free plan holds a handful of datasets).
  await Billing.SubscriptionEntity.put({ tenantId: alice.tenantId, tier: "enterprise", status: "active" }).go();
  const uploaded = await uploadMultipart(alice, csv, { name: "Reference" });
  expect(uploaded.status).toBe(201);
  reference = uploaded.body;

  const pgClient = new pg.Client({ connectionString: postgres.url });
  await pgClient.connect();
  await pgClient.query("CREATE TABLE sensor_readings (timestamp timestamptz NOT NULL, supply_temp double precision, return_temp double precision, fan_speed numeric(6,1), damper_pos integer, note text)");
  for (const row of rows) {
    await pgClient.query("INSERT INTO sensor_readings VALUES ($1, $2, $3, $4, $5, 'ok')", [row.timestamp, row.supply_temp, row.return_temp, row.fan_speed, row.damper_pos]);
  }
  await pgClient.end();

  const my = await mysql.createConnection(mariadb.url);
  await my.query("CREATE TABLE equipment_telemetry (ts DATETIME(3) NOT NULL, supply_temp DOUBLE, return_temp DOUBLE, fan_speed DECIMAL(6,1), damper_pos INT)");
  await my.query(
    "INSERT INTO equipment_telemetry VALUES ?",
    [rows.map((row) => [new Date(row.timestamp), row.supply_temp, row.return_temp, row.fan_speed, row.damper_pos])],
  );
  await my.end();

  const lines = rows
    .map((row) => `ahu_readings ${SENSORS.filter((s) => row[s] !== null).map((s) => `${s}=${row[s]}`).join(",")} ${Date.parse(row.timestamp)}`)
    .join("\n");
  const auth = `Basic ${Buffer.from(`${influx.user}:${influx.password}`).toString("base64")}`;
  await fetch(`${influx.url}/query`, { method: "POST", headers: { authorization: auth }, body: new URLSearchParams({ q: "CREATE DATABASE building_sensors" }) });
  const written = await fetch(`${influx.url}/write?db=building_sensors&precision=ms`, { method: "POST", headers: { authorization: auth }, body: lines });
  expect(written.status).toBe(204);

  const folder = process.env.FLINT_SQLITE_IMPORT_DIR!;
  mkdirSync(folder, { recursive: true });
  const db = new Database(path.join(folder, "readings.db"));
  db.exec("CREATE TABLE readings (timestamp TEXT, supply_temp REAL, return_temp REAL, fan_speed REAL, damper_pos INTEGER)");
  const insert = db.prepare("INSERT INTO readings VALUES (?, ?, ?, ?, ?)");
  db.transaction(() => rows.forEach((row) => insert.run(row.timestamp, row.supply_temp, row.return_temp, row.fan_speed, row.damper_pos)))();
  db.close();
}, 180_000);

afterAll(async () => {
  await Promise.all([postgres?.stop(), mariadb?.stop(), influx?.stop(), contracts?.close()]);
});

describe("POST /datasets/connect imports the same data as an upload", () => {
  it("postgresql: a table through pg, with progress and ready events on the dataset's topic", async () => {
    const events = await EventClient.open(alice);
    await events.subscribe("tenant");
    const reply = await connect({
      source_type: "postgresql",
      connection_string: postgres.url,
      query: "SELECT timestamp, supply_temp, return_temp, fan_speed, damper_pos FROM sensor_readings ORDER BY timestamp;",
    });
    expect(JSON.stringify(reply.body)).not.toContain(postgres.password);
    await expectSameAsUpload(reply, "postgresql");
    const progress = await events.waitFor((event) => event.type === "dataset.rows_imported" && event.dataset_id === reply.body.id && event.done);
    expect(progress).toMatchObject({ rows: rows.length });
    expect(progress.bytes).toBeGreaterThan(csv.length * 0.8);
    await events.waitFor((event) => event.type === "dataset.ready" && event.dataset_id === reply.body.id);
  });

  it("tidb (MySQL protocol): a MariaDB table through mysql2", async () => {
    const reply = await connect({
      source_type: "tidb",
      connection_string: mariadb.url,
      query: "SELECT ts, supply_temp, return_temp, fan_speed, damper_pos FROM equipment_telemetry ORDER BY ts",
    });
    await expectSameAsUpload(reply, "tidb");
  });

  it("sqlite: a file in the import folder, read-only", async () => {
    const reply = await connect({ source_type: "sqlite", connection_string: "readings.db", query: "SELECT * FROM readings ORDER BY timestamp" });
    await expectSameAsUpload(reply, "sqlite");
  });

  it("sqlite: a file uploaded with the request (POST /datasets/connect/sqlite), kept only until its import ends", async () => {
    const file = path.join(process.env.FLINT_SQLITE_IMPORT_DIR!, "readings.db");
    const form = new FormData();
    form.set("name", "Connected");
    form.set("equipment_type", "air_handler");
    form.set("query", "SELECT * FROM readings ORDER BY timestamp");
    form.set("file", new Blob([readFileSync(file)]), "plant.db");
    const reply = await call("POST", "/datasets/connect/sqlite", { token: alice.token, rawBody: form });
    await expectSameAsUpload(reply, "sqlite");
    const kept: string[] = [];
    for await (const key of listKeys(`tenants/${alice.tenantId}/imports/`)) kept.push(key);
    expect(kept).toEqual([]);

    const notSqlite = new FormData();
    for (const [field, value] of form.entries()) if (field !== "file") notSqlite.set(field, value);
    notSqlite.set("file", new Blob([csv]), "plant.db");
    const refused = await call("POST", "/datasets/connect/sqlite", { token: alice.token, rawBody: notSqlite });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe("connector.not_sqlite");
    notSqlite.delete("file");
    expect((await call("POST", "/datasets/connect/sqlite", { token: alice.token, rawBody: notSqlite })).body.code).toBe("dataset.file_required");
  });

  it("influxdb 1.x: InfluxQL over HTTP, the version found by /ping", async () => {
    const reply = await connect({
      source_type: "influxdb",
      url: influx.url,
      database: "building_sensors",
      measurement: "ahu_readings",
      username: influx.user,
      password: influx.password,
    });
    await expectSameAsUpload(reply, "influxdb");
  });

  it("influxdb v3 (contract server): the SQL API with a time range", async () => {
    const reply = await connect({
      source_type: "influxdb",
      url: contracts.url,
      database: "building_sensors",
      measurement: "ahu_readings",
      token: TOKEN,
      time_range: { start: "2026-01-01T00:00:00Z", end: "2026-01-01T02:59:59Z" },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    const dataset = await waitForIngest(alice, reply.body.id, 60_000);
    expect(dataset).toMatchObject({ status: "ready", row_count: 180, timestamp_column: "time" });
    expect(Date.parse(dataset.time_range.start)).toBe(START);
    const sql = contracts.requests.filter((request) => request.path === "/api/v3/query_sql").at(-1)!;
    expect(sql.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(sql.body)).toMatchObject({ db: "building_sensors", format: "jsonl" });
  });

  it("mongodb (Data API contract): documents paged through /action/find", async () => {
    const reply = await connect({
      source_type: "mongodb",
      api_url: contracts.url,
      api_key: TOKEN,
      database: "building_data",
      mongodb_collection: "sensor_readings",
      filter: { location: "Warren" },
    });
    const dataset = await waitForIngest(alice, reply.body.id, 60_000);
    expect(dataset).toMatchObject({ status: "ready", row_count: rows.length, source: "mongodb" });
    expect(dataset.columns).not.toContain("_id");
    expect(dataset.column_stats.supply_temp).toEqual(reference.column_stats.supply_temp);
  });

  it("spacetimedb (contract server): the SQL endpoint with a bearer token and Timestamp values", async () => {
    const reply = await connect({ source_type: "spacetimedb", api_url: contracts.url, database: "building_sensors", query: "SELECT * FROM temperature_readings", auth_token: TOKEN });
    await expectSameAsUpload(reply, "spacetimedb");
  });

  it("postgresql api_url: a REST endpoint answering JSON rows", async () => {
    const reply = await connect({ source_type: "postgresql", api_url: `${contracts.url}/rows`, api_key: TOKEN, query: "SELECT * FROM sensor_readings" });
    await expectSameAsUpload(reply, "postgresql");
  });
});

describe("POST /datasets/connect refuses what cannot become a dataset, at once and leaving nothing", () => {
  async function datasetCount(user = alice): Promise<number> {
    return (await call("GET", "/datasets?limit=100", { token: user.token })).body.length;
  }

  it("answers 400, 502 and 504 with a clear code, no password in the answer, and no dataset made", async () => {
    const before = await datasetCount();
    const wrongPassword = postgres.url.replace(`:${postgres.password}@`, ":not-the-password@");
    const cases: [Record<string, unknown>, number, string][] = [
      [{ source_type: "oracle", connection_string: "x", query: "SELECT 1" }, 400, "connector.unsupported_source"],
      [{ source_type: "postgresql", query: "SELECT 1" }, 400, "request.invalid"],
      [{ source_type: "postgresql", connection_string: "not a url", query: "SELECT 1" }, 400, "connector.invalid_connection_string"],
      [{ source_type: "postgresql", connection_string: wrongPassword, query: "SELECT * FROM sensor_readings" }, 502, "connector.cannot_connect"],
      [{ source_type: "postgresql", connection_string: "postgresql://u:p@no-such-host.invalid:5432/db", query: "SELECT 1" }, 502, "connector.cannot_connect"],
      [{ source_type: "postgresql", connection_string: "postgresql://u:p@127.0.0.1:1/db", query: "SELECT 1" }, 502, "connector.cannot_connect"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "SELECT * FROM no_such_table" }, 400, "connector.query_failed"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "DELETE FROM sensor_readings" }, 400, "connector.not_select"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "SELECT 1; DROP TABLE sensor_readings" }, 400, "connector.not_select"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "WITH gone AS (DELETE FROM sensor_readings RETURNING *) SELECT * FROM gone" }, 400, "connector.not_select"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "SELECT pg_sleep(10), * FROM sensor_readings" }, 504, "connector.timeout"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "SELECT supply_temp, fan_speed FROM sensor_readings" }, 400, "connector.no_time_column"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "SELECT timestamp, note FROM sensor_readings" }, 400, "connector.no_numeric_columns"],
      [{ source_type: "postgresql", connection_string: postgres.url, query: "SELECT * FROM sensor_readings WHERE false" }, 400, "connector.no_rows"],
      [{ source_type: "tidb", connection_string: mariadb.url.replace(`:${mariadb.password}@`, ":wrong@"), query: "SELECT 1" }, 502, "connector.cannot_connect"],
      [{ source_type: "tidb", connection_string: mariadb.url, query: "SELECT * FROM equipment_telemetry WHERE SLEEP(10) = 0" }, 504, "connector.timeout"],
      [{ source_type: "sqlite", connection_string: "../../etc/passwd", query: "SELECT 1" }, 400, "connector.sqlite_not_found"],
      [{ source_type: "sqlite", connection_string: "readings.db", query: "DELETE FROM readings" }, 400, "connector.not_select"],
      [{ source_type: "influxdb", url: influx.url, database: "building_sensors", measurement: "ahu_readings", username: influx.user, password: "wrong" }, 502, "connector.cannot_connect"],
      [{ source_type: "influxdb", url: "http://169.254.169.254", database: "d", measurement: "m" }, 400, "connector.address_not_allowed"],
      [{ source_type: "spacetimedb", api_url: "http://[fe80::1]:3000", database: "d", query: "SELECT 1" }, 400, "connector.address_not_allowed"],
      [{ source_type: "mongodb", api_url: contracts.url, api_key: "wrong-key", database: "building_data", mongodb_collection: "sensor_readings" }, 502, "connector.cannot_connect"],
      [{ source_type: "postgresql", api_url: `${contracts.url}/rows`, api_key: "wrong", query: "SELECT 1" }, 502, "connector.cannot_connect"],
    ];
    for (const [body, status, code] of cases) {
      const reply = await connect(body);
      const label = `${JSON.stringify(body)} → ${reply.status} ${JSON.stringify(reply.body)}`;
      expect(reply.status, label).toBe(status);
      expect(reply.body, label).toMatchObject({ code, error: expect.any(String) });
      expect(reply.body, label).toHaveProperty("details");
      for (const secret of [postgres.password, mariadb.password, influx.password, TOKEN]) expect(JSON.stringify(reply.body), label).not.toContain(secret);
    }
    expect(await datasetCount()).toBe(before);
  }, 120_000);

  it("fails fast once a host failed repeatedly (circuit breaker per tenant and host), and recovers when it answers again", async () => {
    const carol = await createUser();
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const body = { source_type: "influxdb", url: `http://127.0.0.1:${port}`, database: "building_sensors", measurement: "ahu_readings", token: TOKEN };
    for (let attempt = 1; attempt <= 5; attempt++) {
      const refused = await connect(body, carol);
      expect(refused.status, `attempt ${attempt}`).toBe(502);
      expect(refused.body.code).toBe("connector.cannot_connect");
    }
    const fast = await connect(body, carol);
    expect(fast.status).toBe(503);
    expect(fast.body.code).toBe("connector.circuit_open");
    expect(Number(fast.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another tenant reaching the same host is not blocked by carol's breaker.
    expect((await connect(body)).body.code).toBe("connector.cannot_connect");

    const revived = await startContractServer({ rows, token: TOKEN, port });
    try {
      expect((await connect(body, carol)).status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 2_200));
      const probed = await connect(body, carol);
      expect(probed.status, JSON.stringify(probed.body)).toBe(201);
      expect((await connect(body, carol)).status).toBe(201);
    } finally {
      await revived.close();
    }
  });

  it("a viewer may not connect a source, and another tenant sees nothing of an imported dataset", async () => {
    const viewer = await createUser({ tenantId: alice.tenantId, role: "viewer" });
    const refused = await connect({ source_type: "sqlite", connection_string: "readings.db", query: "SELECT * FROM readings" }, viewer);
    expect(refused.status).toBe(403);
    const reply = await connect({ source_type: "sqlite", connection_string: "readings.db", query: "SELECT * FROM readings" });
    expect(reply.status).toBe(201);
    const bob = await createUser();
    expect((await call("GET", `/datasets/${reply.body.id}`, { token: bob.token })).status).toBe(404);
    await waitForIngest(alice, reply.body.id, 60_000);
  });
});

describe("aegis_bridge: controllers push telemetry, and a time range of it becomes a dataset", () => {
  async function registerController(user: TestUser, ip: string): Promise<{ id: string; credential: string }> {
    const reply = await call("POST", "/deployments/targets", { token: user.token, body: { name: `AHU controller ${ip}`, ip, arch: "armv7" } });
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    return { id: reply.body.id, credential: reply.body.credential };
  }

  it("pushed CSV (gzip) and JSON rows import with the same statistics as the upload", async () => {
    const controller = await registerController(alice, "100.124.76.93");
    const half = rows.length / 2;
    const csvHalf = ["timestamp," + SENSORS.join(","), ...rows.slice(0, half).map((row) => [row.timestamp, ...SENSORS.map((s) => row[s] ?? "")].join(","))].join("\n");
    const first = await call("POST", "/devices/telemetry?collection=hardware_metrics", {
      device: controller.credential,
      rawBody: gzipSync(csvHalf),
      contentType: "text/csv",
      headers: { "content-encoding": "gzip" },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body).toEqual({ collection: "hardware_metrics", rows: half, time_range: { start: rows[0]!.timestamp, end: rows[half - 1]!.timestamp } });
    const second = await call("POST", "/devices/telemetry", {
      device: controller.credential,
      body: rows.slice(half).map((row) => ({ ...row, timestamp: Date.parse(row.timestamp) / 1000 })),
    });
    expect(second.status, JSON.stringify(second.body)).toBe(202);

    const reply = await connect({ controller_ip: "100.124.76.93", time_range: { start: "2026-01-01T00:00:00Z", end: "2026-01-31T23:59:59Z" } });
    await expectSameAsUpload(reply, "aegis_bridge");
    // A range outside what was pushed: nothing to import, said at once.
    const empty = await connect({ source_type: "edge_bridge", target_id: controller.id, time_range: { start: "2025-01-01T00:00:00Z", end: "2025-01-02T00:00:00Z" } });
    expect(empty.status).toBe(400);
    expect(empty.body.code).toBe("connector.no_rows");
  });

  it("a device pushes only into its own tenant; a user token, a bad body or a gzip bomb is refused", async () => {
    const bob = await createUser();
    const bobs = await registerController(bob, "100.64.9.9");
    expect((await call("POST", "/devices/telemetry", { device: bobs.credential, rawBody: csv, contentType: "text/csv" })).status).toBe(202);
    // Alice cannot name Bob's controller, by id or by IP.
    const byId = await connect({ target_id: bobs.id });
    expect(byId.status).toBe(400);
    expect(byId.body.code).toBe("connector.unknown_controller");
    expect((await connect({ controller_ip: "100.64.9.9" })).body.code).toBe("connector.unknown_controller");

    const refusals: [Parameters<typeof call>[2], number, string][] = [
      [{ rawBody: csv, contentType: "text/csv" }, 401, "auth.device_required"],
      [{ token: alice.token, rawBody: csv, contentType: "text/csv" }, 401, "auth.device_required"],
      [{ device: "flint_dev.nope.nope", rawBody: csv, contentType: "text/csv" }, 401, "auth.invalid_device_credential"],
      [{ device: bobs.credential, rawBody: "supply_temp,fan_speed\n1,2\n", contentType: "text/csv" }, 400, "telemetry.no_time_column"],
      [{ device: bobs.credential, rawBody: "timestamp,a\nyesterday,1\n", contentType: "text/csv" }, 400, "telemetry.invalid_time"],
      [{ device: bobs.credential, rawBody: "{not json", contentType: "application/json" }, 400, "telemetry.invalid_json"],
      [{ device: bobs.credential, rawBody: "not gzip", contentType: "text/csv", headers: { "content-encoding": "gzip" } }, 400, "telemetry.invalid_gzip"],
      [{ device: bobs.credential, rawBody: gzipSync(Buffer.alloc(64 * 1024 * 1024, 48)), contentType: "text/csv", headers: { "content-encoding": "gzip" } }, 413, "request.too_large"],
    ];
    for (const [options, status, code] of refusals) {
      const reply = await call("POST", "/devices/telemetry", options);
      expect(reply.status, `${code}: ${JSON.stringify(reply.body)}`).toBe(status);
      expect(reply.body.code).toBe(code);
    }
  });
});
