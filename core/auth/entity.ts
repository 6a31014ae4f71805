/** The rate-limit window counters (see ./ratelimit). */
import { Entity } from "electrodb";
import { entityConfig } from "../db";

export const RateLimitEntity = new Entity(
  {
    model: { entity: "ratelimit", version: "1", service: "flint" },
    attributes: {
      bucket: { type: "string", required: true },
      window: { type: "number", required: true },
      count: { type: "number", default: 0 },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byBucket: {
        pk: { field: "pk", composite: ["bucket", "window"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);
