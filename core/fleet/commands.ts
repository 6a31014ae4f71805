/**
 * Commands to the model service on a worker. The platform never connects to
 * a controller (they sit behind NAT): a command waits, queued, until the
 * worker's next heartbeat answer carries it (delivered); the agent runs it
 * and reports the result in a later heartbeat (succeeded | failed). A command
 * expires when its time is up or when its worker goes offline; one sent to a
 * worker that is offline expires at once. Every change is published on the
 * service's topic (`command.updated`).
 *
 * `update` is carried out by a deployment: the platform builds the newer
 * model for the worker, the agent installs it as it installs any assignment,
 * and the command follows the deployment (delivered with the assignment,
 * succeeded when the install is confirmed, failed with its reason).
 */
import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { Config } from "../config";
import { Deployment, Target } from "../deployment";
import { DeploymentEntity, type TargetItem } from "../deployment/entities";
import { conflict, invalid, isConditionalFailure, notFound } from "../error";
import { createId } from "../id";
import { logger } from "../logger";
import { ModelEntity } from "../model/entity";
import { Realtime } from "../realtime";
import { CommandUpdated, Topic } from "../realtime/events";
import { CommandEntity, WorkerLivenessEntity, type CommandItem } from "./entities";
import * as Service from "./service";
import { commandPayload } from "./topics";

export const TYPES = ["start", "stop", "restart", "update"] as const;
export const Type = z.enum(TYPES);
export type Type = z.infer<typeof Type>;
export const State = z.enum(["queued", "delivered", "succeeded", "failed", "expired"]);
const OPEN: readonly CommandItem["state"][] = ["queued", "delivered"];

/** Finished commands are kept this long (DynamoDB TTL). */
const KEEP_SECONDS = 7 * 24 * 3600;

