/**
 * Saved connections: a tenant's source, its non-secret settings, the vault
 * secrets holding its credentials, and where its last sync got to.
 */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const ConnectionEntity = new Entity(
  {
    model: { entity: "connection", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      connectionId: { type: "string", required: true, readOnly: true },
      name: { type: "string", required: true },
      sourceType: { type: "string", required: true },
      /** The spec without its credentials (JSON of the connect request's fields). */
      settings: { type: "any", required: true },
      /** Credential field → vault secret id (core/secrets). */
      secretRefs: { type: "any", required: true },
      /** Secrets this connection created (and deletes with itself), as opposed to ones it was given. */
      ownedSecrets: { type: "list", items: { type: "string" } },
      syncEveryMinutes: { type: "number" },
      nextSyncAt: { type: "string" },
      /** The newest version; a sync starts after the newest row of the newest version that became ready. */
      lastDatasetId: { type: "string" },
      lastVersion: { type: "number" },
      lastSyncAt: { type: "string" },
      lastSyncError: { type: "string" },
      createdBy: { type: "string", required: true },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: { type: "string", required: true, watch: "*", default: () => new Date().toISOString(), set: () => new Date().toISOString() },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["tenantId", "connectionId"] },
        sk: { field: "sk", composite: [] },
      },
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["connectionId"] },
      },
    },
  },
  entityConfig,
);

export type ConnectionItem = EntityItem<typeof ConnectionEntity>;

/**
 * One marker per scheduled connection in one partition ordered by when it is
 * due, so the sync schedule finds due connections with a Query.
 */
export const SyncScheduleEntity = new Entity(
  {
    model: { entity: "connection_sync_due", version: "1", service: "flint" },
    attributes: {
      dueAt: { type: "string", required: true },
      tenantId: { type: "string", required: true },
      connectionId: { type: "string", required: true },
    },
    indexes: {
      byDue: {
        pk: { field: "pk", composite: [] },
        sk: { field: "sk", composite: ["dueAt", "tenantId", "connectionId"] },
      },
    },
  },
  entityConfig,
);

/**
 * A gateway upload key: one stream of one tenant, the secret kept as its
 * SHA-256 (the key is 32 random bytes, so a fast hash is enough). Looked up
 * by its id, which the key carries.
 */
export const UploadKeyEntity = new Entity(
  {
    model: { entity: "upload_key", version: "1", service: "flint" },
    attributes: {
      keyId: { type: "string", required: true, readOnly: true },
      tenantId: { type: "string", required: true, readOnly: true },
      stream: { type: "string", required: true, readOnly: true },
      name: { type: "string" },
      secretHash: { type: "string", required: true, readOnly: true },
      createdBy: { type: "string", required: true },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      lastUsedAt: { type: "string" },
      revokedAt: { type: "string" },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["keyId"] },
        sk: { field: "sk", composite: [] },
      },
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["keyId"] },
      },
    },
  },
  entityConfig,
);

export type UploadKeyItem = EntityItem<typeof UploadKeyEntity>;
