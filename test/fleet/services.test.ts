/**
 * Model services (seed 004) over real HTTP, WebSocket and webhooks, with the
 * controller played by plain heartbeats (no agent): a reported service's
 * listing, details, health, stats, /system/stats, filters and paging;
 * commands (queued → delivered → succeeded, `command.updated` on
 * `service:<id>`, expired for an offline worker, update's model rules);
 * service:start/stop/error webhooks once per transition; shipped logs (order,
 * `lines`, `since`, redaction); tenancy and roles; bad input answered 4xx in
 * the error shape.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TargetEntity } from "../../core/deployment/entities";
import { givenTier } from "../billing/support";
import { storeModel, tinyModel } from "../deployments/helpers";
import { call, uniqueLoopback, type Reply } from "../support/http";
import { webhookReceiver } from "../support/webhooks";
import { createUser, type TestUser } from "../support/users";
import { EventClient } from "../support/ws";

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Worker {
  id: string;
  credential: string;
  service: string;
}

/** A controller enrolled with an admin's token (and approved, unless told not to). */
async function enrol(admin: TestUser, name = "Chiller PLC", approve = true): Promise<Worker> {
  const token = await call("POST", "/admin/workers/enrolment-tokens", { token: admin.token, body: {} });
  expect(token.status).toBe(201);
  const enrolled = await call("POST", "/workers/register", { from: uniqueLoopback(), body: { enrolment_token: token.body.token, name, os_info: "Linux 6.1.0 x86_64" } });
  expect(enrolled.status).toBe(201);
  const { worker, credential } = enrolled.body;
  if (approve) expect((await call("PATCH", `/admin/workers/${worker.id}/approve`, { token: admin.token, body: { is_approved: true } })).status).toBe(200);
  return { id: worker.id, credential, service: `svc_${worker.id.slice(4)}` };
}

const beat = (worker: Worker, body: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  call("POST", `/workers/${worker.id}/heartbeat`, { device: worker.credential, body, headers });

const shipLogs = (worker: Worker, text: string, contentType = "text/plain", credential = worker.credential) =>
  call("POST", `/workers/${worker.id}/logs`, { device: credential, rawBody: text, contentType });

/** A running service's report: 12.5 % CPU, 64 of 256 MiB. */
const running = (startedAt: string, more: Record<string, unknown> = {}) => ({
  status: "running",
  started_at: startedAt,
  restart_count: 0,
  cpu_percent: 12.5,
  memory_bytes: 64 * MiB,
  memory_limit_bytes: 256 * MiB,
  windows_scored: 1200,
  alarms: 3,
  last_score: 0.042,
  ...more,
});
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

async function waitUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(250);
  }
}

