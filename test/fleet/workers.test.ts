/**
 * The fleet over real HTTP, WebSocket and webhooks: an admin's enrolment
 * token, a controller enrolling itself and waiting for approval, heartbeats
 * with health, the overview, worker.online / worker.offline exactly once per
 * transition, and tenancy (another tenant's worker or token is not found; a
 * credential acts only on its own worker).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { webhookReceiver } from "../support/webhooks";
import { EventClient } from "../support/ws";

const device = (credential: string) => ({ headers: { authorization: `Device ${credential}` } });
const controller = { name: "Boiler house PLC", hostname: "plc-07", ip_address: "100.64.3.7", cpu_cores: 4, memory_total_mb: 1024, os_info: "Linux 6.1.0 armv7l" };

async function enrolmentToken(admin: TestUser, body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const created = await call("POST", "/admin/workers/enrolment-tokens", { token: admin.token, body });
  expect(created.status).toBe(201);
  return created.body;
}

async function waitUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("enrolment tokens and self-enrolment", () => {
  let admin: TestUser;
  beforeAll(async () => {
    admin = await createUser();
  });

  it("shows a token once, lists it without its secret, and lets only admins make one", async () => {
    const created = await enrolmentToken(admin, { name: "Plant A", max_uses: 2, expires_in_hours: 2, group: "plant-a" });
    expect(created).toMatchObject({ id: expect.stringMatching(/^enr_/), token: expect.stringMatching(/^fen\./), max_uses: 2, uses: 0, group: "plant-a", usable: true });
    const listed = await call("GET", "/admin/workers/enrolment-tokens", { token: admin.token });
    expect(listed.body.find((token: { id: string }) => token.id === created.id)).toMatchObject({ name: "Plant A", uses: 0 });
    expect(JSON.stringify(listed.body)).not.toContain(created.token.split(".")[2]);
    const operator = await createUser({ tenantId: admin.tenantId, role: "operator" });
    expect((await call("POST", "/admin/workers/enrolment-tokens", { token: operator.token, body: {} })).status).toBe(403);
    expect((await call("GET", "/admin/workers", { token: operator.token })).status).toBe(403);
  });

  it("enrols a pending worker whose credential is refused until an admin approves it", async () => {
    const { token } = await enrolmentToken(admin, { group: "boilers" });
    const enrolled = await call("POST", "/workers/register", { body: { enrolment_token: token, ...controller } });
    expect(enrolled.status).toBe(201);
    expect(enrolled.body.worker).toMatchObject({ approval: "pending", arch: "armv7", hostname: "plc-07", cpu_cores: 4, memory_total_mb: 1024, group: "boilers", status: "offline" });
    const { worker, credential } = enrolled.body;

    for (const [method, path] of [["POST", `/workers/${worker.id}/heartbeat`], ["GET", `/workers/${worker.id}/tasks`], ["GET", "/devices/assignment"]] as const) {
      const refused = await call(method, path, { ...device(credential), body: method === "POST" ? {} : undefined });
      expect(refused.status, path).toBe(403);
      expect(refused.body.code).toBe("worker.not_approved");
    }
    const pending = await call("GET", "/admin/workers?approval=pending", { token: admin.token });
    expect(pending.body.map((w: { id: string }) => w.id)).toContain(worker.id);
    expect((await call("GET", "/workers/overview", { token: admin.token })).body).toMatchObject({ pending_approval: 1, total: 0 });

    const rejected = await call("PATCH", `/admin/workers/${worker.id}/approve`, { token: admin.token, body: { is_approved: false } });
    expect(rejected.body.approval).toBe("rejected");
    expect((await call("POST", `/workers/${worker.id}/heartbeat`, { ...device(credential), body: {} })).body.code).toBe("worker.rejected");

    const approved = await call("PATCH", `/admin/workers/${worker.id}/approve`, { token: admin.token, body: { is_approved: true, group: "boilers-north" } });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ approval: "approved", group: "boilers-north" });
    const beat = await call("POST", `/workers/${worker.id}/heartbeat`, { ...device(credential), body: { cpu_usage_percent: 37.5, memory_usage_percent: 61, disk_usage_percent: 12.25 } });
    expect(beat.status).toBe(200);
    expect(beat.body.worker).toMatchObject({ status: "online", cpu_usage_percent: 37.5, memory_usage_percent: 61, disk_usage_percent: 12.25 });
    expect(beat.body.tasks).toEqual({ assignment: null, commands: [] });
  });

  it("refuses a used-up, revoked, expired-looking or forged token with the same 401", async () => {
    const single = await enrolmentToken(admin, { max_uses: 1 });
    expect((await call("POST", "/workers/register", { body: { enrolment_token: single.token, ...controller } })).status).toBe(201);
    const revoked = await enrolmentToken(admin, { max_uses: null });
    expect((await call("DELETE", `/admin/workers/enrolment-tokens/${revoked.id}`, { token: admin.token })).status).toBe(204);
    const [prefix, id] = revoked.token.split(".");
    for (const token of [single.token, revoked.token, `${prefix}.${id}.not-the-secret`, "fen.enr_nothing.x", "garbage"]) {
      const answer = await call("POST", "/workers/register", { body: { enrolment_token: token, ...controller } });
      expect(answer.status, token).toBe(401);
      expect(answer.body.code).toBe("worker.invalid_enrolment_token");
    }
    const listed = await call("GET", "/admin/workers/enrolment-tokens", { token: admin.token });
    expect(listed.body.find((token: { id: string }) => token.id === single.id)).toMatchObject({ uses: 1, usable: false });
    expect(listed.body.find((token: { id: string }) => token.id === revoked.id)).toMatchObject({ revoked: true, usable: false });
  });

  it("answers 400 for a body it cannot use, and uses nothing of the token", async () => {
    const limited = await enrolmentToken(admin, { max_uses: 1 });
    for (const body of [
      { enrolment_token: limited.token, ...controller, os_info: "Windows" },
      { enrolment_token: limited.token, ...controller, arch: "sparc" },
      { enrolment_token: limited.token, ...controller, cpu_cores: -1 },
      { enrolment_token: limited.token, name: "" },
    ]) {
      const answer = await call("POST", "/workers/register", { body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body).toMatchObject({ error: expect.any(String), code: expect.any(String), details: expect.anything() });
    }
    expect((await call("POST", "/workers/register", { body: { enrolment_token: limited.token, ...controller } })).status).toBe(201);
  });
});

describe("liveness: online and offline once per transition", () => {
  let admin: TestUser;
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;

  beforeAll(async () => {
    admin = await createUser();
    receiver = await webhookReceiver("/fleet");
    const hook = await call("POST", "/webhooks", { token: admin.token, body: { url: receiver.url, events: ["worker.online", "worker.offline"] } });
    expect(hook.status).toBe(201);
  });

  afterAll(() => receiver.close());

  it("announces worker.online at the first heartbeat, worker.offline once after silence, and online again", async () => {
    const client = await EventClient.open(admin);
    await client.subscribe("tenant");
    const { token } = await enrolmentToken(admin);
    const { worker, credential } = (await call("POST", "/workers/register", { body: { enrolment_token: token, ...controller } })).body;
    await call("PATCH", `/admin/workers/${worker.id}/approve`, { token: admin.token, body: { is_approved: true } });

    for (let beat = 0; beat < 3; beat++) expect((await call("POST", `/workers/${worker.id}/heartbeat`, { ...device(credential), body: { cpu_usage_percent: 10 + beat } })).status).toBe(200);
    // The device protocol's heartbeat is the same worker's heartbeat.
    expect((await call("POST", "/devices/heartbeat", { ...device(credential), body: {} })).body.status).toBe("online");
    const online = await client.waitFor((event) => event.type === "worker.online" && event.worker_id === worker.id, 10_000);
    expect(online).toMatchObject({ name: controller.name, group: null, last_seen: expect.any(String) });
    const overview = (await call("GET", "/workers/overview", { token: admin.token })).body;
    expect(overview).toMatchObject({ total: 1, online: 1, offline: 0, average_cpu_usage_percent: 12 });

    // Silent past the offline window (8 s in tests): one worker.offline, however many sweeps run.
    const silent = await client.waitFor((event) => event.type === "worker.offline" && event.worker_id === worker.id, 30_000);
    expect(silent.last_seen).toEqual(expect.any(String));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(client.events.filter((event) => event.data.type === "worker.offline" && event.data.worker_id === worker.id)).toHaveLength(1);
    expect(client.events.filter((event) => event.data.type === "worker.online" && event.data.worker_id === worker.id)).toHaveLength(1);
    expect((await call("GET", `/workers/${worker.id}`, { token: admin.token })).body.status).toBe("offline");
    expect((await call("GET", "/workers/overview", { token: admin.token })).body).toMatchObject({ online: 0, offline: 1 });

    await call("POST", `/workers/${worker.id}/heartbeat`, { ...device(credential), body: {} });
    await client.waitFor((event) => event.type === "worker.online" && event.worker_id === worker.id && event.last_seen !== online.last_seen, 10_000);
    client.close();

    const hooks = await waitUntil(
      async () => receiver.received.filter((event) => event.data.worker_id === worker.id).map((event) => event.type),
      (types) => types.length >= 3,
    );
    expect(hooks).toEqual(["worker.online", "worker.offline", "worker.online"]);
  }, 90_000);
});

describe("tenancy", () => {
  it("answers 404 for another tenant's worker or token, and a credential acts only on its own worker", async () => {
    const [alice, bob] = await Promise.all([createUser(), createUser()]);
    const enrol = async (admin: TestUser) => {
      const { token } = await enrolmentToken(admin);
      const { worker, credential } = (await call("POST", "/workers/register", { body: { enrolment_token: token, ...controller } })).body;
      await call("PATCH", `/admin/workers/${worker.id}/approve`, { token: admin.token, body: { is_approved: true } });
      return { id: worker.id as string, credential: credential as string };
    };
    const [mine, theirs] = await Promise.all([enrol(alice), enrol(bob)]);
    expect((await call("GET", `/workers/${theirs.id}`, { token: alice.token })).status).toBe(404);
    expect((await call("PATCH", `/admin/workers/${theirs.id}/approve`, { token: alice.token, body: { is_approved: false } })).status).toBe(404);
    const bobsToken = await enrolmentToken(bob);
    expect((await call("DELETE", `/admin/workers/enrolment-tokens/${bobsToken.id}`, { token: alice.token })).status).toBe(404);
    for (const [method, path] of [["POST", `/workers/${theirs.id}/heartbeat`], ["GET", `/workers/${theirs.id}/tasks`]] as const) {
      const answer = await call(method, path, { ...device(mine.credential), body: method === "POST" ? {} : undefined });
      expect(answer.status, path).toBe(404);
    }
    expect((await call("GET", "/admin/workers", { token: alice.token })).body.map((w: { id: string }) => w.id)).toEqual([mine.id]);
    // Bob's worker was not touched by Alice's attempts.
    expect((await call("GET", `/workers/${theirs.id}`, { token: bob.token })).body).toMatchObject({ approval: "approved", status: "offline" });
  });
});
