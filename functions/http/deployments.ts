/**
 * Deployments to edge controllers: targets (with their device credentials),
 * deployments and their packages, and the device protocol under /devices
 * (authenticated with `Authorization: Device <credential>`).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Deployment } from "../../core/deployment";
import { Fleet } from "../../core/fleet";
import { createApp } from "./common";
import { bearer, body, errors, ErrorSchemaDoc, idParam, json, openapi } from "./route";

const { Target } = Deployment;

export const app = createApp({ schemes: { device: Target.authenticateDevice } });

app.openAPIRegistry.registerComponent("securitySchemes", "device", {
  type: "apiKey",
  in: "header",
  name: "Authorization",
  description: "`Device <credential>`, the credential issued when the target was registered",
});

const deviceSecurity = [{ device: [] }];

const TargetInfo = openapi(Target.Info, "EdgeTarget");
const DeploymentInfo = openapi(Deployment.Info, "Deployment");
const DeploymentId = idParam("dep_01jd3x5k2m8n9p0q1r2s3t4u5v");
const TargetId = idParam("tgt_01jd3x5k2m8n9p0q1r2s3t4u5v");

// ------------------------------------------------------------------ targets

app.openapi(
  createRoute({
    method: "get",
    path: "/deployments/targets",
    tags: ["Deployments"],
    summary: "List registered edge controllers (online when a heartbeat came in the last 2 minutes)",
    security: bearer,
    responses: { 200: json(z.array(TargetInfo), "Targets"), ...errors(401) },
  }),
  async (c) => c.json((await Target.list()).map((target) => Target.serialize(target)), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/deployments/targets",
    tags: ["Deployments"],
    summary: "Register an edge controller; its device credential is shown only in this response (operator)",
    security: bearer,
    request: { body: body(openapi(Target.RegisterInput, "RegisterTarget")) },
    responses: {
      201: json(TargetInfo.extend({ credential: z.string() }).openapi("RegisteredTarget"), "Registered, with its device credential"),
      ...errors(400, 401, 403),
    },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await Target.register(c.req.valid("json")), 201);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/deployments/targets/{id}/credential",
    tags: ["Deployments"],
    summary: "Replace a target's device credential; the old one stops working (operator)",
    security: bearer,
    request: { params: TargetId },
    responses: {
      200: json(z.object({ id: z.string(), credential: z.string() }).openapi("TargetCredential"), "The new credential, shown once"),
      ...errors(401, 403, 404),
    },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await Target.rotateCredential(c.req.valid("param").id), 200);
  },
);

// -------------------------------------------------------------- deployments

app.openapi(
  createRoute({
    method: "get",
    path: "/deployments",
    tags: ["Deployments"],
    summary: "List deployments, newest first",
    security: bearer,
    responses: { 200: json(z.array(DeploymentInfo), "Deployments"), ...errors(401) },
  }),
  async (c) => c.json(await Deployment.list(), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/deployments",
    tags: ["Deployments"],
    summary: "Deploy a model to an edge target: compiles, verifies and packages a native binary (operator)",
    security: bearer,
    request: { body: body(openapi(Deployment.CreateInput, "CreateDeployment")) },
    responses: {
      201: json(DeploymentInfo, "Deployment created, status compiling"),
      ...errors(400, 401, 403, 404),
    },
  }),
  async (c) => c.json(await Deployment.create(c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/deployments/{id}",
    tags: ["Deployments"],
    summary: "Deployment status, binary size, checksums and verification against ONNX Runtime",
    security: bearer,
    request: { params: DeploymentId },
    responses: { 200: json(DeploymentInfo, "Deployment"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Deployment.detail(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/deployments/{id}/binary",
    tags: ["Deployments"],
    summary: "Download the package (tar.gz: static binary + manifest.json)",
    security: bearer,
    request: { params: DeploymentId },
    responses: {
      200: { description: "The package", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
      ...errors(401, 404, 409),
    },
  }),
  async (c) => {
    const { bytes, fileName } = await Deployment.binary(c.req.valid("param").id);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "application/octet-stream",
      "Content-Disposition": `attachment; filename="${fileName}"`,
      "Content-Length": String(bytes.length),
    });
  },
);

// ---------------------------------------------------------- device protocol

app.openapi(
  createRoute({
    method: "post",
    path: "/devices/heartbeat",
    tags: ["Devices"],
    summary: "A controller reports it is alive (and which model it runs)",
    description:
      "`current_model` must be a model this target had a confirmed install of (its current one, or an earlier one it rolled back to), " +
      "optionally with its `version`; `null` means no model is installed; leaving it out only records the heartbeat. " +
      "Anything else answers 400 `device.unknown_model` (details list the known models), and a version other than the installed one answers 400 " +
      "`device.version_mismatch`; the recorded model is then unchanged.",
    security: deviceSecurity,
    request: { body: body(openapi(Fleet.HeartbeatInput, "Heartbeat")) },
    responses: {
      200: json(TargetInfo, "The target as the platform sees it"),
      400: { ...ErrorSchemaDoc, description: "Not a model (or version) installed on this target, or a malformed body" },
      ...errors(401),
    },
  }),
  // The worker's heartbeat too (health, online/offline); answered in the target's shape.
  async (c) => c.json(Target.Info.parse(await Fleet.heartbeat(c.req.valid("json"))), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/devices/assignment",
    tags: ["Devices"],
    summary: "The deployment this controller should install, with a download link; 204 when there is none",
    security: deviceSecurity,
    responses: {
      200: json(openapi(Deployment.Assignment, "Assignment"), "A package to install"),
      204: { description: "Nothing to install" },
      ...errors(401),
    },
  }),
  async (c) => {
    const assignment = await Deployment.assignment();
    if (!assignment) return c.body(null, 204);
    c.header("Cache-Control", "no-store");
    return c.json(assignment, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/devices/deployments/{id}/confirm",
    tags: ["Devices"],
    summary: "Report the install outcome: installed → deployed; failed → failed, previous model kept",
    security: deviceSecurity,
    request: { params: DeploymentId, body: body(openapi(Deployment.ConfirmInput, "ConfirmInstall")) },
    responses: {
      200: json(z.object({ deployment: DeploymentInfo, target: TargetInfo }).openapi("Confirmation"), "Recorded"),
      ...errors(400, 401, 404, 409),
    },
  }),
  async (c) => c.json(await Deployment.confirm(c.req.valid("param").id, c.req.valid("json")), 200),
);

export const handler = handle(app);
