/**
 * The fleet (seed 001 "Workers"): enrolment tokens and approval (admins),
 * self-enrolment of controllers, their heartbeats with health (device
 * credential), the fleet overview and a worker's pending tasks.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Deployment } from "../../core/deployment";
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
    method: "post",
    path: "/workers/register",
    tags,
    summary: "A controller enrols itself with an enrolment token: a pending worker and its device credential (shown once)",
    description:
      "The credential is refused (403 `worker.not_approved`) until an admin approves the worker with `PATCH /admin/workers/{id}/approve`; " +
      `a rejected worker's is refused with \`worker.rejected\`. At most ${REGISTER_LIMIT_PER_MINUTE} enrolments per minute per IP.`,
    request: { body: body(openapi(Fleet.RegisterInput, "RegisterWorker")) },
    responses: {
      201: json(z.object({ worker: Worker, credential: z.string() }).openapi("EnrolledWorker"), "Enrolled, waiting for approval"),
      ...errors(400, 401, 429),
    },
  }),
  async (c) => {
    await rateLimit(c, "worker-register", REGISTER_LIMIT_PER_MINUTE, "worker.rate_limited");
    c.header("Cache-Control", "no-store");
    return c.json(await Fleet.register(c.req.valid("json")), 201);
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
    responses: { 200: json(z.object({ worker: Worker, tasks: Tasks }), "Recorded, with the worker's pending tasks"), ...errors(400, 401, 403, 404) },
  }),
  async (c) => {
    const worker = await Fleet.heartbeat(c.req.valid("json"), c.req.valid("param").id);
    return c.json({ worker, tasks: await Fleet.tasks(worker.id) }, 200);
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