describe("service reports", () => {
  it("lists a reported service and shows its status, health, stats and worker", async () => {
    const admin = await createUser();
    const worker = await enrol(admin, "Chiller PLC");
    const startedAt = ago(90_000);
    expect((await beat(worker, { service: running(startedAt, { pid: 4242, port: 8089, restart_count: 2 }) })).status).toBe(200);

    const listed = await call("GET", "/services", { token: admin.token });
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ total: 1, page: 1, limit: 50, pages: 1 });
    expect(listed.body.items.map((service: { id: string }) => service.id)).toEqual([worker.service]);

    const detail = await call("GET", `/services/${worker.service}`, { token: admin.token });
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      id: worker.service,
      status: "running",
      health: "healthy",
      health_reasons: [],
      started_at: startedAt,
      restart_count: 2,
      port: 8089,
      last_score: 0.042,
      model_id: null,
      worker: { id: worker.id, name: "Chiller PLC", status: "online" },
    });
    expect(detail.body.uptime).toBeGreaterThanOrEqual(89);

    const stats = await call("GET", `/services/${worker.service}/stats`, { token: admin.token });
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual({
      cpu: 12.5,
      memory: 25,
      memoryUsage: 64 * MiB,
      memoryLimit: 256 * MiB,
      uptime: expect.any(Number),
      restartCount: 2,
      windowsScored: 1200,
      alarms: 3,
      timestamp: detail.body.reported_at,
    });
    expect(stats.body.uptime).toBeGreaterThanOrEqual(89);
  });

  it("marks high CPU or memory degraded and a failure unhealthy; /system/stats, filters and pages count them", async () => {
    const admin = await createUser();
    const hot = await enrol(admin, "Hot PLC");
    const broken = await enrol(admin, "Broken PLC");
    const idle = await enrol(admin, "Idle PLC");
    await enrol(admin, "Silent PLC"); // approved, never reported: no service
    await beat(hot, { service: running(ago(5000), { cpu_percent: 95, memory_bytes: 240 * MiB }) });
    await beat(broken, { service: { status: "failed", restart_count: 5, exit_code: 137, error: "flint-model: out of memory" } });
    await beat(idle, { service: { status: "stopped" } });
    const get = async (id: string) => (await call("GET", `/services/${id}`, { token: admin.token })).body;

    expect(await get(hot.service)).toMatchObject({ health: "degraded", health_reasons: ["CPU at 95 %", "memory at 93.75 % of its limit"] });
    expect(await get(broken.service)).toMatchObject({ status: "failed", health: "unhealthy", health_reasons: ["flint-model: out of memory"], last_exit_code: 137, started_at: null });
    expect(await get(idle.service)).toMatchObject({ status: "stopped", health: "unknown", stats: { cpu: 0, memoryUsage: 0, uptime: 0 } });

    const system = await call("GET", "/system/stats", { token: admin.token });
    expect(system.status).toBe(200);
    expect(system.body.services).toEqual({ total: 3, running: 1, stopped: 2, failed: 1, installing: 0 });
    expect(system.body.resources).toEqual({ avgCpu: 95, avgMemory: 93.75, totalMemoryUsage: 240 * MiB });
    expect(system.body.health).toMatchObject({ status: "unhealthy", errors: 1, warnings: 1 });
    expect(system.body.health.issues).toHaveLength(2);
    expect(system.body.health.issues).toEqual(
      expect.arrayContaining([
        { service_id: broken.service, worker_id: broken.id, level: "error", message: "flint-model: out of memory" },
        { service_id: hot.service, worker_id: hot.id, level: "warning", message: "CPU at 95 %; memory at 93.75 % of its limit" },
      ]),
    );

    const page = async (query: string) => (await call("GET", `/services?${query}`, { token: admin.token })).body;
    const ids = async (query: string) => (await page(query)).items.map((service: { id: string }) => service.id).sort();
    expect(await ids("filter=running")).toEqual([hot.service]);
    expect(await ids("filter=stopped")).toEqual([broken.service, idle.service].sort());
    expect(await ids("filter=failed")).toEqual([broken.service]);
    expect(await ids("filter=all")).toEqual([hot.service, broken.service, idle.service].sort());
    const [first, second, beyond] = [await page("limit=2&page=1"), await page("limit=2&page=2"), await page("limit=2&page=3")];
    expect(first).toMatchObject({ total: 3, page: 1, limit: 2, pages: 2 });
    expect(first.items).toHaveLength(2);
    expect(second).toMatchObject({ total: 3, page: 2, pages: 2 });
    expect([...first.items, ...second.items].map((service: { id: string }) => service.id).sort()).toEqual(await ids("filter=all"));
    expect(beyond).toMatchObject({ items: [], total: 3, page: 3 });
  });
});

