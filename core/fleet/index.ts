/**
 * The fleet: every edge target is a worker (seed 001 "Workers"). Controllers
 * may enrol themselves with an admin's enrolment token and wait for approval;
 * heartbeats carry their health; a worker goes online with its first
 * heartbeat and offline when the sweep finds it silent for the offline
 * window, each transition announced once (live channel and webhooks).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { Config } from "../config";
import { Deployment, Target } from "../deployment";
import { TargetEntity, type TargetItem } from "../deployment/entities";
import { invalid, isConditionalFailure, notFound, unauthorized } from "../error";
import { fn } from "../fn";
import { createId, createSecret } from "../id";
import { logger } from "../logger";
import { Realtime } from "../realtime";
import { Topic, WorkerOffline, WorkerOfflineWebhook, WorkerOnline, WorkerOnlineWebhook } from "../realtime/events";
import { Webhook } from "../webhook";
import * as Commands from "./commands";
import { EnrolmentTokenEntity, WorkerLivenessEntity, type EnrolmentTokenItem, type WorkerLivenessItem } from "./entities";
import * as Service from "./service";

export * as Fleet from "./index";
export * as Commands from "./commands";
export * as Logs from "./logs";
export * as Service from "./service";

const TOKEN_PREFIX = "fen";
const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
const text = (max: number) => z.string().trim().min(1).max(max);
const percent = z.number().min(0).max(100);

// ------------------------------------------------------------ enrolment tokens

export const CreateTokenInput = z.object({
  name: text(100).optional(),
  /** Hours until the token stops enrolling (1 hour to 30 days). */
  expires_in_hours: z.number().int().min(1).max(720).default(24),
  /** How many controllers may enrol with it; null: any number until it expires. */
  max_uses: z.number().int().min(1).max(10_000).nullable().default(1),
  /** The group enrolled workers join (an admin can change it when approving). */
  group: text(64).optional(),
});

