/**
 * The dataset record. The tenant is part of the partition key, so a dataset id
 * of another tenant finds nothing. The tenant's datasets are listed newest
 * first from gsi1 (dataset ids are ULIDs, so they sort by creation time).
 */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig } from "../db";

export const EQUIPMENT_TYPES = ["air_handler", "boiler", "pump", "chiller", "fan_coil", "steam"] as const;
export type EquipmentType = (typeof EQUIPMENT_TYPES)[number];

export const STATUSES = ["pending_upload", "processing", "ready", "failed"] as const;
export type Status = (typeof STATUSES)[number];

export const DatasetEntity = new Entity(
  {
    model: { entity: "dataset", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      datasetId: { type: "string", required: true, readOnly: true },
      name: { type: "string", required: true },
      equipmentType: { type: EQUIPMENT_TYPES, required: true },
      location: { type: "string" },
      unit: { type: "string" },
      source: { type: "string", required: true, default: "csv_upload" },
      /** How the file arrived: a direct upload, a presigned PUT, or an import from a connected source (core/connector). */
      uploadMethod: { type: ["multipart", "presigned", "import"] as const, required: true },
      status: { type: STATUSES, required: true },
      failureCode: { type: "string" },
      failureReason: { type: "string" },
      /** Where the raw upload lands: uploads/<tenant>/<dataset>/source.csv. */
      sourceKey: { type: "string", required: true },
      /** A dataset synced from a saved connection: the connection, its version number and the version before it. */
      connectionId: { type: "string" },
      versionNumber: { type: "number" },
      previousVersionId: { type: "string" },
      /** An import's source spec, sealed (credentials included); removed when the import ends. */
      importSpec: { type: "string" },
      /** Size the client announced for a presigned upload. */
      declaredSizeBytes: { type: "number" },
      uploadExpiresAt: { type: "string" },
      /** The ingest attempt that currently owns the dataset, and until when. */
      leaseId: { type: "string" },
      leaseUntil: { type: "number" },
      /** Everything the ingest learned about the file (core/dataset/analyze.ts Profile). */
      profile: { type: "any" },
      columnarPrefix: { type: "string" },
      chunkCount: { type: "number" },
      /** Bytes of the zstd-compressed columnar copy. */
      columnarBytes: { type: "number" },
      isValidated: { type: "boolean", required: true, default: false },
      locked: { type: "boolean", required: true, default: false },
      validatedAt: { type: "string" },
      lastValidation: { type: "any" },
      createdBy: { type: "string", required: true },
      createdAt: { type: "string", required: true, readOnly: true, default: () => new Date().toISOString() },
      updatedAt: {
        type: "string",
        required: true,
        watch: "*",
        default: () => new Date().toISOString(),
        set: () => new Date().toISOString(),
      },
      /** Set when an expired presigned upload gave its max_datasets slot back (see ./slots). */
      slotReleased: { type: "boolean" },
      /** TTL: a presigned dataset whose file never arrives disappears. Removed once the file arrives. */
      expires_at: { type: "number" },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["tenantId", "datasetId"] },
        sk: { field: "sk", composite: [] },
      },
      byTenant: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["tenantId"] },
        sk: { field: "gsi1sk", composite: ["datasetId"] },
      },
    },
  },
  entityConfig,
);

export type DatasetItem = EntityItem<typeof DatasetEntity>;

/**
 * One marker per presigned upload that has not arrived yet, all in one
 * partition ordered by expiry, so the retention sweep finds abandoned uploads
 * with a Query. Created with the dataset, deleted when the file arrives or
 * the dataset goes away; its TTL cleans up after the sweep on AWS.
 */
export const PendingUploadEntity = new Entity(
  {
    model: { entity: "dataset_pending_upload", version: "1", service: "flint" },
    attributes: {
      uploadExpiresAt: { type: "string", required: true },
      tenantId: { type: "string", required: true },
      datasetId: { type: "string", required: true },
      expires_at: { type: "number" },
    },
    indexes: {
      byExpiry: {
        pk: { field: "pk", composite: [] },
        sk: { field: "sk", composite: ["uploadExpiresAt", "tenantId", "datasetId"] },
      },
    },
  },
  entityConfig,
);
