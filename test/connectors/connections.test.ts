/**
 * Saved connections against real PostgreSQL and MariaDB and a SQLite file:
 * credentials kept in the vault and masked, tests, syncs that import only the
 * rows newer than the last version (each version linked to the one before),
 * the schedule, roles and tenants.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Billing } from "../../core/billing";
import { Connections } from "../../core/connector/connections";
import { withActor } from "../../core/actor";
import { waitForIngest } from "../datasets/helpers";
import { call } from "../support/http";
import { startMariaDb, startPostgres, type DatabaseServer } from "../support/servers";
import { createUser, type TestUser } from "../support/users";

const START = Date.parse("2026-03-01T00:00:00Z");
const rowAt = (i: number) => [new Date(START + i * 60_000).toISOString(), 50 + (i % 17) * 0.5, 60 + (i % 5), (i * 3) % 100] as const;

let admin: TestUser;
let postgres: DatabaseServer;
let mariadb: DatabaseServer;
let pgClient: pg.Client;

async function insertPg(from: number, to: number) {
  for (let i = from; i < to; i++) await pgClient.query("INSERT INTO readings VALUES ($1, $2, $3, $4)", [...rowAt(i)]);
}

async function syncReady(user: TestUser, id: string) {
  const reply = await call("POST", `/connections/${id}/sync`, { token: user.token });
  expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  const dataset = await waitForIngest(user, reply.body.id, 60_000);
  expect(dataset.status, JSON.stringify(dataset.failure)).toBe("ready");
  return dataset;
}

beforeAll(async () => {
  [postgres, mariadb] = await Promise.all([startPostgres(), startMariaDb()]);
  pgClient = new pg.Client({ connectionString: postgres.url });
  await pgClient.connect();
  await pgClient.query("CREATE TABLE readings (timestamp timestamptz NOT NULL, supply_temp double precision, fan_speed double precision, damper_pos integer)");
  await insertPg(0, 120);
  admin = await createUser();
  await Billing.SubscriptionEntity.put({ tenantId: admin.tenantId, tier: "enterprise", status: "active" }).go();
}, 180_000);

afterAll(async () => {
  await pgClient?.end();
  await Promise.all([postgres?.stop(), mariadb?.stop()]);
});

describe("saved connections", () => {
  let connectionId: string;
  let firstVersion: any;

  it("keeps the credentials in the vault and never shows them", async () => {
    const reply = await call("POST", "/connections", {
      token: admin.token,
      body: { source_type: "postgresql", name: "Boiler 3", equipment_type: "boiler", connection_string: postgres.url, query: "SELECT * FROM readings" },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    expect(reply.body).toMatchObject({ name: "Boiler 3", source_type: "postgresql", settings: { connection_string: "********", query: "SELECT * FROM readings" }, last_version: 0 });
    expect(reply.body.secrets.connection_string).toMatch(/^sec_/);
    connectionId = reply.body.id;
    for (const answer of [reply, await call("GET", `/connections/${connectionId}`, { token: admin.token }), await call("GET", "/connections", { token: admin.token })]) {
      expect(JSON.stringify(answer.body)).not.toContain(postgres.password);
    }
    const secret = await call("GET", `/secrets/${reply.body.secrets.connection_string}`, { token: admin.token });
    expect(secret.status).toBe(200);
    expect(secret.body).toMatchObject({ category: "database", value: "********" });
  });

  it("tests the source and finds its time column", async () => {
    const reply = await call("POST", `/connections/${connectionId}/test`, { token: admin.token });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ ok: true, time_column: "timestamp", numeric_columns: ["supply_temp", "fan_speed", "damper_pos"], rows_sampled: 100 });
  });

  it("syncs everything first, then only the newer rows as the next linked version, then nothing", async () => {
    firstVersion = await syncReady(admin, connectionId);
    expect(firstVersion).toMatchObject({ name: "Boiler 3 v1", source: "postgresql", row_count: 120, connection: { connection_id: connectionId, version: 1, previous_version_id: null } });

    await insertPg(120, 180);
    const second = await syncReady(admin, connectionId);
    expect(second).toMatchObject({ name: "Boiler 3 v2", row_count: 60, connection: { version: 2, previous_version_id: firstVersion.id } });
    expect(Date.parse(second.time_range.start)).toBe(START + 120 * 60_000);

    const nothing = await call("POST", `/connections/${connectionId}/sync`, { token: admin.token });
    expect(nothing.status).toBe(200);
    expect(nothing.body).toEqual({ up_to_date: true, last_row_time: second.time_range.end });
    const connection = (await call("GET", `/connections/${connectionId}`, { token: admin.token })).body;
    expect(connection).toMatchObject({ last_version: 2, last_dataset_id: second.id, last_sync_error: null });
  });

  it("syncs on its schedule", async () => {
    const created = await call("POST", "/connections", {
      token: admin.token,
      body: { source_type: "postgresql", name: "Scheduled", equipment_type: "boiler", connection_string: postgres.url, query: "SELECT * FROM readings", sync_every_minutes: 15 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const due = Date.parse(created.body.next_sync_at);
    expect(due - Date.now()).toBeGreaterThan(14 * 60_000);
    // The schedule runs as it would 15 minutes from now; the import consumer does the sync.
    const queued = await withActor({ type: "system" }, () => Connections.queueDueSyncs(new Date(due + 1000)));
    expect(queued).toBeGreaterThanOrEqual(1);
    let connection: any;
    for (let attempt = 0; attempt < 120; attempt++) {
      connection = (await call("GET", `/connections/${created.body.id}`, { token: admin.token })).body;
      if (connection.last_dataset_id) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(connection.last_version).toBe(1);
    expect(Date.parse(connection.next_sync_at)).toBeGreaterThan(due);
    const dataset = await waitForIngest(admin, connection.last_dataset_id, 60_000);
    expect(dataset).toMatchObject({ status: "ready", row_count: 180 });
  });

  it("syncs MySQL-protocol and SQLite sources incrementally too", async () => {
    const my = await mysql.createConnection(mariadb.url);
    await my.query("CREATE TABLE readings (ts DATETIME(3) NOT NULL, supply_temp DOUBLE, fan_speed DOUBLE, damper_pos INT)");
    await my.query("INSERT INTO readings VALUES ?", [Array.from({ length: 90 }, (_, i) => { const [t, ...rest] = rowAt(i); return [new Date(t), ...rest]; })]);
    const folder = process.env.FLINT_SQLITE_IMPORT_DIR!;
    mkdirSync(folder, { recursive: true });
    const file = new Database(path.join(folder, "sync.db"));
    file.exec("CREATE TABLE readings (timestamp TEXT, supply_temp REAL, fan_speed REAL, damper_pos INTEGER)");
    const insert = file.prepare("INSERT INTO readings VALUES (?, ?, ?, ?)");
    for (let i = 0; i < 90; i++) insert.run(...rowAt(i));

    const sources = [
      { source_type: "tidb", connection_string: mariadb.url, query: "SELECT * FROM readings" },
      { source_type: "sqlite", connection_string: "sync.db", query: "SELECT * FROM readings" },
    ];
    const ids: string[] = [];
    for (const source of sources) {
      const created = await call("POST", "/connections", { token: admin.token, body: { name: `Sync ${source.source_type}`, equipment_type: "pump", ...source } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids.push(created.body.id);
      expect((await syncReady(admin, created.body.id)).row_count).toBe(90);
    }
    await my.query("INSERT INTO readings VALUES ?", [Array.from({ length: 30 }, (_, i) => { const [t, ...rest] = rowAt(90 + i); return [new Date(t), ...rest]; })]);
    await my.end();
    for (let i = 90; i < 120; i++) insert.run(...rowAt(i));
    file.close();
    for (const id of ids) {
      const next = await syncReady(admin, id);
      expect(next).toMatchObject({ row_count: 30, connection: { version: 2 } });
      expect(Date.parse(next.time_range.start)).toBe(START + 90 * 60_000);
    }
  });

  it("lets operators test and sync but not change; viewers only read; other tenants see nothing", async () => {
    const operator = await createUser({ tenantId: admin.tenantId, role: "operator" });
    const viewer = await createUser({ tenantId: admin.tenantId, role: "viewer" });
    const body = { source_type: "postgresql", name: "Nope", equipment_type: "boiler", connection_string: postgres.url, query: "SELECT * FROM readings" };
    expect((await call("POST", "/connections", { token: operator.token, body })).status).toBe(403);
    expect((await call("PUT", `/connections/${connectionId}`, { token: operator.token, body: { sync_every_minutes: 60 } })).status).toBe(403);
    expect((await call("DELETE", `/connections/${connectionId}`, { token: operator.token })).status).toBe(403);
    expect((await call("POST", `/connections/${connectionId}/test`, { token: operator.token })).status).toBe(200);
    expect((await call("POST", `/connections/${connectionId}/sync`, { token: operator.token })).status).toBe(200);
    expect((await call("GET", `/connections/${connectionId}`, { token: viewer.token })).status).toBe(200);
    expect((await call("POST", `/connections/${connectionId}/sync`, { token: viewer.token })).status).toBe(403);

    const other = await createUser();
    for (const [method, suffix] of [["GET", ""], ["PUT", ""], ["DELETE", ""], ["POST", "/test"], ["POST", "/sync"]] as const) {
      const reply = await call(method, `/connections/${connectionId}${suffix}`, { token: other.token, body: method === "PUT" ? { sync_every_minutes: 60 } : undefined });
      expect(reply.status, `${method} ${suffix}`).toBe(404);
      expect(reply.body.code).toBe("connection.not_found");
    }
  });

  it("refuses bad connections with 400, and a changed password shows at the next test", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ source_type: "oracle", name: "x", equipment_type: "boiler" }, "connector.unsupported_source"],
      [{ source_type: "postgresql", name: "x", equipment_type: "boiler", query: "SELECT 1" }, "request.invalid"],
      [{ source_type: "postgresql", name: "x", equipment_type: "boiler", connection_string: postgres.url, query: "SELECT 1", sync_every_minutes: 5 }, "request.invalid"],
      [{ source_type: "postgresql", name: "", equipment_type: "boiler", connection_string: postgres.url, query: "SELECT 1" }, "request.invalid"],
    ];
    for (const [body, code] of cases) {
      const reply = await call("POST", "/connections", { token: admin.token, body });
      expect(reply.status, JSON.stringify(reply.body)).toBe(400);
      expect(reply.body.code).toBe(code);
    }
    const missing = await call("POST", "/connections", {
      token: admin.token,
      body: { source_type: "postgresql", name: "Dangling", equipment_type: "boiler", connection_string: "secret:sec_doesnotexist", query: "SELECT * FROM readings" },
    });
    expect(missing.status, JSON.stringify(missing.body)).toBe(201);
    const sync = await call("POST", `/connections/${missing.body.id}/sync`, { token: admin.token });
    expect(sync.status).toBe(400);
    expect(sync.body.code).toBe("connection.secret_missing");

    const changed = await call("PUT", `/connections/${missing.body.id}`, {
      token: admin.token,
      body: { connection_string: postgres.url.replace(`:${postgres.password}@`, ":wrong-password@") },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const tested = await call("POST", `/connections/${missing.body.id}/test`, { token: admin.token });
    expect(tested.status).toBe(502);
    expect(tested.body.code).toBe("connector.cannot_connect");
    expect(JSON.stringify(tested.body)).not.toContain("wrong-password");
  });

  it("deletes a connection with the vault secrets it created, keeping its datasets", async () => {
    const connection = (await call("GET", `/connections/${connectionId}`, { token: admin.token })).body;
    expect((await call("DELETE", `/connections/${connectionId}`, { token: admin.token })).status).toBe(204);
    expect((await call("GET", `/connections/${connectionId}`, { token: admin.token })).status).toBe(404);
    expect((await call("GET", `/secrets/${connection.secrets.connection_string}`, { token: admin.token })).status).toBe(404);
    expect((await call("GET", `/datasets/${firstVersion.id}`, { token: admin.token })).status).toBe(200);
  });
});

describe("gateway upload API", () => {
  // Recent rows: a stream is cut from the last 30 days unless a time_range says otherwise.
  const recent = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 12 * 3_600_000;
  const csvOf = (from: number, to: number) =>
    ["timestamp,supply_temp,fan_speed,damper_pos", ...Array.from({ length: to - from }, (_, i) => [new Date(recent + (from + i) * 60_000).toISOString(), ...rowAt(from + i).slice(1)].join(","))].join("\n") + "\n";

  it("a gateway pushes rows with its key; the stream becomes a dataset, and a saved connection syncs only what is new", async () => {
    const created = await call("POST", "/upload/keys", { token: admin.token, body: { stream: "bms_gateway_1", name: "Warren BMS" } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ stream: "bms_gateway_1", name: "Warren BMS", revoked_at: null });
    const key = created.body.key as string;
    const listed = await call("GET", "/upload/keys", { token: admin.token });
    expect(listed.body.map((item: any) => item.id)).toContain(created.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(key.split(".")[2]);

    const pushed = await call("POST", "/upload/batch", { rawBody: csvOf(0, 100), contentType: "text/csv", headers: { "x-upload-auth": key } });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(202);
    expect(pushed.body).toMatchObject({ stream: "bms_gateway_1", rows: 100 });

    const connection = await call("POST", "/connections", { token: admin.token, body: { source_type: "upload_stream", name: "Gateway", equipment_type: "air_handler", stream: "bms_gateway_1" } });
    expect(connection.status, JSON.stringify(connection.body)).toBe(201);
    expect((await syncReady(admin, connection.body.id)).row_count).toBe(100);
    expect((await call("POST", "/upload/batch", { rawBody: csvOf(100, 140), contentType: "text/csv", headers: { "x-upload-auth": key } })).status).toBe(202);
    const next = await syncReady(admin, connection.body.id);
    expect(next).toMatchObject({ row_count: 40, connection: { version: 2 } });

    // Revoked: the key stops at once, the rows stay.
    expect((await call("DELETE", `/upload/keys/${created.body.id}`, { token: admin.token })).status).toBe(200);
    const refused = await call("POST", "/upload/batch", { rawBody: csvOf(140, 150), contentType: "text/csv", headers: { "x-upload-auth": key } });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe("upload.invalid_key");
    const once = await call("POST", "/datasets/connect", { token: admin.token, body: { source_type: "upload_stream", name: "Cut", equipment_type: "air_handler", stream: "bms_gateway_1" } });
    expect(once.status, JSON.stringify(once.body)).toBe(201);
    expect((await waitForIngest(admin, once.body.id, 60_000)).row_count).toBe(140);
  });

  it("keys are per tenant and per admin; bad keys and bodies are refused", async () => {
    const operator = await createUser({ tenantId: admin.tenantId, role: "operator" });
    expect((await call("POST", "/upload/keys", { token: operator.token, body: { stream: "x" } })).status).toBe(403);
    expect((await call("POST", "/upload/keys", { token: admin.token, body: { stream: "no spaces allowed" } })).status).toBe(400);
    const other = await createUser();
    const theirs = await call("POST", "/upload/keys", { token: other.token, body: { stream: "bms_gateway_1" } });
    expect((await call("DELETE", `/upload/keys/${theirs.body.id}`, { token: admin.token })).status).toBe(404);
    // Their rows land in their stream, never in ours of the same name.
    expect((await call("POST", "/upload/batch", { rawBody: csvOf(500, 510), contentType: "text/csv", headers: { "x-upload-auth": theirs.body.key } })).status).toBe(202);
    const theirCut = await call("POST", "/datasets/connect", { token: other.token, body: { source_type: "upload_stream", name: "Theirs", equipment_type: "air_handler", stream: "bms_gateway_1" } });
    expect(theirCut.status).toBe(201);
    expect((await waitForIngest(other, theirCut.body.id, 60_000)).row_count).toBe(10);
    for (const header of [undefined, "", "fup.nope.nope", `${theirs.body.key}x`, "Bearer abc"]) {
      const reply = await call("POST", "/upload/batch", { rawBody: csvOf(0, 2), contentType: "text/csv", headers: header === undefined ? {} : { "x-upload-auth": header } });
      expect(reply.status, String(header)).toBe(401);
      expect(reply.body.code).toBe("upload.invalid_key");
    }
    const bad = await call("POST", "/upload/batch", { rawBody: "a,b\n1,2\n", contentType: "text/csv", headers: { "x-upload-auth": theirs.body.key } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("telemetry.no_time_column");
  });
});