describe("commands", () => {
  it("queues a restart, hands it over with the next heartbeat and records the agent's result, live on service:<id>", async () => {
    const admin = await createUser();
    const worker = await enrol(admin);
    await beat(worker, { service: running(ago(60_000)) });
    const client = await EventClient.open(admin);
    expect((await client.subscribe(`service:${worker.service}`)).type).toBe("subscribed");

    const issued = await call("POST", `/services/${worker.service}/restart`, { token: admin.token });
    expect(issued.status).toBe(202);
    expect(issued.body).toMatchObject({ id: expect.stringMatching(/^cmd_/), service_id: worker.service, worker_id: worker.id, command: "restart", state: "queued", result: null, created_by: admin.username });
    const { id } = issued.body;
    const commands = async () => (await call("GET", `/services/${worker.service}/commands`, { token: admin.token })).body;

    const handed = await beat(worker, { service: running(ago(60_000)) });
    expect(handed.body.tasks.commands).toEqual([{ id, command: "restart", created_at: issued.body.created_at, expires_at: issued.body.expires_at }]);
    expect((await commands())[0]).toMatchObject({ id, state: "delivered", delivered_at: expect.any(String) });
    // Sent again until the agent reports it; the plain-text answer lists it as a line.
    const asText = await beat(worker, {}, { accept: "text/plain" });
    expect(asText.body).toContain(`command ${id} restart\n`);

    const reported = await beat(worker, { service: running(ago(1000), { restart_count: 1 }), command_results: [{ id, state: "succeeded", result: "restarted in 0.4 s" }] });
    expect(reported.body.tasks.commands).toEqual([]);
    expect((await commands())[0]).toMatchObject({ id, state: "succeeded", result: "restarted in 0.4 s", finished_at: expect.any(String) });
    const live = await client.waitFor((event) => event.type === "command.updated" && event.command_id === id && event.state === "succeeded" && !event.snapshot, 10_000);
    expect(live).toMatchObject({ service_id: worker.service, command: "restart", result: "restarted in 0.4 s" });

    // A late, contradicting result neither reopens nor re-announces it.
    await beat(worker, { command_results: [{ id, state: "failed", result: "late" }] });
    expect((await commands())[0]).toMatchObject({ id, state: "succeeded" });
    await sleep(1500);
    const states = client.of("command.updated").filter((event) => event.command_id === id && !event.snapshot).map((event) => event.state);
    expect(states.sort()).toEqual(["delivered", "queued", "succeeded"]);
    client.close();
  });

  it("expires a command for a worker that is offline: never seen, or silent past the window", async () => {
    const admin = await createUser();
    const never = await enrol(admin, "Never seen");
    const unsent = await call("POST", `/services/${never.service}/restart`, { token: admin.token });
    expect(unsent.status).toBe(202);
    expect(unsent.body).toMatchObject({ state: "expired", reason: "Never seen is offline (last heartbeat never): the command was not sent", finished_at: expect.any(String) });
    // An update that could never run says so, online or not.
    const missing = await call("POST", `/services/${never.service}/update`, { token: admin.token, body: { model_id: "mdl_01m8vnzsc7nxvn7410wghtpq26" } });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("model.not_found");

    const quiet = await enrol(admin, "Goes quiet");
    await beat(quiet, { service: running(ago(1000)) });
    const queued = await call("POST", `/services/${quiet.service}/stop`, { token: admin.token });
    expect(queued.body.state).toBe("queued");
    // Silent past 8 s: the sweep expires the open command; a new one expires at once.
    const list = await waitUntil(
      async () => (await call("GET", `/services/${quiet.service}/commands`, { token: admin.token })).body,
      (commands) => commands[0]?.state === "expired",
    );
    expect(list[0]).toMatchObject({ id: queued.body.id, state: "expired", reason: expect.stringMatching(/^Goes quiet went offline \(last heartbeat .+\) before the command was done$/) });
    const late = await call("POST", `/services/${quiet.service}/start`, { token: admin.token });
    expect(late.status).toBe(202);
    expect(late.body).toMatchObject({ state: "expired", reason: expect.stringMatching(/^Goes quiet is offline \(last heartbeat \d{4}-.+\): the command was not sent$/) });
    // Back online, the worker is not handed what expired.
    expect((await beat(quiet)).body.tasks.commands).toEqual([]);
  }, 60_000);

  it("update needs a model: named, or newer than the running one on its sensors; another tenant's is not found", async () => {
    const [admin, other] = await Promise.all([createUser(), createUser()]);
    await givenTier(admin.tenantId, "pro");
    const trained = await tinyModel("lstm_autoencoder");
    const [installed, theirs] = await Promise.all([storeModel(admin.tenantId, trained, "lstm_autoencoder"), storeModel(other.tenantId, trained, "lstm_autoencoder")]);
    const worker = await enrol(admin, "Pump PLC");
    const update = async (body?: Record<string, unknown>) => {
      await beat(worker, { service: running(ago(1000)) }); // online, so the command is not expired at once
      return call("POST", `/services/${worker.service}/update`, { token: admin.token, body });
    };

    const nothingInstalled = await update();
    expect(nothingInstalled.status).toBe(400);
    expect(nothingInstalled.body.code).toBe("service.model_required");
    const foreign = await update({ model_id: theirs });
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe("model.not_found");

    // Fixture: the worker runs `installed` (as after a confirmed install), the newest model on its sensors.
    await TargetEntity.patch({ tenantId: admin.tenantId, targetId: worker.id }).set({ currentModel: installed }).go();
    const upToDate = await update({});
    expect(upToDate.status).toBe(409);
    expect(upToDate.body).toMatchObject({ code: "service.up_to_date", details: { model_id: installed } });

    const newer = await storeModel(admin.tenantId, trained, "lstm_autoencoder");
    const queued = await update();
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ command: "update", state: "queued", model_id: newer, deployment_id: expect.stringMatching(/^dep_/) });
    const deployment = await call("GET", `/deployments/${queued.body.deployment_id}`, { token: admin.token });
    expect(deployment.body).toMatchObject({ model_id: newer, target_id: worker.id });
  });
});

