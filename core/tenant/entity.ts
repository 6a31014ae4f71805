/** The tenant record. */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const TenantEntity = new Entity(
  {
    model: { entity: "tenant", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      name: { type: "string", required: true },
      createdBy: { type: "string", required: true, readOnly: true },
      createdAt: { type: "string", readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: [] },
      },
      // Platform-wide listing for superadmins only (small, admin-facing).
      all: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: [] },
        sk: { field: "gsi1sk", composite: ["createdAt", "tenantId"] },
      },
    },
  },
  entityConfig,
);

export type Item = EntityItem<typeof TenantEntity>;
