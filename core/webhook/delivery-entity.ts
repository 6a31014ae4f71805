import { Entity, type EntityItem } from "electrodb";
import { entityConfig, expiresIn } from "../db";
import { WEBHOOK_EVENTS } from "../realtime/events";

/** Deliveries are kept for 30 days. */
export const DELIVERY_TTL_SECONDS = 30 * 24 * 3600;

/** One event sent (or being sent) to one webhook, with its attempts. */
export const DeliveryEntity = new Entity(
  {
    model: { entity: "webhook_delivery", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      webhookId: { type: "string", required: true, readOnly: true },
      deliveryId: { type: "string", required: true, readOnly: true },
      event: { type: WEBHOOK_EVENTS, required: true, readOnly: true },
      /** The exact JSON body that is signed and sent on every attempt. */
      payload: { type: "string", required: true, readOnly: true },
      status: { type: ["pending", "retrying", "succeeded", "failed"] as const, required: true, default: "pending" },
      attempts: { type: "number", default: 0 },
      lastStatusCode: { type: "number" },
      lastError: { type: "string" },
      nextAttemptAt: { type: "string" },
      deliveredAt: { type: "string" },
      expires_at: { type: "number", default: () => expiresIn(DELIVERY_TTL_SECONDS) },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byWebhook: {
        pk: { field: "pk", composite: ["tenantId", "webhookId"] },
        sk: { field: "sk", composite: ["deliveryId"] },
      },
    },
  },
  entityConfig,
);

export type DeliveryItem = EntityItem<typeof DeliveryEntity>;
