/**
 * Health, public keys, the OpenAPI document and system metrics. (The docs
 * page that browses the document is part of the web build: web/docs/.)
 */
import os from "node:os";
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { useUser } from "../../core/actor";
import { Auth } from "../../core/auth";
import { Config } from "../../core/config";
import { Health } from "../../core/health";
import { endpointGroups } from "./apps";
import { createApp } from "./common";
import { bearer, json } from "./route";

const startedAt = Date.now();

export const app = createApp({ basePath: "/" });

const HealthReport = z
  .object({
    status: z.enum(["ok", "starting", "degraded"]),
    version: z.string(),
    database: z.enum(["connected", "unreachable"]),
    uptime_seconds: z.number(),
  })
  .openapi("Health");

app.openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["System"],
    summary: "Readiness: 200 only when the platform is usable",
    responses: {
      200: json(HealthReport, "Ready"),
      503: json(HealthReport, "Starting, or the database is unreachable"),
    },
  }),
  async (c) => {
    const report = await Health.check();
    c.header("Cache-Control", "no-store");
    return report.status === "ok" ? c.json(report, 200) : c.json(report, 503);
  },
);

app.get("/.well-known/jwks.json", async (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.json(await Auth.jwks());
});

app.get("/api/v1/openapi.json", async (c) => {
  const document = await buildOpenApiDocument();
  return c.json(document);
});

/** One OpenAPI 3.1 document generated from every group's zod route schemas. */
export async function buildOpenApiDocument() {
  const info = { title: "Flint API", version: Config.version(), description: "Sensor data to anomaly models on edge controllers" };
  const document = app.getOpenAPI31Document({ openapi: "3.1.0", info });
  for (const load of Object.values(endpointGroups)) {
    const { app: group } = await load();
    const part = group.getOpenAPI31Document({ openapi: "3.1.0", info });
    Object.assign((document.paths ??= {}), part.paths ?? {});
    const components = (document.components ??= {});
    for (const [kind, entries] of Object.entries(part.components ?? {})) {
      const target = ((components as Record<string, Record<string, unknown>>)[kind] ??= {});
      Object.assign(target, entries);
    }
  }
  document.components = {
    ...document.components,
    securitySchemes: {
      ...document.components?.securitySchemes,
      bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
    },
  };
  return document;
}

const Metrics = z.object({
  cpu_usage_percent: z.number(),
  memory_used_mb: z.number(),
  memory_total_mb: z.number(),
  load_average: z.array(z.number()),
  uptime_seconds: z.number(),
});

app.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/system/metrics",
    tags: ["System"],
    summary: "Resource metrics of the serving process",
    security: bearer,
    responses: { 200: json(Metrics, "Metrics") },
  }),
  async (c) => {
    useUser();
    const total = os.totalmem();
    const cores = os.cpus().length || 1;
    return c.json({
      cpu_usage_percent: Math.min(100, Math.round((os.loadavg()[0]! / cores) * 1000) / 10),
      memory_used_mb: Math.round((total - os.freemem()) / 1024 / 1024),
      memory_total_mb: Math.round(total / 1024 / 1024),
      load_average: os.loadavg(),
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    }, 200);
  },
);

export const handler = handle(app);
