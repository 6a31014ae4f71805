/**
 * The reference edge agent (core/deployment/agent/flint-agent.sh) itself,
 * run as a controller would run it, against the local runtime: the ARM
 * flint-model under qemu-user, sensor rows from a command. Enrols with a
 * token, waits for approval, installs a deployment, runs the model as a
 * supervised service with real figures, carries out restart / stop / start /
 * update from the API, survives crashes with backoff, ships redacted logs,
 * keeps supervising through an uplink outage and catches up after it, and,
 * once silent, goes offline once while its commands expire.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { givenTier } from "../billing/support";
import { baseUrl, call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { webhookReceiver } from "../support/webhooks";
import { storeModel, tinyModel, waitForStatus } from "../deployments/helpers";

const AGENT = path.resolve("core/deployment/agent/flint-agent.sh");
const NAME = `agent-test-${process.pid}`;
/** Rows like the training data's (three sensors around 20–30), five a second; a fake secret on stderr once. */
const SOURCE = "cmd:echo 'connecting with password=hunter2-secret' >&2; i=0; while :; do i=$((i + 1)); echo \"2$((i % 7)).5,2$((i % 5)).1,2$((i % 3)).9\"; sleep 0.2; done";

let admin: TestUser;
let stateDir: string;
let agent: ChildProcess | undefined;
let agentOutput = "";
let webhooks: Awaited<ReturnType<typeof webhookReceiver>>;
/** The controller's way to the platform: a TCP relay the tests can cut, as a plant's uplink fails. */
let uplink: TcpServer;
let uplinkDown = false;
const uplinkSockets = new Set<Socket>();

let workerId: string;
let serviceId: string;
let firstModel: string;
let firstDeployment: any;
let updateDeployment: string;

/** Polls `read` until `done` holds; fails with what was last seen and the agent's own output. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms; last ${JSON.stringify(value)}\nagent:\n${agentOutput.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

const service = async () => (await call("GET", `/services/${serviceId}`, { token: admin.token })).body;
const commands = async () => (await call("GET", `/services/${serviceId}/commands`, { token: admin.token })).body as any[];
const hooksOf = (type: string) => webhooks.received.filter((event) => event.type === type && event.data.worker_id === workerId);
const logMessages = async (query = "lines=5000") => ((await call("GET", `/services/${serviceId}/logs?${query}`, { token: admin.token })).body.logs as any[]).map((line) => line.message as string);
const statePid = (file: string) => Number(readFileSync(path.join(stateDir, file), "utf8").trim());
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The pid of the running flint-model, once there is one (other than `replaced`, which may linger as a zombie a moment). */
const runningPid = (replaced?: number) =>
  until(
    "flint-model is running",
    async () => (existsSync(path.join(stateDir, "service.pid")) ? statePid("service.pid") : 0),
    (pid) => pid > 0 && pid !== replaced && isAlive(pid),
    20_000,
  );

