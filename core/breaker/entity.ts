/** A circuit breaker's shared state: one item per protected dependency, so every Lambda sees the same state. */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const BreakerEntity = new Entity(
  {
    model: { entity: "circuit_breaker", version: "1", service: "flint" },
    attributes: {
      name: { type: "string", required: true, readOnly: true },
      state: { type: ["closed", "open", "half_open"] as const, required: true },
      /** Failures since `windowStart`. */
      failures: { type: "number", required: true },
      windowStart: { type: "number", required: true },
      /** While open: until when calls fail fast; while half-open: until when the one probe may run. */
      until: { type: "number" },
      lastError: { type: "string" },
      /** Bumped by every change, so concurrent changes do not overwrite each other. */
      revision: { type: "number", required: true },
    },
    indexes: {
      byName: {
        pk: { field: "pk", composite: ["name"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type BreakerItem = EntityItem<typeof BreakerEntity>;
