import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../../db";

/**
 * A queued run waiting for a slot. All entries share one partition ordered by
 * queue time (platform-wide FIFO); gsi1 lists one tenant's entries. Starting a
 * queued run deletes its entry in the same transaction that takes the slots,
 * so two workers can never start the same run.
 */
export const QueueEntryEntity = new Entity(
  {
    model: { entity: "training_queue_entry", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      runId: { type: "string", required: true, readOnly: true },
      queuedAt: { type: "number", required: true, readOnly: true, padding: { length: 15, char: "0" } },
    },
    indexes: {
      fifo: {
        pk: { field: "pk", composite: [] },
        sk: { field: "sk", composite: ["queuedAt", "runId"] },
      },
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["queuedAt", "runId"] },
      },
    },
  },
  entityConfig,
);

export type QueueEntryItem = EntityItem<typeof QueueEntryEntity>;
