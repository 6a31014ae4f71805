/**
 * The vault's records (see ./index): a tenant's secret, with its value sealed,
 * and the claim that keeps its name unique in the tenant.
 */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const SECRET_CATEGORIES = ["database", "api_key", "token", "password", "certificate", "other"] as const;

/** `expiresAt` of a secret that does not expire: it keeps the secret out of the expiry index. */
export const NEVER = "never";

export const SecretEntity = new Entity(
  {
    model: { entity: "secret", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      secretId: { type: "string", required: true, readOnly: true },
      name: { type: "string", required: true },
      category: { type: SECRET_CATEGORIES, required: true },
      /** `v1.…` from seal() with the context `secret:<tenantId>:<secretId>`; never the plaintext. */
      sealed: { type: "string", required: true },
      /** 1 when created, +1 for every new value. */
      version: { type: "number", required: true },
      /** ISO 8601 UTC, or NEVER. Not `expires_at`: that is the table's TTL attribute. */
      expiresAt: { type: "string", required: true },
      createdBy: { type: "string", readOnly: true },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      // Set by the changes that count (not by a reveal), so no `watch`.
      updatedAt: { type: "string", required: true, default: () => new Date().toISOString() },
      rotatedAt: { type: "string" },
      lastRevealedAt: { type: "string" },
    },
    indexes: {
      // Secret ids are ULIDs, so the tenant's secrets sort by creation time.
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["secretId"] },
      },
      byCategory: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId", "category"] },
        sk: { field: "gsi1sk", composite: ["secretId"] },
      },
      // Sparse: only secrets that expire carry these keys, soonest first.
      byExpiry: {
        index: "gsi2",
        condition: (attributes) => attributes.expiresAt !== NEVER,
        pk: { field: "gsi2pk", composite: ["tenantId"] },
        sk: { field: "gsi2sk", composite: ["expiresAt", "secretId"] },
      },
    },
  },
  entityConfig,
);

/**
 * Claims a secret name in its tenant. Written and deleted in the same
 * transaction as the secret, so two creates (or renames) to one name cannot
 * both succeed. Keys are lower-cased, so names are unique regardless of case.
 */
export const SecretNameEntity = new Entity(
  {
    model: { entity: "secret_name", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      nameKey: { type: "string", required: true, readOnly: true },
      secretId: { type: "string", required: true, readOnly: true },
    },
    indexes: {
      byName: {
        pk: { field: "pk", composite: ["tenantId", "nameKey"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type SecretItem = EntityItem<typeof SecretEntity>;
