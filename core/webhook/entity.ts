import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";
import { WEBHOOK_EVENTS } from "../realtime/events";

/**
 * A tenant's webhook endpoint. The signing secret is stored because every
 * delivery is signed with it; it is returned only once, when created.
 */
export const WebhookEntity = new Entity(
  {
    model: { entity: "webhook", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      webhookId: { type: "string", required: true, readOnly: true },
      url: { type: "string", required: true },
      events: { type: "set", items: WEBHOOK_EVENTS, required: true },
      description: { type: "string" },
      secret: { type: "string", required: true },
      createdBy: { type: "string" },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["webhookId"] },
      },
    },
  },
  entityConfig,
);

export type WebhookItem = EntityItem<typeof WebhookEntity>;
