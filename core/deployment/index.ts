/**
 * Deployments: a trained model compiled into a native binary for one edge
 * target, packaged, pulled by the device and confirmed installed.
 *
 * Status: compiling → quantizing → packaging → transferring → deployed, or
 * failed with a reason at any step. "transferring" means the package is ready
 * and waits for the device to pull it; "deployed" means the device confirmed
 * the install. Every change is published on the `deployment:<id>` topic.
 */
export * as Deployment from "./index";

import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { conflict, invalid, isConditionalFailure, notFound } from "../error";
import { createId } from "../id";
import { logger } from "../logger";
import { Model } from "../model";
import { enqueue } from "../queue";
import { Realtime, Topic } from "../realtime";
import { DeploymentStatus } from "../realtime/events";
import { getObjectBytes, presignGet } from "../storage";
import { DeploymentEntity, PRECISIONS, STATUSES, TargetEntity, type DeploymentItem, type Status } from "./entities";
import * as Target from "./target";
import { statusPayload } from "./topics";
import { parseInput } from "./target";
import { createWithSlot, failWithSlot } from "./slots";

export { Target };
export { STATUSES, type Status, type DeploymentItem } from "./entities";

/** Statuses a deployment can still move on from. */
export const IN_PROGRESS: readonly Status[] = ["compiling", "quantizing", "packaging"];
/**
 * Largest model (weight values) compiled for the edge: 8 MB of float32 weights,
 * far more than the defaults (≈110k for lstm_autoencoder) and about what a
 * small controller can hold; it also bounds the generated source and compile time.
 */
export const MAX_EDGE_PARAMETERS = 2_000_000;
/** How long a device's download link stays valid. */
export const DOWNLOAD_URL_TTL_SECONDS = 15 * 60;

export const packageKey = (tenantId: string, deploymentId: string) => `tenants/${tenantId}/deployments/${deploymentId}/package.tar.gz`;

export const Verification = z.object({
  max_abs_error: z.number(),
  windows_checked: z.number(),
  max_rel_error: z.number().optional(),
  tolerance: z.object({ rtol: z.number(), atol: z.number() }).optional(),
  selftest: z.string().optional(),
  int8_onnx_max_abs_deviation: z.number().optional(),
});

