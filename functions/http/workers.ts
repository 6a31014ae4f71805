/**
 * The fleet (seed 001 "Workers"): enrolment tokens and approval (admins),
 * self-enrolment of controllers, their heartbeats with health (device
 * credential), the fleet overview and a worker's pending tasks.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { handle } from "hono/aws-lambda";
import { HTTPException } from "hono/http-exception";
import { DomainError } from "../../core/error";
import { Deployment } from "../../core/deployment";
import { agentFiles } from "../../core/deployment/package";
import { Fleet } from "../../core/fleet";
import { createApp, rateLimit } from "./common";
import { bearer, body, errors, idParam, json, openapi } from "./route";

export const app = createApp({ schemes: { device: Deployment.Target.authenticateDevice } });

app.openAPIRegistry.registerComponent("securitySchemes", "device", {
  type: "apiKey",
  in: "header",
  name: "Authorization",
  description: "`Device <credential>`: the credential issued at registration or enrolment (refused until the worker is approved)",
});

const device = [{ device: [] }];
const tags = ["Workers"];
const Worker = openapi(Fleet.WorkerInfo, "Worker");
const Token = openapi(Fleet.TokenInfo, "EnrolmentToken");
const WorkerId = idParam("tgt_01jd3x5k2m8n9p0q1r2s3t4u5v");
const TokenId = idParam("enr_01jd3x5k2m8n9p0q1r2s3t4u5v");
const Tasks = openapi(Fleet.Tasks, "WorkerTasks");

/** Enrolments allowed per IP per minute: a token is a secret, guessing it must not be cheap. */
const REGISTER_LIMIT_PER_MINUTE = 20;
/** Largest log shipment a heartbeat interval sends. */
const LOG_BODY_LIMIT = 256 * 1024;

/**
 * The agent protocol's plain-text answers (`Accept: text/plain`), one
 * `<key> <values...>` line each, for agents without a JSON parser (the
 * reference agent is a POSIX shell script).
 */
const wantsText = (c: Context) => /^text\/plain/i.test(c.req.header("accept") ?? "");
const lines = (rows: (string | false | null | undefined)[]) => `${rows.filter(Boolean).join("\n")}\n`;
const textDoc = { "text/plain": { schema: z.string() } };

function tasksText(worker: Fleet.WorkerInfo, tasks: Fleet.Tasks): string {
  const a = tasks.assignment;
  return lines([
    `worker ${worker.id} ${worker.status} ${worker.approval}`,
    a && `assignment ${a.deployment_id} ${a.sha256} ${a.binary_sha256} ${a.size_bytes} ${a.download_url}`,
    ...tasks.commands.map((command) => `command ${command.id} ${command.command}`),
  ]);
}

// ------------------------------------------------------------ enrolment tokens (admin)

app.openapi(
  createRoute({
    method: "post",
    path: "/admin/workers/enrolment-tokens",
    tags,
    summary: "Create an enrolment token controllers register with (admin); the token is shown once",
    security: bearer,
    request: { body: body(openapi(Fleet.CreateTokenInput, "CreateEnrolmentToken")) },
    responses: { 201: json(Token.extend({ token: z.string() }), "The token, shown only here"), ...errors(400, 401, 403) },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await Fleet.createToken(c.req.valid("json")), 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/admin/workers/enrolment-tokens",
    tags,
    summary: "The tenant's enrolment tokens, newest first, without their secrets (admin)",
    security: bearer,
    responses: { 200: json(z.array(Token), "Tokens"), ...errors(401, 403) },
  }),
  async (c) => c.json(await Fleet.listTokens(), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/admin/workers/enrolment-tokens/{id}",
    tags,
    summary: "Revoke an enrolment token: nobody else enrols with it; enrolled workers stay (admin)",
    security: bearer,
    request: { params: TokenId },
    responses: { 204: { description: "Revoked" }, ...errors(401, 403, 404) },
  }),
  async (c) => {
    await Fleet.revokeToken(c.req.valid("param").id);
    return c.body(null, 204);
  },
);

// ------------------------------------------------------------ workers (admin)

app.openapi(
  createRoute({
    method: "get",
    path: "/admin/workers",
    tags,
    summary: "Every worker of the tenant with its approval, health and liveness (admin)",
    security: bearer,
    request: { query: z.object({ approval: Fleet.Approval.optional() }) },
    responses: { 200: json(z.array(Worker), "Workers"), ...errors(400, 401, 403) },
  }),
  async (c) => c.json(await Fleet.adminList(c.req.valid("query")), 200),
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/admin/workers/{id}/approve",
    tags,
    summary: "Approve (its device credential starts working) or reject a self-enrolled worker (admin)",
    security: bearer,
    request: { params: WorkerId, body: body(openapi(Fleet.ApproveInput, "ApproveWorker")) },
    responses: { 200: json(Worker, "The worker"), ...errors(400, 401, 403, 404) },
  }),
  async (c) => c.json(await Fleet.approve({ id: c.req.valid("param").id, decision: c.req.valid("json") }), 200),
);

// ------------------------------------------------------------ the fleet (users)

