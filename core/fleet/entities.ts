import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

/**
 * An enrolment token an admin hands to controllers so they can register
 * themselves: stored as the SHA-256 of its secret, found by its id (gsi1),
 * limited in time and, optionally, in uses.
 */
export const EnrolmentTokenEntity = new Entity(
  {
    model: { entity: "enrolment_token", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      tokenId: { type: "string", required: true, readOnly: true },
      name: { type: "string" },
      secretHash: { type: "string", required: true, readOnly: true },
      group: { type: "string" },
      expiresAt: { type: "string", required: true, readOnly: true },
      /** Absent: any number of controllers may enrol with it until it expires. */
      maxUses: { type: "number" },
      uses: { type: "number", required: true, default: 0 },
      revoked: { type: "boolean", required: true, default: false },
      createdBy: { type: "string" },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["tokenId"] },
      },
      byToken: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tokenId"] },
        sk: { field: "gsi1sk", composite: [] },
      },
    },
  },
  entityConfig,
);

/**
 * A worker's last heartbeat and health, apart from its target record so the
 * offline sweep finds every online worker whose heartbeat is older than the
 * window with one Query (gsi2: state, then last heartbeat).
 */
export const WorkerLivenessEntity = new Entity(
  {
    model: { entity: "worker_liveness", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      targetId: { type: "string", required: true, readOnly: true },
      state: { type: ["online", "offline"] as const, required: true },
      lastSeen: { type: "string", required: true },
      cpuUsagePercent: { type: "number" },
      memoryUsagePercent: { type: "number" },
      diskUsagePercent: { type: "number" },
      /** The model service's state as the agent last reported it (free-form, shown as is). */
      service: { type: "any" },
    },
    indexes: {
      byWorker: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["targetId"] },
      },
      byState: {
        index: "gsi2",
        pk: { field: "gsi2pk", composite: ["state"] },
        sk: { field: "gsi2sk", composite: ["lastSeen"] },
      },
    },
  },
  entityConfig,
);

/**
 * A command for the model service on one worker (start, stop, restart,
 * update). Controllers sit behind NAT, so commands wait here until the
 * worker's next heartbeat answer carries them: queued → delivered →
 * succeeded | failed, or expired (timeout, or the worker went offline). Found
 * per worker (gsi1) and, for the expiry sweep, per state by deadline (gsi2).
 * Kept for a week (TTL).
 */
export const CommandEntity = new Entity(
  {
    model: { entity: "service_command", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      commandId: { type: "string", required: true, readOnly: true },
      targetId: { type: "string", required: true, readOnly: true },
      serviceId: { type: "string", required: true, readOnly: true },
      type: { type: ["start", "stop", "restart", "update"] as const, required: true, readOnly: true },
      state: { type: ["queued", "delivered", "succeeded", "failed", "expired"] as const, required: true },
      /** update: the deployment that installs the newer model. */
      deploymentId: { type: "string" },
      modelId: { type: "string" },
      /** What the agent (or the deployment, for update) reported. */
      result: { type: "string" },
      /** Why it failed or expired. */
      reason: { type: "string" },
      createdBy: { type: "string" },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      deliveredAt: { type: "string" },
      finishedAt: { type: "string" },
      /** Past this time a command not finished expires. */
      expiresAt: { type: "string", required: true },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["commandId"] },
      },
      byWorker: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId", "targetId"] },
        sk: { field: "gsi1sk", composite: ["commandId"] },
      },
      byState: {
        index: "gsi2",
        pk: { field: "gsi2pk", composite: ["state"] },
        sk: { field: "gsi2sk", composite: ["expiresAt"] },
      },
    },
  },
  entityConfig,
);

export type CommandItem = EntityItem<typeof CommandEntity>;
export type EnrolmentTokenItem = EntityItem<typeof EnrolmentTokenEntity>;
export type WorkerLivenessItem = EntityItem<typeof WorkerLivenessEntity>;