export const Info = z.object({
  id: z.string(),
  service_id: z.string(),
  worker_id: z.string(),
  command: Type,
  state: State,
  result: z.string().nullable(),
  reason: z.string().nullable(),
  deployment_id: z.string().nullable(),
  model_id: z.string().nullable(),
  created_by: z.string().nullable(),
  created_at: z.string(),
  delivered_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  expires_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export function serialize(item: CommandItem): Info {
  return {
    id: item.commandId,
    service_id: item.serviceId,
    worker_id: item.targetId,
    command: item.type,
    state: item.state,
    result: item.result ?? null,
    reason: item.reason ?? null,
    deployment_id: item.deploymentId ?? null,
    model_id: item.modelId ?? null,
    created_by: item.createdBy ?? null,
    created_at: item.createdAt,
    delivered_at: item.deliveredAt ?? null,
    finished_at: item.finishedAt ?? null,
    expires_at: item.expiresAt,
  };
}

async function publish(item: CommandItem): Promise<void> {
  await Realtime.publish(CommandUpdated, Topic.service(item.tenantId, item.serviceId), commandPayload(item)).catch((error: Error) => logger.warn("command update not published", { commandId: item.commandId, error }));
}

/**
 * Moves a command on, only from one of `from` (so a late or repeated report
 * cannot reopen a finished command); answers the new record, or undefined
 * when it was no longer in `from`.
 */
async function move(item: CommandItem, from: readonly CommandItem["state"][], to: CommandItem["state"], patch: Partial<Pick<CommandItem, "result" | "reason" | "deliveredAt" | "finishedAt">> = {}): Promise<CommandItem | undefined> {
  const now = new Date().toISOString();
  const finished = to === "succeeded" || to === "failed" || to === "expired";
  try {
    const updated = await CommandEntity.patch({ tenantId: item.tenantId, commandId: item.commandId })
      .set({ state: to, expiresAt: item.expiresAt, ...(finished ? { finishedAt: now } : {}), ...(to === "delivered" ? { deliveredAt: now } : {}), ...patch })
      .where((attr, op) => from.map((state) => op.eq(attr.state, state)).join(" OR "))
      .go({ response: "all_new" });
    const moved = updated.data as CommandItem;
    await publish(moved);
    return moved;
  } catch (error) {
    if (isConditionalFailure(error)) return undefined;
    throw error;
  }
}

export const IssueInput = z.object({
  /** update: the model to install (default: the tenant's newest ready model trained on the same sensors as the running one). */
  model_id: z.string().trim().min(1).max(100).optional(),
  precision: z.enum(["float32", "int8"]).optional(),
});
export type IssueInput = z.input<typeof IssueInput>;

/**
 * The model `update` installs: the one named, or the tenant's newest ready
 * model with the running model's sensors and window length.
 * @throws model.not_found for a named model not the tenant's, service.model_required (400) with nothing installed and none named, service.up_to_date (409)
 */
async function updateModel(serviceId: string, target: TargetItem, named: string | undefined): Promise<string> {
  if (named) {
    if (!(await ModelEntity.get({ tenantId: target.tenantId, modelId: named }).go()).data) throw notFound("model", named);
    return named;
  }
  const current = target.currentModel;
  if (!current) throw invalid("service.model_required", "Nothing is installed on this worker yet: name the model to install (model_id)", { service_id: serviceId });
  const running = (await ModelEntity.get({ tenantId: target.tenantId, modelId: current }).go()).data;
  const models = await ModelEntity.query.byTenant({ tenantId: target.tenantId }).go({ pages: "all", order: "desc" });
  const sameSensors = (features: string[]) => running !== null && JSON.stringify(features) === JSON.stringify(running.featureNames);
  const newest = models.data.find((model) => model.status === "ready" && sameSensors(model.featureNames) && model.sequenceLength === running?.sequenceLength);
  if (!newest || newest.modelId === current || newest.modelId < current) {
    throw conflict("service.up_to_date", "The service already runs the newest model trained on its sensors", { service_id: serviceId, model_id: current });
  }
  return newest.modelId;
}

/**
 * Sends a command to a service of the calling tenant (operators): queued for
 * the worker's next heartbeat, or expired at once when the worker is offline.
 * `update` first builds the newer model for the worker (a deployment).
 * @throws service.not_found, auth.forbidden below operator, service.up_to_date (409), the errors of Deployment.create (update)
 */
export async function issue(serviceId: string, type: Type, input: IssueInput = {}): Promise<Info> {
  assertRole("operator");
  const options = Target.parseInput(IssueInput, input);
  const target = await Service.targetOf(serviceId);
  const liveness = (await WorkerLivenessEntity.get({ tenantId: target.tenantId, targetId: target.targetId }).go()).data;
  const actor = useActor();
  const now = Date.now();
  const online = Target.serialize(target, now).status === "online" && liveness?.state !== "offline";
  const timeout = type === "update" ? Config.updateTimeoutMs() : Config.commandTimeoutMs();
  const base = {
    tenantId: target.tenantId,
    commandId: createId("cmd"),
    targetId: target.targetId,
    serviceId,
    type,
    createdBy: actor.type === "user" ? actor.username : actor.type,
    expiresAt: new Date(now + timeout).toISOString(),
    expires_at: Math.floor(now / 1000) + KEEP_SECONDS,
  };
  // An update that could never be carried out says why, online or not.
  const updateTo = type === "update" ? await updateModel(serviceId, target, options.model_id) : undefined;
  if (!online) {
    const expired = await CommandEntity.create({
      ...base,
      state: "expired",
      finishedAt: new Date(now).toISOString(),
      reason: `${target.name} is offline (last heartbeat ${target.lastSeen ?? "never"}): the command was not sent`,
    }).go();
    await publish(expired.data as CommandItem);
    return serialize(expired.data as CommandItem);
  }
  let deployment: { deploymentId?: string; modelId?: string } = {};
  if (updateTo) {
    const created = await Deployment.create({ model_id: updateTo, target_id: target.targetId, precision: options.precision });
    deployment = { deploymentId: created.id, modelId: updateTo };
  }
  const created = await CommandEntity.create({ ...base, ...deployment, state: "queued" }).go();
  await publish(created.data as CommandItem);
  return serialize(created.data as CommandItem);
}

/** One command of the calling tenant. @throws command.not_found */
export async function get(commandId: string): Promise<Info> {
  const found = (await CommandEntity.get({ tenantId: useTenant(), commandId }).go()).data;
  if (!found) throw notFound("command", commandId);
  return serialize(found);
}

/** The latest commands of a service of the calling tenant, newest first. @throws service.not_found */
export async function list(serviceId: string, limit = 20): Promise<Info[]> {
  const target = await Service.targetOf(serviceId);
  const found = await CommandEntity.query.byWorker({ tenantId: target.tenantId, targetId: target.targetId }).go({ order: "desc", limit });
  return found.data.map(serialize);
}

/** Commands of a worker that are not finished, oldest first. */
async function open(tenantId: string, targetId: string): Promise<CommandItem[]> {
  const found = await CommandEntity.query
    .byWorker({ tenantId, targetId })
    .where((attr, op) => OPEN.map((state) => op.eq(attr.state, state)).join(" OR "))
    .go({ pages: "all" });
  return found.data;
}

/** What the agent sends back for a command it ran. */
export const Result = z.object({
  id: z.string().trim().min(1).max(100),
  state: z.enum(["succeeded", "failed"]),
  result: z.string().max(2000).optional(),
});
export type Result = z.infer<typeof Result>;

/** Records the results the calling device's agent reports; results for commands not its own or already finished are ignored. */
export async function settle(tenantId: string, targetId: string, results: Result[]): Promise<void> {
  for (const result of results) {
    const item = (await CommandEntity.get({ tenantId, commandId: result.id }).go()).data;
    if (!item || item.targetId !== targetId || item.type === "update") continue;
    const text = result.result ?? null;
    await move(item, OPEN, result.state, result.state === "failed" ? { reason: text ?? "the agent reported a failure", ...(text ? { result: text } : {}) } : text ? { result: text } : {});
  }
}

/** A command as the agent receives it. */
export const Delivered = z.object({ id: z.string(), command: z.enum(["start", "stop", "restart"]), created_at: z.string(), expires_at: z.string() });
export type Delivered = z.infer<typeof Delivered>;

/**
 * The commands to hand a worker in its heartbeat answer: every open start,
 * stop or restart (delivered until the agent reports it, so a lost answer is
 * sent again; the agent runs each id once). Update commands follow their
 * deployment: delivered with its assignment (`assignedDeploymentId`),
 * finished when it is installed or fails.
 */
export async function deliver(tenantId: string, targetId: string, assignedDeploymentId: string | undefined): Promise<Delivered[]> {
  const pending = await open(tenantId, targetId);
  const delivered: Delivered[] = [];
  for (const item of pending) {
    if (item.type === "update") {
      await followDeployment(item, assignedDeploymentId);
      continue;
    }
    if (item.state === "queued" && !(await move(item, ["queued"], "delivered"))) continue;
    delivered.push({ id: item.commandId, command: item.type, created_at: item.createdAt, expires_at: item.expiresAt });
  }
  return delivered;
}

async function followDeployment(item: CommandItem, assignedDeploymentId: string | undefined): Promise<void> {
  if (!item.deploymentId) return;
  const deployment = (await DeploymentEntity.get({ tenantId: item.tenantId, deploymentId: item.deploymentId }).go({ consistent: true })).data;
  if (!deployment) {
    await move(item, OPEN, "failed", { reason: "its deployment is gone" });
  } else if (deployment.status === "deployed") {
    await move(item, OPEN, "succeeded", { result: `installed ${deployment.modelId} ${deployment.modelVersion ?? ""}`.trim() });
  } else if (deployment.status === "failed") {
    await move(item, OPEN, "failed", { reason: deployment.reason ?? "the deployment failed" });
  } else if (item.state === "queued" && assignedDeploymentId === deployment.deploymentId) {
    await move(item, ["queued"], "delivered");
  }
}

/** Expires every open command of a worker that went offline. */
export async function expireForWorker(tenantId: string, targetId: string, name: string, lastSeen: string): Promise<number> {
  let expired = 0;
  for (const item of await open(tenantId, targetId)) {
    if (await move(item, OPEN, "expired", { reason: `${name} went offline (last heartbeat ${lastSeen}) before the command was done` })) expired++;
  }
  return expired;
}

/** The sweep: expires open commands past their deadline. Answers how many. */
export async function expireOverdue(now = Date.now()): Promise<number> {
  const cutoff = new Date(now).toISOString();
  let expired = 0;
  for (const state of ["queued", "delivered"] as const) {
    const overdue = await CommandEntity.query.byState({ state }).lt({ expiresAt: cutoff }).go({ pages: "all" });
    for (const item of overdue.data) {
      const seconds = Math.round((Date.parse(item.expiresAt) - Date.parse(item.createdAt)) / 1000);
      const reason = state === "queued" ? `not picked up by the worker within ${seconds} s` : `the agent did not report a result within ${seconds} s`;
      if (await move(item, [item.state], "expired", { reason })) expired++;
    }
  }
  return expired;
}