async function issue(command: string, body?: unknown) {
  const answer = await call("POST", `/services/${serviceId}/${command}`, { token: admin.token, body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  expect(answer.body).toMatchObject({ command, state: "queued", service_id: serviceId, worker_id: workerId });
  return answer.body as { id: string };
}

async function finished(commandId: string, timeoutMs = 45_000) {
  const list = await until(`command ${commandId} finished`, commands, (items) => ["succeeded", "failed", "expired"].includes(items.find((c) => c.id === commandId)?.state), timeoutMs);
  return list.find((c) => c.id === commandId);
}

beforeAll(async () => {
  admin = await createUser();
  await givenTier(admin.tenantId, "pro");
  webhooks = await webhookReceiver("/flint");
  const hook = await call("POST", "/webhooks", { token: admin.token, body: { url: webhooks.url, events: ["service:start", "service:stop", "service:error", "worker.offline"] } });
  expect(hook.status).toBe(201);
  const platform = new URL(baseUrl);
  uplink = createTcpServer((socket) => {
    if (uplinkDown) return socket.destroy();
    const upstream = connect(Number(platform.port), platform.hostname);
    for (const end of [socket, upstream]) {
      uplinkSockets.add(end);
      end.on("error", () => undefined);
      end.on("close", () => uplinkSockets.delete(end));
    }
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => uplink.listen(0, "127.0.0.1", resolve));
  firstModel = await storeModel(admin.tenantId, await tinyModel("lstm_autoencoder"), "lstm_autoencoder");
  stateDir = mkdtempSync(path.join(os.tmpdir(), "flint-agent-"));
});

afterAll(async () => {
  // The agent, the service it started and the row source share the agent's process group.
  if (agent?.pid && agent.exitCode === null) {
    try {
      process.kill(-agent.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const socket of uplinkSockets) socket.destroy();
  await new Promise<void>((resolve) => uplink.close(() => resolve()));
  await webhooks.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("the reference edge agent against the local runtime", () => {
  it("is served to controllers as it is packaged: the script and its systemd unit, no login needed", async () => {
    const script = await call("GET", "/workers/agent/flint-agent");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(new TextDecoder().decode(script.bytes)).toBe(readFileSync(AGENT, "utf8"));
    const unit = await call("GET", "/workers/agent/flint-agent.service");
    expect(unit.body).toContain("ExecStart=/opt/flint/flint-agent");
    const other = await call("GET", "/workers/agent/..%2F..%2Fpackage.json");
    expect(other.status).toBe(400);
    expect(other.body).toMatchObject({ code: expect.any(String), details: expect.anything() });
  });

  it("enrols with a token, waits for approval, then heartbeats with real host figures", async () => {
    const created = await call("POST", "/admin/workers/enrolment-tokens", { token: admin.token, body: { name: "agent test", max_uses: 1 } });
    expect(created.status).toBe(201);
    agent = spawn("sh", [AGENT], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH,
        FLINT_AGENT_CONF: "/nonexistent",
        FLINT_API: `http://127.0.0.1:${(uplink.address() as AddressInfo).port}/api/v1`,
        FLINT_ENROLMENT_TOKEN: created.body.token,
        FLINT_NAME: NAME,
        FLINT_STATE_DIR: stateDir,
        FLINT_SOURCE: SOURCE,
        FLINT_HEARTBEAT_SECONDS: "1",
        FLINT_RUNNER: "qemu-arm",
        FLINT_ARCH: "armv7l",
        FLINT_INSTALL_PROBE_SECONDS: "1",
      },
    });
    agent.stdout!.on("data", (chunk: Buffer) => (agentOutput += chunk.toString()));
    agent.stderr!.on("data", (chunk: Buffer) => (agentOutput += chunk.toString()));

    const pending = await until(
      "the agent's worker is pending",
      async () => ((await call("GET", "/admin/workers?approval=pending", { token: admin.token })).body as any[]).find((w) => w.name === NAME),
      (worker) => worker !== undefined,
    );
    expect(pending).toMatchObject({ arch: "armv7", approval: "pending", cpu_cores: os.cpus().length });
    workerId = pending.id;
    serviceId = `svc_${workerId.replace(/^tgt_/, "")}`;
    // The credential never reaches the command line or the agent's output.
    expect(agentOutput).not.toMatch(/fdc\.[A-Za-z0-9]{8}/);

    const approved = await call("PATCH", `/admin/workers/${workerId}/approve`, { token: admin.token, body: { is_approved: true } });
    expect(approved.status).toBe(200);
    const online = await until(
      "the approved worker heartbeats",
      async () => (await call("GET", `/workers/${workerId}`, { token: admin.token })).body,
      (worker) => worker.status === "online" && worker.memory_usage_percent > 0,
    );
    expect(online.disk_usage_percent).toBeGreaterThan(0);
    expect(online.cpu_usage_percent).toBeGreaterThanOrEqual(0);
    expect(online.cpu_usage_percent).toBeLessThanOrEqual(100);
  }, 90_000);

  it("installs a deployment and runs flint-model as a service with real figures", async () => {
    const created = await call("POST", "/deployments", { token: admin.token, body: { model_id: firstModel, target_id: workerId } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    firstDeployment = await waitForStatus(admin, created.body.id, ["deployed", "failed"], 120_000);
    expect(firstDeployment.reason).toBeNull();
    expect(firstDeployment.status).toBe("deployed");

    const running = await until("the service runs and scores", service, (s) => s.status === "running" && s.stats.windowsScored > 0 && s.stats.memoryUsage > 0);
    expect(running).toMatchObject({ id: serviceId, health: "healthy", model_id: firstModel, deployment_id: firstDeployment.id, binary_sha256: firstDeployment.binary_sha256, arch: "armv7" });
    expect(running.worker).toMatchObject({ id: workerId, name: NAME, status: "online" });
    // The figures are the qemu-arm process's own, read from /proc.
    const pid = statePid("service.pid");
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
    expect(running.stats.memoryUsage).toBeGreaterThan(rss / 4);
    expect(running.stats.memoryUsage).toBeLessThan(rss * 4);
    expect(running.stats.memoryLimit).toBeGreaterThanOrEqual(running.stats.memoryUsage);
    expect(running.last_score).toEqual(expect.any(Number));
    const later = await until("more windows are scored", service, (s) => s.stats.windowsScored > running.stats.windowsScored);
    expect(later.stats.uptime).toBeGreaterThanOrEqual(0);
    await until("service:start is delivered", async () => hooksOf("service:start"), (hooks) => hooks.length === 1);
    await until("the install is in the shipped logs", () => logMessages(), (messages) => messages.some((m) => m.includes(`installed ${firstDeployment.id}`)));
    expect(hooksOf("service:start")[0]!.data).toMatchObject({ service_id: serviceId, status: "running", model_id: firstModel, deployment_id: firstDeployment.id });
  }, 180_000);

  it("restarts on command: a new process, the restart count up and service:start delivered", async () => {
    const before = await service();
    const pidBefore = statePid("service.pid");
    const { id } = await issue("restart");
    const done = await finished(id);
    expect(done).toMatchObject({ state: "succeeded", result: expect.stringMatching(/^restarted \(pid \d+\)$/) });
    expect(done.delivered_at).toEqual(expect.any(String));
    const after = await until("the restart is reported", service, (s) => s.status === "running" && s.restart_count === before.restart_count + 1);
    expect(statePid("service.pid")).not.toBe(pidBefore);
    expect(after.stats.restartCount).toBe(before.restart_count + 1);
    await until("a second service:start", async () => hooksOf("service:start"), (hooks) => hooks.length === 2);
    expect(hooksOf("service:start")[1]!.data.restart_count).toBe(before.restart_count + 1);
  }, 90_000);

  it("stops on command and stays stopped until started again", async () => {
    const pid = statePid("service.pid");
    const { id } = await issue("stop");
    expect(await finished(id)).toMatchObject({ state: "succeeded", result: "stopped" });
    const stopped = await until("the stop is reported", service, (s) => s.status === "stopped");
    expect(stopped.stats).toMatchObject({ cpu: 0, memoryUsage: 0, uptime: 0 });
    expect(() => process.kill(pid, 0)).toThrow();
    await until("service:stop is delivered", async () => hooksOf("service:stop"), (hooks) => hooks.length === 1);
    // Still stopped a few heartbeats later: the agent does not bring it back by itself.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await service()).status).toBe("stopped");

    const start = await issue("start");
    expect(await finished(start.id)).toMatchObject({ state: "succeeded", result: expect.stringMatching(/^started \(pid \d+\)$/) });
    await until("running again", service, (s) => s.status === "running");
  }, 90_000);

  it("reports a crash as failed with service:error and restarts it with growing backoff", async () => {
    const before = await service();
    const first = await runningPid();
    process.kill(first, "SIGKILL");
    await until("service:error is delivered", async () => hooksOf("service:error"), (hooks) => hooks.length === 1, 20_000);
    expect(hooksOf("service:error")[0]!.data).toMatchObject({ service_id: serviceId, status: "failed", exit_code: 137, error: "flint-model exited with code 137" });
    const recovered = await until("restarted after the crash", service, (s) => s.status === "running" && s.restart_count === before.restart_count + 1);
    expect(recovered.health).toBe("healthy");

    // A second crash soon after waits twice as long before the restart.
    process.kill(await runningPid(first), "SIGKILL");
    await until("restarted after the second crash", service, (s) => s.status === "running" && s.restart_count === before.restart_count + 2);
    const logs = await until("the agent's backoff is in the shipped logs", () => logMessages(), (messages) => messages.some((m) => m.includes("restarting in 2s")));
    expect(logs.some((m) => m.includes("flint-model exited with code 137; restarting in 1s"))).toBe(true);
    expect(hooksOf("service:error")).toHaveLength(2);
  }, 90_000);

  it("updates to the newest model trained on the same sensors", async () => {
    const newer = await storeModel(admin.tenantId, await tinyModel("gru_predictor"), "gru_predictor");
    const { id } = await issue("update");
    const command = (await commands()).find((c) => c.id === id);
    expect(command).toMatchObject({ model_id: newer, deployment_id: expect.stringMatching(/^dep_/) });
    updateDeployment = command.deployment_id;
    const done = await finished(id, 150_000);
    expect(done.state, JSON.stringify(done)).toBe("succeeded");
    expect((await waitForStatus(admin, command.deployment_id, ["deployed", "failed"])).status).toBe("deployed");
    const updated = await until("the newer model runs", service, (s) => s.status === "running" && s.model_id === newer && s.stats.windowsScored > 0);
    expect(updated).toMatchObject({ deployment_id: command.deployment_id, restart_count: 0 });
    expect(updated.binary_sha256).not.toBe(firstDeployment.binary_sha256);
    // The previous release stays on disk for a rollback; nothing older does.
    expect(readFileSync(path.join(stateDir, "release"), "utf8").trim()).toBe(command.deployment_id);
  }, 180_000);

  it("ships the service's output and its own log, redacted, readable newest first", async () => {
    const answer = await until(
      "the shipped logs",
      async () => (await call("GET", `/services/${serviceId}/logs?lines=5000`, { token: admin.token })).body,
      (body) => (body.logs as any[]).some((line) => line.message.includes(`installed ${updateDeployment}`)),
    );
    const messages = (answer.logs as any[]).map((line) => line.message);
    expect(messages.some((m) => /^-?[0-9.]+(e[+-]?[0-9]+)?,[01],/.test(m))).toBe(true); // score,flag,top_sensor lines
    expect(messages.some((m) => m.includes("password=[redacted]"))).toBe(true);
    expect(JSON.stringify(answer)).not.toContain("hunter2");
    const times = (answer.logs as any[]).map((line) => line.timestamp);
    expect([...times].sort().reverse()).toEqual(times);
    const since = times[Math.floor(times.length / 2)];
    const recent = (await call("GET", `/services/${serviceId}/logs?since=${encodeURIComponent(since)}&lines=5000`, { token: admin.token })).body.logs as any[];
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.every((line) => line.timestamp >= since)).toBe(true);
  }, 60_000);

  it("keeps supervising while the platform is unreachable, and catches up when it answers again", async () => {
    const before = await service();
    uplinkDown = true;
    for (const socket of uplinkSockets) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    try {
      const crashed = await runningPid();
      process.kill(crashed, "SIGKILL");
      await runningPid(crashed); // restarted with no platform to tell
      await until("worker.offline during the outage", async () => hooksOf("worker.offline"), (hooks) => hooks.length === 1, 30_000);
    } finally {
      uplinkDown = false;
    }
    const back = await until("caught up", service, (s) => s.worker.status === "online" && s.status === "running" && s.restart_count === before.restart_count + 1, 60_000);
    expect(back.health).toBe("healthy");
    // What happened offline was buffered and shipped: the crash, the restart and the failed heartbeats.
    const messages = await until("the outage's logs", () => logMessages(), (m) => m.some((line) => /heartbeat answered 000/.test(line)));
    expect(messages.some((line) => line.includes("flint-model exited with code 137; restarting in"))).toBe(true);
  }, 120_000);

  it("goes offline once when the controller falls silent, and its commands expire", async () => {
    // The controller loses power: the agent, the service and the source stop at once.
    process.kill(-agent!.pid!, "SIGKILL");
    const lost = await issue("restart");
    await until("worker.offline is delivered", async () => hooksOf("worker.offline"), (hooks) => hooks.length === 2, 30_000);
    const expired = await finished(lost.id);
    expect(expired).toMatchObject({ state: "expired", reason: expect.stringContaining("offline") });
    const late = await call("POST", `/services/${serviceId}/start`, { token: admin.token });
    expect(late.status).toBe(202);
    expect(late.body).toMatchObject({ state: "expired", reason: expect.stringContaining(`${NAME} is offline`) });
    const silent = await service();
    expect(silent).toMatchObject({ health: "unknown", worker: { status: "offline" } });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(hooksOf("worker.offline")).toHaveLength(2); // one per silence: the outage and this one
  }, 60_000);
});
