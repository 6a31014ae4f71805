/**
 * The model service on each worker (seed 004 "services"): `flint-model`,
 * supervised by the edge agent, which reports its state and resource use in
 * every heartbeat. A worker runs one service; its id is the worker's
 * (`svc_<x>` for `tgt_<x>`). What the platform knows of it is the last report
 * (kept with the worker's liveness, written by the heartbeat's one upsert),
 * the deployment it runs and whether the worker is online.
 */
import { z } from "zod";
import { useTenant } from "../actor";
import * as Target from "../deployment/target";
import { DeploymentEntity, type DeploymentItem, type TargetItem } from "../deployment/entities";
import { notFound } from "../error";
import { logger } from "../logger";
import { Realtime } from "../realtime";
import {
  ServiceErrorWebhook,
  ServiceFailed,
  ServiceStarted,
  ServiceStartWebhook,
  ServiceStopped,
  ServiceStopWebhook,
  Topic,
  type PayloadOf,
} from "../realtime/events";
import { Webhook } from "../webhook";
import { WorkerLivenessEntity, type WorkerLivenessItem } from "./entities";

export const STATUSES = ["running", "stopped", "failed", "installing"] as const;
export const Status = z.enum(STATUSES);
export type Status = z.infer<typeof Status>;

/** Running above these shares of its CPU or memory limit makes a service "degraded". */
export const DEGRADED_CPU_PERCENT = 90;
export const DEGRADED_MEMORY_PERCENT = 90;

/** What the agent reports of the service in a heartbeat. */
export const Report = z.object({
  status: Status,
  /** The deployment whose binary runs (null before the first install). */
  deployment_id: z.string().trim().min(1).max(100).nullable().optional(),
  pid: z.number().int().min(1).nullable().optional(),
  started_at: z.iso.datetime({ offset: true }).nullable().optional(),
  restart_count: z.number().int().min(0).max(1_000_000_000).default(0),
  /** Share of one CPU since the previous heartbeat (above 100 on several cores). */
  cpu_percent: z.number().min(0).max(100_000).optional(),
  memory_bytes: z.number().int().min(0).optional(),
  memory_limit_bytes: z.number().int().min(0).optional(),
  port: z.number().int().min(1).max(65_535).nullable().optional(),
  exit_code: z.number().int().nullable().optional(),
  error: z.string().max(1000).nullable().optional(),
  /** Windows scored and alarms raised since the service was installed, and the latest score. */
  windows_scored: z.number().int().min(0).optional(),
  alarms: z.number().int().min(0).optional(),
  last_score: z.number().nullable().optional(),
});
export type Report = z.infer<typeof Report>;
/** A report as stored: with the time the platform received it. */
export type StoredReport = Report & { reported_at: string };

export const idOf = (targetId: string) => `svc_${targetId.replace(/^tgt_/, "")}`;
export const targetIdOf = (serviceId: string) => (serviceId.startsWith("svc_") ? `tgt_${serviceId.slice(4)}` : undefined);

export const Health = z.enum(["healthy", "degraded", "unhealthy", "unknown"]);

export const Stats = z.object({
  /** CPU share (percent of one core). */
  cpu: z.number(),
  /** Memory use as a percentage of the limit. */
  memory: z.number(),
  memoryUsage: z.number(),
  memoryLimit: z.number(),
  /** Seconds since the service (re)started; 0 when not running. */
  uptime: z.number(),
  restartCount: z.number(),
  windowsScored: z.number(),
  alarms: z.number(),
  /** When the agent measured it (null before its first report). */
  timestamp: z.string().nullable(),
});
export type Stats = z.infer<typeof Stats>;