describe("service webhooks", () => {
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;

  beforeAll(async () => {
    receiver = await webhookReceiver("/services");
  });
  afterAll(() => receiver.close());

  it("delivers service:start, service:stop and service:error once per transition", async () => {
    const admin = await createUser();
    expect((await call("POST", "/webhooks", { token: admin.token, body: { url: receiver.url, events: ["service:start", "service:stop", "service:error"] } })).status).toBe(201);
    const worker = await enrol(admin, "Dosing PLC");
    const [firstStart, secondStart] = [ago(60_000), ago(500)];
    const failed = { status: "failed", restart_count: 2, exit_code: 1, error: "model file missing" };
    // Repeated reports of the same state announce nothing.
    for (const service of [running(firstStart), running(firstStart, { cpu_percent: 40 }), { status: "stopped" }, { status: "stopped" }, running(secondStart, { restart_count: 1 }), failed, failed]) {
      expect((await beat(worker, { service })).status).toBe(200);
    }
    const mine = () => receiver.received.filter((event) => event.data.service_id === worker.service);
    await waitUntil(async () => mine(), (events) => events.length >= 4);
    await sleep(3000);
    const events = mine().sort((a, b) => a.created_at.localeCompare(b.created_at));
    expect(events.map((event) => event.type)).toEqual(["service:start", "service:stop", "service:start", "service:error"]);
    expect(new Set(events.map((event) => event.id)).size).toBe(4);
    expect(events[0]!.data).toMatchObject({ worker_id: worker.id, worker_name: "Dosing PLC", status: "running", at: firstStart, restart_count: 0 });
    expect(events[1]!.data).toMatchObject({ status: "stopped" });
    expect(events[2]!.data).toMatchObject({ status: "running", at: secondStart, restart_count: 1 });
    expect(events[3]!.data).toMatchObject({ status: "failed", exit_code: 1, error: "model file missing", restart_count: 2 });
  }, 60_000);
});

describe("logs", () => {
  it("keeps shipped lines, answers them newest first with lines and since, and redacts secrets", async () => {
    const admin = await createUser();
    const worker = await enrol(admin, "Logger PLC");
    const base = Date.now() - 60_000;
    const at = (second: number) => new Date(base + second * 1000).toISOString();
    const bearer = "abcdefghijklmnopqrstuvwxyz0123456789";
    const first = await shipLogs(worker, `${at(0)} info listening on :8089\n${at(1)} debug window 1 scored 0.01\n${at(2)} warn score 0.91 above threshold\n`);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ accepted: 3 });
    const second = await shipLogs(worker, `${at(3)} error upstream refused Authorization: Bearer ${bearer}\r\n${at(4)} info retried with ${worker.credential} and password=hunter2`);
    expect(second.body).toEqual({ accepted: 2 });

    const read = async (query = "") => {
      const answer = await call("GET", `/services/${worker.service}/logs${query}`, { token: admin.token });
      expect(answer.status).toBe(200);
      return answer;
    };
    const all = await read();
    expect(all.body.logs.map((entry: { timestamp: string }) => entry.timestamp)).toEqual([at(4), at(3), at(2), at(1), at(0)]);
    expect(all.body.logs[0]).toEqual({ timestamp: at(4), level: "info", message: "retried with fdc.[redacted] and password=[redacted]" });
    expect(all.body.logs[1]).toEqual({ timestamp: at(3), level: "error", message: "upstream refused Authorization: Bearer [redacted]" });
    expect(all.body.logs[2]).toMatchObject({ level: "warn", message: "score 0.91 above threshold" });
    const text = new TextDecoder().decode(all.bytes);
    for (const secret of ["hunter2", bearer, worker.credential, worker.credential.split(".")[2]!]) expect(text).not.toContain(secret);

    const stamps = async (query: string) => (await read(query)).body.logs.map((entry: { timestamp: string }) => entry.timestamp);
    expect(await stamps("?lines=2")).toEqual([at(4), at(3)]);
    expect(await stamps(`?since=${at(2)}`)).toEqual([at(4), at(3), at(2)]);
    expect(await stamps(`?since=${at(2)}&lines=1`)).toEqual([at(4)]);
  });
});