export const TokenInfo = z.object({
  id: z.string(),
  name: z.string().nullable(),
  group: z.string().nullable(),
  expires_at: z.string(),
  max_uses: z.number().nullable(),
  uses: z.number(),
  revoked: z.boolean(),
  usable: z.boolean(),
  created_at: z.string(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;

function serializeToken(token: EnrolmentTokenItem, now = Date.now()): TokenInfo {
  const exhausted = token.maxUses !== undefined && token.uses >= token.maxUses;
  return {
    id: token.tokenId,
    name: token.name ?? null,
    group: token.group ?? null,
    expires_at: token.expiresAt,
    max_uses: token.maxUses ?? null,
    uses: token.uses,
    revoked: token.revoked,
    usable: !token.revoked && !exhausted && Date.parse(token.expiresAt) > now,
    created_at: token.createdAt,
  };
}

/**
 * A new enrolment token of the calling tenant; the token itself is returned
 * only here (stored as a hash).
 * @throws auth.forbidden below admin
 */
export const createToken = fn(CreateTokenInput, async (input): Promise<TokenInfo & { token: string }> => {
  assertRole("admin");
  const actor = useActor();
  const tokenId = createId("enr");
  const secret = createSecret(24);
  const created = await EnrolmentTokenEntity.create({
    tenantId: useTenant(),
    tokenId,
    name: input.name,
    group: input.group,
    secretHash: sha256(secret),
    expiresAt: new Date(Date.now() + input.expires_in_hours * 3600_000).toISOString(),
    maxUses: input.max_uses ?? undefined,
    createdBy: actor.type === "user" ? actor.username : undefined,
  }).go();
  return { ...serializeToken(created.data as EnrolmentTokenItem), token: `${TOKEN_PREFIX}.${tokenId}.${secret}` };
});

/** The calling tenant's enrolment tokens, newest first. @throws auth.forbidden below admin */
export async function listTokens(): Promise<TokenInfo[]> {
  assertRole("admin");
  const result = await EnrolmentTokenEntity.query.byTenant({ tenantId: useTenant() }).go({ pages: "all", order: "desc" });
  return result.data.map((token) => serializeToken(token));
}

/** Stops a token from enrolling anyone else (workers it enrolled stay). @throws enrolment_token.not_found */
export async function revokeToken(tokenId: string): Promise<void> {
  assertRole("admin");
  try {
    await EnrolmentTokenEntity.patch({ tenantId: useTenant(), tokenId }).set({ revoked: true }).go();
  } catch (error) {
    if (isConditionalFailure(error)) throw notFound("enrolment_token", tokenId);
    throw error;
  }
}

/**
 * Takes one use of a presented token, atomically: a token at its limit,
 * expired or revoked enrols no one. Any bad token gives the same 401.
 */
async function consumeToken(presented: string): Promise<EnrolmentTokenItem> {
  const denied = () => unauthorized("worker.invalid_enrolment_token", "Invalid, expired or used-up enrolment token");
  const [prefix, tokenId, secret, ...rest] = presented.split(".");
  if (prefix !== TOKEN_PREFIX || !tokenId || !secret || rest.length > 0 || secret.length > 128) throw denied();
  const found = (await EnrolmentTokenEntity.query.byToken({ tokenId }).go({ limit: 1 })).data[0];
  if (!found) throw denied();
  const expected = Buffer.from(found.secretHash, "hex");
  const actual = Buffer.from(sha256(secret), "hex");
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw denied();
  const now = new Date().toISOString();
  try {
    const updated = await EnrolmentTokenEntity.patch({ tenantId: found.tenantId, tokenId })
      .add({ uses: 1 })
      .where((attr, op) =>
        [op.eq(attr.revoked, false), op.gt(attr.expiresAt, now), found.maxUses === undefined ? "" : op.lt(attr.uses, found.maxUses)].filter(Boolean).join(" AND "),
      )
      .go({ response: "all_new" });
    return updated.data as EnrolmentTokenItem;
  } catch (error) {
    if (isConditionalFailure(error)) throw denied();
    throw error;
  }
}

// ------------------------------------------------------------ workers

export const RegisterInput = z.object({
  enrolment_token: z.string().min(1).max(300),
  name: text(200),
  hostname: text(253).optional(),
  ip_address: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** The controller's CPU architecture (`uname -m`); read from os_info when left out. */
  arch: Target.ArchInput.optional(),
  max_agents: z.number().int().min(1).max(64).default(1),
  cpu_cores: z.number().int().min(1).max(1024).optional(),
  memory_total_mb: z.number().int().min(1).max(16 * 1024 * 1024).optional(),
  os_info: text(300).optional(),
});

export const Approval = z.enum(["pending", "approved", "rejected"]);

export const WorkerInfo = Target.Info.extend({
  approval: Approval,
  group: z.string().nullable(),
  hostname: z.string().nullable(),
  os_info: z.string().nullable(),
  cpu_cores: z.number().nullable(),
  memory_total_mb: z.number().nullable(),
  max_agents: z.number(),
  cpu_usage_percent: z.number().nullable(),
  memory_usage_percent: z.number().nullable(),
  disk_usage_percent: z.number().nullable(),
  /** The model service as the agent last reported it (GET /services/:id has the full picture). */
  service: z.object({ id: z.string(), status: Service.Status, reported_at: z.string() }).nullable(),
});
export type WorkerInfo = z.infer<typeof WorkerInfo>;

export function serializeWorker(target: TargetItem, liveness?: WorkerLivenessItem): WorkerInfo {
  return {
    ...Target.serialize(target),
    approval: target.approval ?? "approved",
    group: target.group ?? null,
    hostname: target.hostname ?? null,
    os_info: target.osInfo ?? null,
    cpu_cores: target.cpuCores ?? null,
    memory_total_mb: target.memoryTotalMb ?? null,
    max_agents: target.maxAgents ?? 1,
    cpu_usage_percent: liveness?.cpuUsagePercent ?? null,
    memory_usage_percent: liveness?.memoryUsagePercent ?? null,
    disk_usage_percent: liveness?.diskUsagePercent ?? null,
    service: serviceSummary(target, liveness),
  };
}

function serviceSummary(target: TargetItem, liveness: WorkerLivenessItem | undefined): WorkerInfo["service"] {
  const report = Service.reportOf(liveness);
  return report ? { id: Service.idOf(target.targetId), status: report.status, reported_at: report.reported_at } : null;
}

/** The architecture named in an os_info string such as "Linux 6.1.0 armv7l". */
function archFromOsInfo(osInfo: string | undefined): string | undefined {
  return osInfo?.split(/[\s/,;()]+/).find((word) => Target.normaliseArch(word) !== undefined);
}

/**
 * A controller enrols itself with an enrolment token: a pending worker of the
 * token's tenant, and its device credential, returned only here. The
 * credential is refused (403 worker.not_approved) until an admin approves.
 * @throws worker.invalid_enrolment_token (401), request.invalid (400; worker.arch_required when no arch can be told)
 */
export const register = fn(RegisterInput, async (input): Promise<{ worker: WorkerInfo; credential: string }> => {
  const arch = Target.normaliseArch(input.arch ?? archFromOsInfo(input.os_info) ?? "");
  if (!arch) {
    throw invalid("worker.arch_required", "Give arch (armv7, aarch64 or x86_64; `uname -m` spellings work): os_info names none", {
      accepted: Target.ARCH_NAMES,
    });
  }
  const token = await consumeToken(input.enrolment_token);
  const issued = Target.issueCredential();
  const created = await TargetEntity.create({
    tenantId: token.tenantId,
    targetId: createId("tgt"),
    name: input.name,
    ip: input.ip_address,
    arch,
    hostname: input.hostname,
    osInfo: input.os_info,
    cpuCores: input.cpu_cores,
    memoryTotalMb: input.memory_total_mb,
    maxAgents: input.max_agents,
    group: token.group,
    approval: "pending",
    enrolledWith: token.tokenId,
    credentialId: issued.credentialId,
    credentialHash: Target.hash(issued.secret),
  }).go();
  return { worker: serializeWorker(created.data as TargetItem), credential: issued.credential };
});

export const ApproveInput = z.object({ is_approved: z.boolean(), group: text(64).optional() });

/** Approves (its credential starts working) or rejects a worker of the calling tenant. @throws target.not_found, auth.forbidden below admin */
export const approve = fn(z.object({ id: z.string().min(1).max(100), decision: ApproveInput }), async ({ id, decision }): Promise<WorkerInfo> => {
  assertRole("admin");
  const target = await Target.get(id);
  const updated = await TargetEntity.patch({ tenantId: target.tenantId, targetId: target.targetId })
    .set({ approval: decision.is_approved ? "approved" : "rejected", ...(decision.group ? { group: decision.group } : {}) })
    .go({ response: "all_new" });
  return serializeWorker(updated.data as TargetItem, await liveness(target.tenantId, target.targetId));
});

async function liveness(tenantId: string, targetId: string): Promise<WorkerLivenessItem | undefined> {
  return (await WorkerLivenessEntity.get({ tenantId, targetId }).go()).data ?? undefined;
}

/** One worker of the calling tenant. @throws target.not_found (also another tenant's) */
export async function get(id: string): Promise<WorkerInfo> {
  const target = await Target.get(id);
  return serializeWorker(target, await liveness(target.tenantId, target.targetId));
}

export const ListInput = z.object({ approval: Approval.optional() });

/** Every worker of the calling tenant, for its admins (GET /admin/workers). @throws auth.forbidden below admin */
export const adminList = fn(ListInput, async (input): Promise<WorkerInfo[]> => {
  assertRole("admin");
  return list(input);
});

/** The calling tenant's workers, oldest first, optionally only those pending (or approved, rejected). */
export const list = fn(ListInput, async ({ approval }): Promise<WorkerInfo[]> => {
  const tenantId = useTenant();
  const [targets, live] = await Promise.all([
    Target.list(),
    WorkerLivenessEntity.query.byWorker({ tenantId }).go({ pages: "all" }),
  ]);
  const byTarget = new Map(live.data.map((item) => [item.targetId, item]));
  return targets.map((target) => serializeWorker(target, byTarget.get(target.targetId))).filter((worker) => !approval || worker.approval === approval);
});

export const Overview = z.object({
  total: z.number(),
  online: z.number(),
  offline: z.number(),
  pending_approval: z.number(),
  average_cpu_usage_percent: z.number().nullable(),
  average_memory_usage_percent: z.number().nullable(),
  average_disk_usage_percent: z.number().nullable(),
  groups: z.array(z.object({ group: z.string().nullable(), total: z.number(), online: z.number() })),
});

/** Fleet counts and the average health of the approved workers that are online. */
export async function overview(): Promise<z.infer<typeof Overview>> {
  const workers = await list({});
  const approved = workers.filter((worker) => worker.approval === "approved");
  const online = approved.filter((worker) => worker.status === "online");
  const average = (pick: (worker: WorkerInfo) => number | null) => {
    const values = online.map(pick).filter((value): value is number => value !== null);
    return values.length ? Math.round((values.reduce((sum, value) => sum + value, 0) / values.length) * 10) / 10 : null;
  };
  const groups = new Map<string | null, { group: string | null; total: number; online: number }>();
  for (const worker of approved) {
    const entry = groups.get(worker.group) ?? { group: worker.group, total: 0, online: 0 };
    entry.total++;
    if (worker.status === "online") entry.online++;
    groups.set(worker.group, entry);
  }
  return {
    total: approved.length,
    online: online.length,
    offline: approved.length - online.length,
    pending_approval: workers.filter((worker) => worker.approval === "pending").length,
    average_cpu_usage_percent: average((worker) => worker.cpu_usage_percent),
    average_memory_usage_percent: average((worker) => worker.memory_usage_percent),
    average_disk_usage_percent: average((worker) => worker.disk_usage_percent),
    groups: [...groups.values()],
  };
}

// ------------------------------------------------------------ tasks

export const Tasks = z.object({
  /** The deployment to install (as GET /devices/assignment answers it), or null. */
  assignment: Deployment.Assignment.nullable(),
  /** Commands for the model service, oldest first; each is sent until the agent reports its result (run each id once). */
  commands: z.array(Commands.Delivered),
});
export type Tasks = z.infer<typeof Tasks>;

/**
 * What the calling device's worker should do now: the assignment and the
 * service's commands (handing them over marks them delivered).
 * @throws worker.not_found when `workerId` is not the caller's own
 */
export async function tasks(workerId: string): Promise<Tasks> {
  const device = Target.useDevice();
  if (workerId !== device.targetId) throw notFound("worker", workerId);
  const assignment = (await Deployment.assignment()) ?? null;
  const commands = await Commands.deliver(device.tenantId, device.targetId, assignment?.deployment_id);
  return { assignment, commands };
}

// ------------------------------------------------------------ heartbeats and liveness

export const HeartbeatInput = z.object({
  cpu_usage_percent: percent.optional(),
  memory_usage_percent: percent.optional(),
  disk_usage_percent: percent.optional(),
  /** The model service as the agent supervises it. */
  service: Service.Report.optional(),
  /** Results of commands the agent ran since its last heartbeat. */
  command_results: z.array(Commands.Result).max(100).optional(),
  current_model: z.string().trim().min(1).max(100).nullable().optional(),
  version: z.string().trim().min(1).max(100).nullable().optional(),
});
export type HeartbeatInput = z.input<typeof HeartbeatInput>;

function transition(target: TargetItem, lastSeen: string) {
  return { worker_id: target.targetId, name: target.name, group: target.group ?? null, last_seen: lastSeen };
}

async function announce(target: TargetItem, state: "online" | "offline", lastSeen: string): Promise<void> {
  const payload = transition(target, lastSeen);
  const key = `${target.targetId}_${state}_${Date.parse(lastSeen)}`;
  await Promise.all([
    Realtime.publish(state === "online" ? WorkerOnline : WorkerOffline, Topic.tenant(target.tenantId), payload),
    Webhook.emit(state === "online" ? WorkerOnlineWebhook : WorkerOfflineWebhook, target.tenantId, payload, key),
  ]).catch((error: Error) => logger.warn("worker transition not announced", { targetId: target.targetId, state, error }));
}

/**
 * A heartbeat of the calling device, as `/devices/heartbeat` and
 * `/workers/:id/heartbeat` send it: the reported model is checked as
 * Target.heartbeat does, the health is stored, and the first heartbeat after
 * being offline announces `worker.online` (once: the old state comes back
 * from the same atomic write).
 * @throws worker.not_found when `workerId` is not the caller's own worker; the errors of Target.heartbeat
 */
export async function heartbeat(input: HeartbeatInput, workerId?: string): Promise<WorkerInfo> {
  const device = Target.useDevice();
  if (workerId !== undefined && workerId !== device.targetId) throw notFound("worker", workerId);
  const parsed = Target.parseInput(HeartbeatInput, input);
  // The model report is checked (and refused) exactly as on /devices/heartbeat.
  const reportsModel = parsed.current_model !== undefined || parsed.version !== undefined;
  const target = await Target.heartbeat(reportsModel ? { current_model: parsed.current_model, version: parsed.version } : {});
  const key = { tenantId: device.tenantId, targetId: device.targetId };
  const health: Partial<Pick<WorkerLivenessItem, "cpuUsagePercent" | "memoryUsagePercent" | "diskUsagePercent" | "service">> = {
    ...(parsed.cpu_usage_percent !== undefined ? { cpuUsagePercent: parsed.cpu_usage_percent } : {}),
    ...(parsed.memory_usage_percent !== undefined ? { memoryUsagePercent: parsed.memory_usage_percent } : {}),
    ...(parsed.disk_usage_percent !== undefined ? { diskUsagePercent: parsed.disk_usage_percent } : {}),
  };
  const lastSeen = target.lastSeen ?? new Date().toISOString();
  const report: Service.StoredReport | undefined = parsed.service ? { ...parsed.service, reported_at: lastSeen } : undefined;
  if (report) health.service = report;
  const previous = (await WorkerLivenessEntity.upsert({ ...key, state: "online", lastSeen, ...health }).go({ response: "all_old" })).data as WorkerLivenessItem | null;
  if (previous?.state !== "online") await announce(target, "online", lastSeen);
  if (report) await Service.announce(target, previous ?? undefined, report);
  if (parsed.command_results?.length) await Commands.settle(device.tenantId, device.targetId, parsed.command_results);
  // What the upsert wrote: the fields it left alone keep their previous values.
  return serializeWorker(target, { ...previous, ...key, state: "online", lastSeen, ...health } as WorkerLivenessItem);
}

/**
 * The offline sweep (a schedule): every online worker whose last heartbeat is
 * older than the offline window turns offline, each announced once; a
 * heartbeat racing the sweep wins (the write is conditional on the heartbeat
 * it read). Answers how many went offline.
 */
export async function sweepOffline(now = Date.now()): Promise<number> {
  const cutoff = new Date(now - Config.workerOfflineAfterMs()).toISOString();
  const silent = await WorkerLivenessEntity.query.byState({ state: "online" }).lt({ lastSeen: cutoff }).go({ pages: "all" });
  let offline = 0;
  for (const item of silent.data) {
    try {
      await WorkerLivenessEntity.patch({ tenantId: item.tenantId, targetId: item.targetId })
        .set({ state: "offline", lastSeen: item.lastSeen })
        .where((attr, op) => `${op.eq(attr.state, "online")} AND ${op.eq(attr.lastSeen, item.lastSeen)}`)
        .go();
    } catch (error) {
      if (isConditionalFailure(error)) continue;
      throw error;
    }
    const target = (await TargetEntity.get({ tenantId: item.tenantId, targetId: item.targetId }).go()).data;
    if (target) {
      await announce(target, "offline", item.lastSeen);
      await Commands.expireForWorker(item.tenantId, item.targetId, target.name, item.lastSeen);
    }
    offline++;
  }
  await Commands.expireOverdue(now);
  return offline;
}