export const Info = z.object({
  id: z.string(),
  name: z.string(),
  status: Status,
  health: Health,
  /** Why the health is what it is. */
  health_reasons: z.array(z.string()),
  /** The running model's version (its ONNX file's hash). */
  version: z.string().nullable(),
  description: z.string(),
  port: z.number().nullable(),
  model_id: z.string().nullable(),
  model_version: z.string().nullable(),
  deployment_id: z.string().nullable(),
  binary_sha256: z.string().nullable(),
  arch: z.string(),
  started_at: z.string().nullable(),
  uptime: z.number(),
  restart_count: z.number(),
  last_exit_code: z.number().nullable(),
  last_error: z.string().nullable(),
  last_score: z.number().nullable(),
  stats: Stats,
  worker: z.object({ id: z.string(), name: z.string(), status: z.enum(["online", "offline"]), last_seen: z.string().nullable() }),
  reported_at: z.string().nullable(),
});
export type Info = z.infer<typeof Info>;

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The agent's last report kept with a worker's liveness, when there is a valid one. */
export function reportOf(liveness: WorkerLivenessItem | undefined): StoredReport | undefined {
  const parsed = Report.extend({ reported_at: z.string() }).safeParse(liveness?.service);
  return parsed.success ? parsed.data : undefined;
}

function statsOf(report: StoredReport | undefined, now: number): Stats {
  const running = report?.status === "running";
  const usage = running ? (report?.memory_bytes ?? 0) : 0;
  const limit = report?.memory_limit_bytes ?? 0;
  const started = report?.started_at ? Date.parse(report.started_at) : undefined;
  return {
    cpu: running ? round(report?.cpu_percent ?? 0) : 0,
    memory: running && limit > 0 ? round((usage / limit) * 100, 2) : 0,
    memoryUsage: usage,
    memoryLimit: limit,
    uptime: running && started !== undefined ? Math.max(0, Math.round((now - started) / 1000)) : 0,
    restartCount: report?.restart_count ?? 0,
    windowsScored: report?.windows_scored ?? 0,
    alarms: report?.alarms ?? 0,
    timestamp: report?.reported_at ?? null,
  };
}

function healthOf(report: StoredReport | undefined, online: boolean, stats: Stats, lastSeen: string | null): { health: z.infer<typeof Health>; reasons: string[] } {
  if (!report) return { health: "unknown", reasons: ["the agent has not reported the service yet"] };
  if (!online) return { health: "unknown", reasons: [`the controller is offline (last heartbeat ${lastSeen ?? "never"})`] };
  switch (report.status) {
    case "failed":
      return { health: "unhealthy", reasons: [report.error ?? `flint-model exited${report.exit_code != null ? ` with code ${report.exit_code}` : ""}`] };
    case "installing":
      return { health: "degraded", reasons: ["installing a new model"] };
    case "stopped":
      return { health: "unknown", reasons: ["the service is stopped"] };
    case "running": {
      const reasons = [
        ...(stats.cpu >= DEGRADED_CPU_PERCENT ? [`CPU at ${stats.cpu} %`] : []),
        ...(stats.memory >= DEGRADED_MEMORY_PERCENT ? [`memory at ${stats.memory} % of its limit`] : []),
      ];
      return reasons.length ? { health: "degraded", reasons } : { health: "healthy", reasons: [] };
    }
  }
}

export function serialize(target: TargetItem, liveness: WorkerLivenessItem | undefined, deployment: DeploymentItem | undefined, now = Date.now()): Info {
  const worker = Target.serialize(target, now);
  const report = reportOf(liveness);
  const stats = statsOf(report, now);
  const { health, reasons } = healthOf(report, worker.status === "online", stats, worker.last_seen);
  const modelVersion = deployment?.modelVersion ?? null;
  return {
    id: idOf(target.targetId),
    name: `flint-model on ${target.name}`,
    status: report?.status ?? "stopped",
    health,
    health_reasons: reasons,
    version: modelVersion,
    description: deployment ? `${deployment.modelId} (${deployment.precision}) scoring sensor rows on ${target.name}` : `no model installed on ${target.name} yet`,
    port: report?.port ?? null,
    model_id: deployment?.modelId ?? null,
    model_version: modelVersion,
    deployment_id: deployment?.deploymentId ?? null,
    binary_sha256: deployment?.binarySha256 ?? null,
    arch: target.arch,
    started_at: report?.status === "running" ? (report.started_at ?? null) : null,
    uptime: stats.uptime,
    restart_count: stats.restartCount,
    last_exit_code: report?.exit_code ?? null,
    last_error: report?.error ?? null,
    last_score: report?.last_score ?? null,
    stats,
    worker: { id: target.targetId, name: target.name, status: worker.status, last_seen: worker.last_seen },
    reported_at: report?.reported_at ?? null,
  };
}

