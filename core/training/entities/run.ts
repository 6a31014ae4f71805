import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../../db";

export const RUN_STATUSES = ["queued", "running", "stopping", "completed", "failed", "stopped"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * One training run. The tenant is part of the partition key, so another
 * tenant's run id finds nothing. The lease fields (leaseOwner, leaseUntil)
 * say which worker trains it right now; slotHeld says whether the run still
 * counts against its tenant's and the platform's concurrency counters.
 */
export const TrainingRunEntity = new Entity(
  {
    model: { entity: "training_run", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      runId: { type: "string", required: true, readOnly: true },
      datasetId: { type: "string", required: true, readOnly: true },
      architecture: { type: "string", required: true, readOnly: true },
      hyperparameters: { type: "any", required: true, readOnly: true },
      chosenBecause: { type: "any", readOnly: true },
      /** architecture "auto": every candidate's figures, ranked (see core/ml/auto.ts), and the models kept from it */
      leaderboard: { type: "any" },
      createdBy: { type: "string" },
      status: { type: RUN_STATUSES, required: true },
      totalEpochs: { type: "number", required: true },
      currentEpoch: { type: "number", default: 0 },
      bestValLoss: { type: "number" },
      currentTrainLoss: { type: "number" },
      currentValLoss: { type: "number" },
      learningRate: { type: "number" },
      /** Time the run's attempts spent on it (resumed attempts count from their checkpoint), not wall time since start. */
      trainingTimeSeconds: { type: "number", default: 0 },
      /** Of trainingTimeSeconds, the attempts' setup before their first batch (data load, ONNX Runtime sessions). */
      setupSeconds: { type: "number" },
      estimatedRemainingSeconds: { type: "number" },
      /** Set while the run holds a tenant and a platform slot; cleared exactly once when it frees them. */
      slotHeld: { type: "boolean", default: false },
      /** Worker holding the run: `<host>:<pid>:<nonce>`, with leaseUntil in epoch ms. */
      leaseOwner: { type: "string" },
      leaseUntil: { type: "number", default: 0 },
      attempts: { type: "number", default: 0 },
      checkpointEpoch: { type: "number", default: 0 },
      checkpointKey: { type: "string" },
      stopRequested: { type: "boolean", default: false },
      modelId: { type: "string" },
      evaluationId: { type: "string" },
      /** Readable reason of a failure, safe to show the tenant. */
      error: { type: "string" },
      /** Last transient error a worker hit, kept for the dead-letter reason. */
      lastError: { type: "string" },
      windows: { type: "number" },
      queuedAt: { type: "string" },
      startedAt: { type: "string" },
      completedAt: { type: "string" },
      /** When the stuck-run sweep last put this run's message back on the training queue, and how often it did. */
      requeuedAt: { type: "string" },
      requeues: { type: "number" },
      /** Always set, like queuedAt: created ≤ queued ≤ started ≤ completed (a run that starts at once is queued as it is created). */
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["tenantId", "runId"] },
        sk: { field: "sk", composite: [] },
      },
      // Run ids are ULIDs, so the tenant's runs sort by creation time.
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["runId"] },
      },
      // Sparse, platform-wide: only runs that hold a worker (running, stopping) carry these keys, so the
      // stuck-run sweep reads a handful of items. Every status change recomputes them; a final status removes them.
      byActiveStatus: {
        index: "gsi2",
        condition: (attributes) => attributes.status === "running" || attributes.status === "stopping",
        pk: { field: "gsi2pk", composite: ["status"] },
        sk: { field: "gsi2sk", composite: ["runId"] },
      },
    },
  },
  entityConfig,
);

export type TrainingRunItem = EntityItem<typeof TrainingRunEntity>;
