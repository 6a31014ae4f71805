import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const ARCH_VALUES = ["armv7", "aarch64", "x86_64"] as const;
export const PRECISIONS = ["float32", "int8"] as const;
export const STATUSES = ["compiling", "quantizing", "packaging", "transferring", "deployed", "failed"] as const;
export type Status = (typeof STATUSES)[number];

/**
 * An edge controller registered by a tenant. Its device credential is stored
 * as a lookup id (found through gsi1) and the SHA-256 of the secret part.
 */
export const TargetEntity = new Entity(
  {
    model: { entity: "edge_target", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      targetId: { type: "string", required: true, readOnly: true },
      name: { type: "string", required: true },
      ip: { type: "string" },
      arch: { type: ARCH_VALUES, required: true },
      location: { type: "string" },
      unit: { type: "string" },
      credentialId: { type: "string", required: true },
      credentialHash: { type: "string", required: true },
      lastSeen: { type: "string" },
      currentModel: { type: "string" },
      currentModelVersion: { type: "string" },
      currentDeploymentId: { type: "string" },
      /** A self-enrolled worker waits for an admin (`pending`); absent means registered by an operator, so approved. */
      approval: { type: ["pending", "approved", "rejected"] as const },
      group: { type: "string" },
      /** What a self-enrolled worker says of itself (seed 001's worker fields). */
      hostname: { type: "string" },
      osInfo: { type: "string" },
      cpuCores: { type: "number" },
      memoryTotalMb: { type: "number" },
      maxAgents: { type: "number" },
      enrolledWith: { type: "string" },
      createdBy: { type: "string" },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", required: true, watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["targetId"] },
      },
      byCredential: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["credentialId"] },
        sk: { field: "gsi1sk", composite: [] },
      },
    },
  },
  entityConfig,
);

/** One model deployed (or being deployed) to one target. */
export const DeploymentEntity = new Entity(
  {
    model: { entity: "deployment", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      deploymentId: { type: "string", required: true, readOnly: true },
      modelId: { type: "string", required: true, readOnly: true },
      modelVersion: { type: "string" },
      targetId: { type: "string", required: true, readOnly: true },
      targetIp: { type: "string" },
      targetName: { type: "string", required: true },
      targetArch: { type: ARCH_VALUES, required: true, readOnly: true },
      precision: { type: PRECISIONS, required: true, readOnly: true },
      status: { type: STATUSES, required: true },
      reason: { type: "string" },
      binarySizeBytes: { type: "number" },
      binarySha256: { type: "string" },
      packageKey: { type: "string" },
      packageSizeBytes: { type: "number" },
      packageSha256: { type: "string" },
      verification: { type: "any" },
      toolchain: { type: "string" },
      compileMs: { type: "number" },
      /** The model the target ran before this deployment (kept on a failed install). */
      previousModel: { type: "string" },
      deployedAt: { type: "string" },
      deployedBy: { type: "string", required: true, readOnly: true },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", required: true, watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["deploymentId"] },
      },
      byTarget: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId", "targetId"] },
        sk: { field: "gsi1sk", composite: ["deploymentId"] },
      },
    },
  },
  entityConfig,
);

export type TargetItem = EntityItem<typeof TargetEntity>;
export type DeploymentItem = EntityItem<typeof DeploymentEntity>;

/** How many deployments of one target have not failed. */
export const TargetSlotEntity = new Entity(
  {
    model: { entity: "deployment_target_slot", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      targetId: { type: "string", required: true, readOnly: true },
      live: { type: "number", required: true },
    },
    indexes: {
      byTarget: {
        pk: { field: "pk", composite: ["tenantId", "targetId"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type TargetSlot = EntityItem<typeof TargetSlotEntity>;
