import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../../db";

/**
 * A concurrency counter: `tenant#<id>` counts a tenant's running trainings,
 * `platform` counts all of them. Only ever changed with a conditional ADD,
 * inside the same transaction as the run's status change.
 */
export const SlotEntity = new Entity(
  {
    model: { entity: "training_slot", version: "1", service: "flint" },
    attributes: {
      scope: { type: "string", required: true, readOnly: true },
      active: { type: "number", default: 0 },
    },
    indexes: {
      byScope: {
        pk: { field: "pk", composite: ["scope"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type SlotItem = EntityItem<typeof SlotEntity>;