app.openapi(
  createRoute({
    method: "get",
    path: "/workers/overview",
    tags,
    summary: "Fleet counts (online, offline, pending approval), average health of the online workers, and per group",
    security: bearer,
    responses: { 200: json(openapi(Fleet.Overview, "FleetOverview"), "Overview"), ...errors(401) },
  }),
  async (c) => c.json(await Fleet.overview(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/workers/{id}",
    tags,
    summary: "One worker with its health and liveness",
    security: bearer,
    request: { params: WorkerId },
    responses: { 200: json(Worker, "The worker"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Fleet.get(c.req.valid("param").id), 200),
);

// ------------------------------------------------------------ the controller's side

app.openapi(
  createRoute({
    method: "get",
    path: "/workers/agent/{file}",
    tags,
    summary: "The reference edge agent (a POSIX shell script) and its systemd unit, to install on a controller",
    description: "Public: they hold no secret. Every deployment package carries the same two files.",
    request: { params: z.object({ file: z.enum(["flint-agent", "flint-agent.service"]).openapi({ example: "flint-agent" }) }) },
    responses: { 200: { description: "The file", content: textDoc }, ...errors(400) },
  }),
  async (c) => {
    const name = c.req.valid("param").file;
    const file = (await agentFiles()).find((candidate) => candidate.path === name)!;
    c.header("Content-Disposition", `attachment; filename="${name}"`);
    c.header("Cache-Control", "public, max-age=300");
    return c.text(new TextDecoder().decode(file.bytes), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/workers/register",
    tags,
    summary: "A controller enrols itself with an enrolment token: a pending worker and its device credential (shown once)",
    description:
      "The credential is refused (403 `worker.not_approved`) until an admin approves the worker with `PATCH /admin/workers/{id}/approve`; " +
      `a rejected worker's is refused with \`worker.rejected\`. At most ${REGISTER_LIMIT_PER_MINUTE} enrolments per minute per IP.`,
    request: { body: body(openapi(Fleet.RegisterInput, "RegisterWorker")) },
    responses: {
      201: {
        description: "Enrolled, waiting for approval (with `Accept: text/plain`: lines `worker_id <id>`, `credential <credential>`, `approval pending`)",
        content: { "application/json": { schema: z.object({ worker: Worker, credential: z.string() }).openapi("EnrolledWorker") }, ...textDoc },
      },
      ...errors(400, 401, 429),
    },
  }),
  async (c) => {
    await rateLimit(c, "worker-register", REGISTER_LIMIT_PER_MINUTE, "worker.rate_limited");
    c.header("Cache-Control", "no-store");
    const enrolled = await Fleet.register(c.req.valid("json"));
    if (wantsText(c)) return c.text(lines([`worker_id ${enrolled.worker.id}`, `credential ${enrolled.credential}`, `approval ${enrolled.worker.approval}`]), 201);
    return c.json(enrolled, 201);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/workers/{id}/heartbeat",
    tags,
    summary: "The controller reports it is alive, its health and its model service (device credential of this worker)",
    security: device,
    request: { params: WorkerId, body: body(openapi(Fleet.HeartbeatInput, "Heartbeat")) },
    responses: {
      200: {
        description:
          "Recorded, with the worker's pending tasks. With `Accept: text/plain`: `worker <id> <status> <approval>`, then " +
          "`assignment <deployment_id> <package sha256> <binary sha256> <size_bytes> <download_url>` when there is one, and one " +
          "`command <id> <start|stop|restart>` line per command",
        content: { "application/json": { schema: z.object({ worker: Worker, tasks: Tasks }) }, ...textDoc },
      },
      ...errors(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const worker = await Fleet.heartbeat(c.req.valid("json"), c.req.valid("param").id);
    const tasks = await Fleet.tasks(worker.id);
    c.header("Cache-Control", "no-store");
    if (wantsText(c)) return c.text(tasksText(worker, tasks), 200);
    return c.json({ worker, tasks }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/workers/{id}/logs",
    tags,
    summary: "The agent ships the model service's recent output (device credential of this worker)",
    description:
      "A `text/plain` body, one line per log line: `<ISO time> <debug|info|warn|error> <message>` (other lines are info lines " +
      `received now). At most ${LOG_BODY_LIMIT / 1024} KB and the newest 1000 lines; secrets are redacted before they are stored.`,
    security: device,
    request: { params: WorkerId, body: { required: true, content: textDoc } },
    responses: { 202: json(z.object({ accepted: z.number() }), "Stored"), ...errors(400, 401, 403, 404, 413, 415) },
  }),
  async (c) => {
    // Only text/plain is declared, and the OpenAPI layer checks media types only for JSON and form bodies.
    if (!/^text\/plain\s*(;|$)/i.test(c.req.header("content-type") ?? "")) throw new HTTPException(415, { message: "Ship log lines as text/plain" });
    const text = await c.req.text();
    if (Buffer.byteLength(text) > LOG_BODY_LIMIT) {
      throw new DomainError("too_large", "worker.logs_too_large", `Ship at most ${LOG_BODY_LIMIT / 1024} KB of log lines at a time`, { limit_bytes: LOG_BODY_LIMIT });
    }
    return c.json(await Fleet.Logs.ship(c.req.valid("param").id, text), 202);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/workers/{id}/tasks",
    tags,
    summary: "What this worker should do: the deployment to install, if any (device credential of this worker)",
    security: device,
    request: { params: WorkerId },
    responses: { 200: json(Tasks, "Pending tasks"), ...errors(401, 403, 404) },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await Fleet.tasks(c.req.valid("param").id), 200);
  },
);

export const handler = handle(app);
