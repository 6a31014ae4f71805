/** The audit trail record (see ./index). */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const AuditEntity = new Entity(
  {
    model: { entity: "audit", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      auditId: { type: "string", required: true, readOnly: true },
      at: { type: "string", required: true, readOnly: true },
      userId: { type: "string", required: true, readOnly: true },
      username: { type: "string", readOnly: true },
      action: { type: "string", required: true, readOnly: true },
      resourceType: { type: "string", readOnly: true },
      resourceId: { type: "string", readOnly: true },
      result: { type: ["success", "failure"] as const, required: true, readOnly: true },
      statusCode: { type: "number", readOnly: true },
      severity: { type: ["info", "warning", "critical"] as const, required: true, readOnly: true },
      ip: { type: "string", readOnly: true },
      userAgent: { type: "string", readOnly: true },
      requestId: { type: "string", readOnly: true },
      method: { type: "string", readOnly: true },
      path: { type: "string", readOnly: true },
      detailsJson: { type: "string", readOnly: true },
      expires_at: { type: "number", required: true, readOnly: true },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["at", "auditId"] },
      },
      byUser: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId", "userId"] },
        sk: { field: "gsi1sk", composite: ["at", "auditId"] },
      },
      byAction: {
        index: "gsi2",
        pk: { field: "gsi2pk", composite: ["tenantId", "action"] },
        sk: { field: "gsi2sk", composite: ["at", "auditId"] },
      },
    },
  },
  entityConfig,
);

export type AuditItem = EntityItem<typeof AuditEntity>;