/** The deployment a service runs: the one the agent reports, when it is this worker's; else the worker's current one. */
function deploymentIdOf(target: TargetItem, report: StoredReport | undefined): string | undefined {
  return report?.deployment_id ?? target.currentDeploymentId ?? undefined;
}

async function deploymentsOf(tenantId: string, ids: string[]): Promise<Map<string, DeploymentItem>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const found = await DeploymentEntity.get(unique.map((deploymentId) => ({ tenantId, deploymentId }))).go();
  return new Map(found.data.map((item) => [item.deploymentId, item]));
}

/** The service of each worker, with the deployments they run read in one batch. */
async function build(tenantId: string, workers: { target: TargetItem; liveness: WorkerLivenessItem | undefined }[]): Promise<Info[]> {
  const deploymentIds = workers.map(({ target, liveness }) => deploymentIdOf(target, reportOf(liveness)));
  const deployments = await deploymentsOf(tenantId, deploymentIds.flatMap((id) => id ?? []));
  const now = Date.now();
  return workers.map(({ target, liveness }, i) => {
    const deployment = deploymentIds[i] ? deployments.get(deploymentIds[i]!) : undefined;
    return serialize(target, liveness, deployment?.targetId === target.targetId ? deployment : undefined, now);
  });
}

/** The worker a service id names, of the calling tenant. @throws service.not_found (also another tenant's) */
export async function targetOf(serviceId: string): Promise<TargetItem> {
  const targetId = targetIdOf(serviceId);
  if (!targetId) throw notFound("service", serviceId);
  try {
    const target = await Target.get(targetId);
    if ((target.approval ?? "approved") !== "approved") throw notFound("service", serviceId);
    return target;
  } catch (error) {
    if ((error as { code?: string }).code === "target.not_found") throw notFound("service", serviceId);
    throw error;
  }
}

/** One service of the calling tenant. @throws service.not_found */
export async function get(serviceId: string): Promise<Info> {
  const target = await targetOf(serviceId);
  const liveness = (await WorkerLivenessEntity.get({ tenantId: target.tenantId, targetId: target.targetId }).go()).data ?? undefined;
  return (await build(target.tenantId, [{ target, liveness }]))[0]!;
}

/** Every service of the calling tenant: one per approved worker that has a model installed or has reported one, oldest worker first. */
export async function all(): Promise<Info[]> {
  const tenantId = useTenant();
  const [targets, live] = await Promise.all([Target.list(), WorkerLivenessEntity.query.byWorker({ tenantId }).go({ pages: "all" })]);
  const byTarget = new Map(live.data.map((item) => [item.targetId, item]));
  const serving = targets
    .map((target) => ({ target, liveness: byTarget.get(target.targetId) }))
    .filter(({ target, liveness }) => (target.approval ?? "approved") === "approved" && (reportOf(liveness) || target.currentDeploymentId));
  return build(tenantId, serving);
}

