import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../../db";

/**
 * One finished epoch of a run. Keyed by epoch number, so an epoch trained
 * again after a resume overwrites its own record instead of adding one.
 */
export const EpochEntity = new Entity(
  {
    model: { entity: "training_epoch", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      runId: { type: "string", required: true, readOnly: true },
      epoch: { type: "number", required: true, readOnly: true, padding: { length: 5, char: "0" } },
      trainLoss: { type: "number", required: true },
      valLoss: { type: "number", required: true },
      bestValLoss: { type: "number", required: true },
      learningRate: { type: "number", required: true },
      /** The run's training time at the end of this epoch (see EpochEvent.elapsed_seconds). */
      elapsedSeconds: { type: "number", required: true },
      /** As the live event had them (records written before they existed have neither). */
      epochSeconds: { type: "number" },
      setupSeconds: { type: "number" },
      /** architecture "auto": the candidate this epoch trained, and its own epoch number */
      candidate: { type: "string" },
      candidateEpoch: { type: "number" },
      recordedAt: { type: "number", default: () => Date.now() },
    },
    indexes: {
      byRun: {
        pk: { field: "pk", composite: ["tenantId", "runId"] },
        // The epoch is zero-padded in the key, so the sort key orders numerically.
        sk: { field: "sk", composite: ["epoch"] },
      },
    },
  },
  entityConfig,
);

export type EpochItem = EntityItem<typeof EpochEntity>;