export const Info = z.object({
  id: z.string(),
  model_id: z.string(),
  model_version: z.string().nullable(),
  target_id: z.string(),
  target_ip: z.string().nullable(),
  target_name: z.string(),
  target_arch: z.string(),
  precision: z.enum(PRECISIONS),
  status: z.enum(STATUSES),
  reason: z.string().nullable(),
  binary_size_bytes: z.number().nullable(),
  binary_sha256: z.string().nullable(),
  package_size_bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  verification: Verification.nullable(),
  toolchain: z.string().nullable(),
  deployed_at: z.string().nullable(),
  deployed_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export function serialize(item: DeploymentItem): Info {
  return {
    id: item.deploymentId,
    model_id: item.modelId,
    model_version: item.modelVersion ?? null,
    target_id: item.targetId,
    target_ip: item.targetIp ?? null,
    target_name: item.targetName,
    target_arch: item.targetArch,
    precision: item.precision,
    status: item.status,
    reason: item.reason ?? null,
    binary_size_bytes: item.binarySizeBytes ?? null,
    binary_sha256: item.binarySha256 ?? null,
    package_size_bytes: item.packageSizeBytes ?? null,
    sha256: item.packageSha256 ?? null,
    verification: (item.verification as Info["verification"]) ?? null,
    toolchain: item.toolchain ?? null,
    deployed_at: item.deployedAt ?? null,
    deployed_by: item.deployedBy,
    created_at: item.createdAt,
    updated_at: item.updatedAt,
  };
}

const id = z.string().trim().min(1).max(100);

export const CreateInput = z
  .object({
    model_id: id,
    target_id: id.optional(),
    target_ip: z.union([z.ipv4(), z.ipv6()]).optional(),
    target_name: z.string().trim().min(1).max(200).optional(),
    /** float32 (default) or the model's int8 weights (model.int8.onnx). */
    precision: z.enum(PRECISIONS).default("float32"),
  })
  .refine((value) => value.target_id !== undefined || value.target_ip !== undefined, {
    message: "give target_id or target_ip",
    path: ["target_id"],
  });
export type CreateInput = z.input<typeof CreateInput>;

/**
 * Deploys a model of the calling tenant to one of its targets: records the
 * deployment (status compiling) and queues the compile job.
 * The plan's max_deployments counts targets running (or receiving) a model;
 * redeploying to such a target does not count again (see ./slots: the slot
 * is taken in one transaction with the record).
 * @throws model.not_found, target.not_found, plan.deployment_limit_reached (403),
 *   deployment.int8_unavailable (400), auth.forbidden below operator
 */
export async function create(input: CreateInput): Promise<Info> {
  assertRole("operator");
  const parsed = parseInput(CreateInput, input);
  const tenantId = useTenant();
  const model = await Model.get(parsed.model_id);
  if (model.status !== "ready") throw notFound("model", parsed.model_id);
  if (model.parameters > MAX_EDGE_PARAMETERS) {
    throw invalid("deployment.model_too_large", `Models up to ${MAX_EDGE_PARAMETERS} parameters can be deployed to edge controllers`, {
      parameters: model.parameters,
      limit: MAX_EDGE_PARAMETERS,
    });
  }
  if (parsed.precision === "int8" && !model.quantized) {
    throw invalid("deployment.int8_unavailable", "This model has no int8 variant", { model_id: model.modelId });
  }
  const target = parsed.target_id ? await Target.get(parsed.target_id) : await Target.findByIp(parsed.target_ip!, parsed.target_name);

  const actor = useActor();
  const deploymentId = createId("dep");
  await createWithSlot({
    tenantId,
    deploymentId,
    modelId: model.modelId,
    targetId: target.targetId,
    targetIp: target.ip,
    targetName: target.name,
    targetArch: target.arch,
    precision: parsed.precision,
    status: "compiling",
    previousModel: target.currentModel,
    deployedBy: actor.type === "user" ? actor.username : actor.type,
  });
  const item = (await DeploymentEntity.get({ tenantId, deploymentId }).go({ consistent: true })).data!;
  try {
    await enqueue("compile", { tenantId, deploymentId: item.deploymentId });
  } catch (error) {
    // Never leave a deployment that nothing will ever move on.
    await fail(tenantId, item.deploymentId, "could not queue the compile job");
    throw error;
  }
  await publish(item);
  return serialize(item);
}

/** A deployment of the calling tenant; another tenant's id is not found. */
export async function get(deploymentId: string): Promise<DeploymentItem> {
  const result = await DeploymentEntity.get({ tenantId: useTenant(), deploymentId }).go();
  if (!result.data) throw notFound("deployment", deploymentId);
  return result.data;
}

export async function detail(deploymentId: string): Promise<Info> {
  return serialize(await get(deploymentId));
}

/** The calling tenant's deployments, newest first. */
export async function list(): Promise<Info[]> {
  const result = await DeploymentEntity.query.byTenant({ tenantId: useTenant() }).go({ pages: "all", order: "desc" });
  return result.data.map(serialize);
}

/** The package (tar.gz) of a deployment. @throws deployment.not_ready (409) before packaging finished */
export async function binary(deploymentId: string): Promise<{ bytes: Uint8Array; fileName: string }> {
  const item = await get(deploymentId);
  if (!item.packageKey) {
    throw conflict("deployment.not_ready", "The package is not built yet", { status: item.status });
  }
  return { bytes: await getObjectBytes(item.packageKey), fileName: `${item.deploymentId}-${item.targetArch}.tar.gz` };
}

// ------------------------------------------------------------ state machine

export async function publish(item: DeploymentItem): Promise<void> {
  await Realtime.publish(DeploymentStatus, Topic.deployment(item.tenantId, item.deploymentId), statusPayload(item));
}

type Patch = Partial<Omit<DeploymentItem, "tenantId" | "deploymentId" | "modelId" | "targetId" | "targetArch" | "precision" | "deployedBy" | "createdAt" | "updatedAt">>;

/**
 * Moves a deployment to `to` if it is currently in one of `from` (a
 * conditional write, so concurrent workers or devices cannot skip a step)
 * and publishes the change. Returns undefined when the condition failed.
 */
export async function transition(tenantId: string, deploymentId: string, from: readonly Status[], to: Status, patch: Patch = {}): Promise<DeploymentItem | undefined> {
  if (to === "failed" && !from.includes("failed")) {
    // Leaving the live deployments may free the target's max_deployments slot.
    const failed = await failWithSlot(tenantId, deploymentId, from, patch);
    if (failed) await publish(failed);
    return failed;
  }
  try {
    const updated = await DeploymentEntity.patch({ tenantId, deploymentId })
      .set({ ...patch, status: to })
      .where((attr, op) => from.map((status) => op.eq(attr.status, status)).join(" OR "))
      .go({ response: "all_new" });
    const item = updated.data as DeploymentItem;
    await publish(item);
    return item;
  } catch (error) {
    if (isConditionalFailure(error)) return undefined;
    throw error;
  }
}

/** Marks an unfinished deployment failed with a readable reason. */
export async function fail(tenantId: string, deploymentId: string, reason: string): Promise<DeploymentItem | undefined> {
  logger.warn("deployment failed", { tenantId, deploymentId, reason });
  return transition(tenantId, deploymentId, [...IN_PROGRESS, "transferring"], "failed", { reason: reason.slice(0, 1000) });
}

/** Older deployments of the same target still waiting for the device are replaced by a newer one. */
export async function supersedeOlder(item: DeploymentItem): Promise<void> {
  const result = await DeploymentEntity.query.byTarget({ tenantId: item.tenantId, targetId: item.targetId }).go({ pages: "all" });
  for (const older of result.data) {
    if (older.deploymentId < item.deploymentId && older.status === "transferring") {
      await transition(item.tenantId, older.deploymentId, ["transferring"], "failed", { reason: `superseded by ${item.deploymentId}` });
    }
  }
}

// ------------------------------------------------------------ device protocol

export const Assignment = z.object({
  deployment_id: z.string(),
  model_id: z.string(),
  model_version: z.string().nullable(),
  arch: z.string(),
  precision: z.enum(PRECISIONS),
  download_url: z.string(),
  expires_in: z.number(),
  sha256: z.string(),
  size_bytes: z.number(),
  binary_sha256: z.string(),
});
export type Assignment = z.infer<typeof Assignment>;

/**
 * What the calling device should install: its newest deployment waiting in
 * "transferring", with a presigned download link; undefined when none.
 */
export async function assignment(): Promise<Assignment | undefined> {
  const device = Target.useDevice();
  const result = await DeploymentEntity.query
    .byTarget({ tenantId: device.tenantId, targetId: device.targetId })
    .go({ pages: "all", order: "desc" });
  const pending = result.data.find((item) => item.status === "transferring");
  if (!pending?.packageKey || !pending.packageSha256) return undefined;
  return {
    deployment_id: pending.deploymentId,
    model_id: pending.modelId,
    model_version: pending.modelVersion ?? null,
    arch: pending.targetArch,
    precision: pending.precision,
    download_url: await presignGet(pending.packageKey, DOWNLOAD_URL_TTL_SECONDS, `${pending.deploymentId}.tar.gz`),
    expires_in: DOWNLOAD_URL_TTL_SECONDS,
    sha256: pending.packageSha256,
    size_bytes: pending.packageSizeBytes ?? 0,
    binary_sha256: pending.binarySha256 ?? "",
  };
}

export const ConfirmInput = z.discriminatedUnion("status", [
  z.object({ status: z.literal("installed"), reason: z.string().max(1000).optional() }),
  z.object({ status: z.literal("failed"), reason: z.string().trim().min(1).max(1000).optional() }),
]);
export type ConfirmInput = z.input<typeof ConfirmInput>;

/**
 * The device reports the outcome of installing a deployment.
 * installed → deployed, and the target's current model becomes this one;
 * failed → failed, and the target keeps its previous model (the device rolls back).
 * Confirming the same outcome twice answers the same; a deployment of another
 * target or tenant is not found.
 * @throws deployment.not_found, deployment.not_transferring (409)
 */
export async function confirm(deploymentId: string, input: ConfirmInput): Promise<{ deployment: Info; target: Target.Info }> {
  const device = Target.useDevice();
  const parsed = parseInput(ConfirmInput, input);
  const found = await DeploymentEntity.get({ tenantId: device.tenantId, deploymentId }).go({ consistent: true });
  const item = found.data;
  if (!item || item.targetId !== device.targetId) throw notFound("deployment", deploymentId);
  const outcome: Status = parsed.status === "installed" ? "deployed" : "failed";
  const targetKey = { tenantId: device.tenantId, targetId: device.targetId };

  let current = item;
  if (item.status !== outcome) {
    const moved =
      outcome === "deployed"
        ? await transition(device.tenantId, deploymentId, ["transferring"], "deployed", { deployedAt: new Date().toISOString() })
        : await transition(device.tenantId, deploymentId, ["transferring"], "failed", {
            reason: `install failed on the device${parsed.reason ? `: ${parsed.reason}` : ""}; kept ${item.previousModel ?? "no model"}`,
          });
    if (!moved) {
      throw conflict("deployment.not_transferring", `The deployment is ${item.status}, not waiting for the device`, { status: item.status });
    }
    current = moved;
    if (outcome === "deployed") {
      await TargetEntity.patch(targetKey)
        .set({
          currentModel: item.modelId,
          currentModelVersion: item.modelVersion,
          currentDeploymentId: item.deploymentId,
          lastSeen: new Date().toISOString(),
        })
        .go();
    } else {
      await TargetEntity.patch(targetKey).set({ lastSeen: new Date().toISOString() }).go();
    }
  }
  const target = await TargetEntity.get(targetKey).go({ consistent: true });
  if (!target.data) throw notFound("target", device.targetId);
  return { deployment: serialize(current), target: Target.serialize(target.data) };
}