export const ListInput = z.object({
  /** running, stopped (everything not running), failed, installing or all. */
  filter: z.enum(["running", "stopped", "failed", "installing", "all"]).default("all"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});

export const Page = z.object({ items: z.array(Info), total: z.number(), page: z.number(), limit: z.number(), pages: z.number() });

/** GET /services: the calling tenant's services, filtered by status, a page at a time. */
export async function list(input: z.input<typeof ListInput>): Promise<z.infer<typeof Page>> {
  const { filter, limit, page } = ListInput.parse(input);
  const services = (await all()).filter((service) =>
    filter === "all" ? true : filter === "stopped" ? service.status !== "running" : service.status === filter,
  );
  return {
    items: services.slice((page - 1) * limit, page * limit),
    total: services.length,
    page,
    limit,
    pages: Math.max(1, Math.ceil(services.length / limit)),
  };
}

export const SystemStats = z.object({
  services: z.object({ total: z.number(), running: z.number(), stopped: z.number(), failed: z.number(), installing: z.number() }),
  resources: z.object({ avgCpu: z.number().nullable(), avgMemory: z.number().nullable(), totalMemoryUsage: z.number() }),
  health: z.object({
    status: z.enum(["healthy", "degraded", "unhealthy"]),
    warnings: z.number(),
    errors: z.number(),
    issues: z.array(z.object({ service_id: z.string(), worker_id: z.string(), level: z.enum(["warning", "error"]), message: z.string() })),
  }),
});

/** GET /system/stats: counts, the average resource use of the running services, and what needs attention. */
export async function systemStats(): Promise<z.infer<typeof SystemStats>> {
  const services = await all();
  const count = (status: Status) => services.filter((service) => service.status === status).length;
  const running = services.filter((service) => service.status === "running" && service.worker.status === "online");
  const average = (pick: (service: Info) => number) => (running.length ? round(running.reduce((sum, service) => sum + pick(service), 0) / running.length, 2) : null);
  type Issue = z.infer<typeof SystemStats>["health"]["issues"][number];
  const issues = services.flatMap((service): Issue[] => {
    if (service.health === "unhealthy") return [{ service_id: service.id, worker_id: service.worker.id, level: "error", message: service.health_reasons.join("; ") }];
    const offlineWhileServing = service.worker.status === "offline" && service.status === "running";
    if (service.health === "degraded" || offlineWhileServing) {
      return [{ service_id: service.id, worker_id: service.worker.id, level: "warning", message: service.health_reasons.join("; ") }];
    }
    return [];
  });
  const errors = issues.filter((issue) => issue.level === "error").length;
  const warnings = issues.length - errors;
  return {
    services: { total: services.length, running: count("running"), stopped: services.length - count("running"), failed: count("failed"), installing: count("installing") },
    resources: {
      avgCpu: average((service) => service.stats.cpu),
      avgMemory: average((service) => service.stats.memory),
      totalMemoryUsage: running.reduce((sum, service) => sum + service.stats.memoryUsage, 0),
    },
    health: { status: errors ? "unhealthy" : warnings ? "degraded" : "healthy", warnings, errors, issues },
  };
}

// ------------------------------------------------------------ transitions

type Transition =
  | { live: typeof ServiceStarted; hook: typeof ServiceStartWebhook }
  | { live: typeof ServiceStopped; hook: typeof ServiceStopWebhook }
  | { live: typeof ServiceFailed; hook: typeof ServiceErrorWebhook };

/**
 * What changed between two reports: a start (status running with another
 * start time or restart count: first start, restart, recovery), a stop, or a failure (a new
 * failed report). Nothing when the state is the same.
 */
function transitionOf(previous: StoredReport | undefined, next: Report): Transition | undefined {
  if (next.status === "running" && (previous?.status !== "running" || previous.started_at !== next.started_at || previous.restart_count !== next.restart_count)) {
    return { live: ServiceStarted, hook: ServiceStartWebhook };
  }
  if (next.status === "stopped" && previous?.status !== "stopped" && previous !== undefined) {
    return { live: ServiceStopped, hook: ServiceStopWebhook };
  }
  if (next.status === "failed" && (previous?.status !== "failed" || previous.restart_count !== next.restart_count || previous.exit_code !== next.exit_code)) {
    return { live: ServiceFailed, hook: ServiceErrorWebhook };
  }
  return undefined;
}

/** Announces (live channel of the service and tenant, and webhooks) what a heartbeat's report changed, once per change. */
export async function announce(target: TargetItem, previous: WorkerLivenessItem | undefined, next: StoredReport): Promise<void> {
  const change = transitionOf(reportOf(previous), next);
  if (!change) return;
  const serviceId = idOf(target.targetId);
  const deploymentId = deploymentIdOf(target, next) ?? null;
  const deployment = deploymentId ? (await deploymentsOf(target.tenantId, [deploymentId])).get(deploymentId) : undefined;
  const payload: PayloadOf<typeof ServiceStarted> = {
    service_id: serviceId,
    worker_id: target.targetId,
    worker_name: target.name,
    status: next.status,
    deployment_id: deploymentId,
    model_id: deployment?.modelId ?? null,
    restart_count: next.restart_count,
    exit_code: next.exit_code ?? null,
    error: next.error ?? null,
    at: next.status === "running" && next.started_at ? next.started_at : next.reported_at,
  };
  const key = `${serviceId}_${change.hook.type}_${payload.at}_${next.restart_count}`;
  await Promise.all([
    Realtime.publish(change.live, Topic.service(target.tenantId, serviceId), payload),
    Webhook.emit(change.hook, target.tenantId, payload, key),
  ]).catch((error: Error) => logger.warn("service transition not announced", { serviceId, status: next.status, error }));
}
