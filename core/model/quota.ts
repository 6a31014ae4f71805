import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

/**
 * A tenant's model reservations: its models plus its runs that may still
 * produce one. Taken with a conditional ADD in the same transaction that
 * creates a run, so concurrent starts cannot overshoot the plan's max_models;
 * given back when a run ends without a model or a model is deleted.
 */
export const ModelQuotaEntity = new Entity(
  {
    model: { entity: "model_quota", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      reserved: { type: "number", default: 0 },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type ModelQuotaItem = EntityItem<typeof ModelQuotaEntity>;

/** Gives one reservation back (never below zero). */
export async function releaseModelReservation(tenantId: string): Promise<void> {
  await ModelQuotaEntity.update({ tenantId })
    .add({ reserved: -1 })
    .where((a, op) => op.gt(a.reserved, 0))
    .go()
    .catch(() => undefined);
}