describe("tenancy and roles", () => {
  it("answers 404 for another tenant's service, and a credential acts only on its own worker", async () => {
    const [alice, bob] = await Promise.all([createUser(), createUser()]);
    const mine = await enrol(alice, "Alice PLC");
    const theirs = await enrol(bob, "Bob PLC");
    await beat(theirs, { service: running(ago(1000)) });
    const paths = ["", "/stats", "/logs", "/commands"].map((suffix) => ["GET", `/services/${theirs.service}${suffix}`]);
    for (const [method, path] of [...paths, ["POST", `/services/${theirs.service}/restart`], ["POST", `/services/${theirs.service}/update`]] as const) {
      const answer = await call(method!, path!, { token: alice.token });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body.code).toBe("service.not_found");
    }
    expect((await call("GET", "/services", { token: alice.token })).body.total).toBe(0);

    const foreignLogs = await shipLogs(theirs, `${new Date().toISOString()} info not yours\n`, "text/plain", mine.credential);
    expect(foreignLogs.status).toBe(404);
    expect(foreignLogs.body.code).toBe("worker.not_found");
    const foreignBeat = await call("POST", `/workers/${theirs.id}/heartbeat`, { device: mine.credential, body: { service: { status: "stopped" } } });
    expect(foreignBeat.status).toBe(404);
    // Bob's service was not touched.
    expect((await call("GET", `/services/${theirs.service}`, { token: bob.token })).body.status).toBe("running");
    expect((await call("GET", `/services/${theirs.service}/commands`, { token: bob.token })).body).toEqual([]);
    expect((await call("GET", `/services/${theirs.service}/logs`, { token: bob.token })).body).toEqual({ logs: [] });
  });

  it("refuses an unapproved worker's logs, and lets a viewer read a service but not command it", async () => {
    const admin = await createUser();
    const pending = await enrol(admin, "Pending PLC", false);
    const refused = await shipLogs(pending, `${new Date().toISOString()} info hello\n`);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("worker.not_approved");
    expect((await call("GET", `/services/${pending.service}`, { token: admin.token })).status).toBe(404);

    const worker = await enrol(admin, "Shared PLC");
    await beat(worker, { service: running(ago(1000)) });
    const [viewer, operator] = await Promise.all([createUser({ tenantId: admin.tenantId, role: "viewer" }), createUser({ tenantId: admin.tenantId, role: "operator" })]);
    for (const path of [`/services/${worker.service}`, `/services/${worker.service}/stats`, `/services/${worker.service}/logs`, `/services/${worker.service}/commands`, "/services", "/system/stats"]) {
      expect((await call("GET", path, { token: viewer.token })).status, path).toBe(200);
    }
    const forbidden = await call("POST", `/services/${worker.service}/restart`, { token: viewer.token });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe("auth.forbidden");
    expect((await call("GET", `/services/${worker.service}/commands`, { token: admin.token })).body).toEqual([]);
    expect((await call("POST", `/services/${worker.service}/restart`, { token: operator.token })).status).toBe(202);
  });
});

describe("bad input", () => {
  let admin: TestUser;
  let worker: Worker;
  beforeAll(async () => {
    admin = await createUser();
    worker = await enrol(admin, "Fuzzed PLC");
  });
  const get = (path: string) => call("GET", path, { token: admin.token });

  it.each<[string, number, () => Promise<Reply>]>([
    ["a service status that does not exist", 400, () => beat(worker, { service: { status: "exploded" } })],
    ["a negative CPU share", 400, () => beat(worker, { service: { status: "running", cpu_percent: -3 } })],
    ["more than 100 command results", 400, () => beat(worker, { command_results: Array.from({ length: 101 }, (_, i) => ({ id: `cmd_${i}`, state: "succeeded" })) })],
    ["a command result in an unknown state", 400, () => beat(worker, { command_results: [{ id: "cmd_1", state: "exploded" }] })],
    ["a worker id given as a service id", 404, () => get("/services/tgt_01jd3x5k2m8n9p0q1r2s3t4u5v")],
    ["a service id far too long", 400, () => get(`/services/svc_${"x".repeat(80)}`)],
    ["limit=0", 400, () => get("/services?limit=0")],
    ["an unknown filter", 400, () => get("/services?filter=sleeping")],
    ["page=0", 400, () => get("/services?page=0")],
    ["lines=abc", 400, () => get(`/services/${worker.service}/logs?lines=abc`)],
    ["since that is not a time", 400, () => get(`/services/${worker.service}/logs?since=yesterday`)],
    ["a command list limit of 0", 400, () => get(`/services/${worker.service}/commands?limit=0`)],
    ["a log body over 256 KB", 413, () => shipLogs(worker, `${"x".repeat(1000)}\n`.repeat(300))],
    ["a JSON log body", 415, () => shipLogs(worker, '{"message":"hello"}', "application/json")],
    ["an update naming a number as its model", 400, () => call("POST", `/services/${worker.service}/update`, { token: admin.token, body: { model_id: 42 } })],
  ])("answers %s with %i in the error shape", async (_label, status, send) => {
    const answer = await send();
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ error: expect.any(String), code: expect.any(String) });
    expect(answer.body).toHaveProperty("details");
  });
});
