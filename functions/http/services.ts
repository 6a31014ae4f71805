/**
 * The model services on the fleet's workers (seed 004): list and details,
 * start/stop/restart/update as commands the worker picks up with its next
 * heartbeat (202 with the command; its outcome arrives on the service's
 * WebSocket topic and at GET /services/:id/commands), logs the agent
 * shipped, resource stats, and the fleet-wide /system/stats.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Fleet } from "../../core/fleet";
import { createApp } from "./common";
import { bearer, body, errors, idParam, json, openapi } from "./route";

export const app = createApp();

const { Service, Commands, Logs } = Fleet;
const tags = ["Services"];
const ServiceInfo = openapi(Service.Info, "Service");
const Command = openapi(Commands.Info, "ServiceCommand");
const ServiceId = idParam("svc_01jd3x5k2m8n9p0q1r2s3t4u5v");

app.openapi(
  createRoute({
    method: "get",
    path: "/services",
    tags,
    summary: "The model services of the tenant's workers, by status, a page at a time",
    security: bearer,
    request: { query: Service.ListInput },
    responses: { 200: json(openapi(Service.Page, "ServicePage"), "Services"), ...errors(400, 401) },
  }),
  async (c) => c.json(await Service.list(c.req.valid("query")), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/system/stats",
    tags,
    summary: "Services running and stopped, their average resource use, and what needs attention",
    security: bearer,
    responses: { 200: json(openapi(Service.SystemStats, "SystemStats"), "Fleet-wide service stats"), ...errors(401) },
  }),
  async (c) => c.json(await Service.systemStats(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/services/{id}",
    tags,
    summary: "One service: model, version, binary checksum, status, health (with reasons), uptime, restarts, its worker",
    security: bearer,
    request: { params: ServiceId },
    responses: { 200: json(ServiceInfo, "The service"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Service.get(c.req.valid("param").id), 200),
);

for (const type of Commands.TYPES) {
  const what = {
    start: "Start the service",
    stop: "Stop the service (the agent keeps it stopped until told to start)",
    restart: "Restart the service",
    update: "Install a newer model: the one named, or the newest ready model trained on the same sensors (a deployment builds it)",
  }[type];
  app.openapi(
    createRoute({
      method: "post",
      path: `/services/{id}/${type}`,
      tags,
      summary: `${what} (operator); the worker carries it out with its next heartbeat`,
      description:
        "Answers 202 with the command (state `queued`, or `expired` at once when the worker is offline). Its outcome " +
        "(`delivered`, then `succeeded` or `failed`, or `expired`) is published as `command.updated` on the `service:<id>` topic.",
      security: bearer,
      request: { params: ServiceId, ...(type === "update" ? { body: body(openapi(Commands.IssueInput, "UpdateService"), { required: false }) } : {}) },
      responses: { 202: json(Command, "The command"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const input = type === "update" ? ((c.req.valid as (target: "json") => Fleet.Commands.IssueInput)("json") ?? {}) : {};
      return c.json(await Commands.issue(c.req.valid("param").id, type, input), 202);
    },
  );
}

app.openapi(
  createRoute({
    method: "get",
    path: "/services/{id}/commands",
    tags,
    summary: "The service's latest commands and their outcomes, newest first",
    security: bearer,
    request: { params: ServiceId, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }) },
    responses: { 200: json(z.array(Command), "Commands"), ...errors(400, 401, 404) },
  }),
  async (c) => c.json(await Commands.list(c.req.valid("param").id, c.req.valid("query").limit), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/services/{id}/logs",
    tags,
    summary: "The service's output as the agent shipped it (redacted), newest first",
    security: bearer,
    request: { params: ServiceId, query: Logs.ReadInput },
    responses: { 200: json(z.object({ logs: z.array(Logs.Entry) }).openapi("ServiceLogs"), "Log lines"), ...errors(400, 401, 404) },
  }),
  async (c) => c.json(await Logs.read(c.req.valid("param").id, c.req.valid("query")), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/services/{id}/stats",
    tags,
    summary: "The service's resource use as last measured by the agent",
    security: bearer,
    request: { params: ServiceId },
    responses: { 200: json(openapi(Service.Stats, "ServiceStats"), "Stats"), ...errors(401, 404) },
  }),
  async (c) => c.json((await Service.get(c.req.valid("param").id)).stats, 200),
);

export const handler = handle(app);
