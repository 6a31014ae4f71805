/**
 * The gateway upload API (seed 000 "Upload API"): building-management and
 * SCADA gateways push rows with an upload key in `X-Upload-Auth`. A tenant
 * admin creates a key for one stream (shown once, stored hashed) and revokes
 * it; a push appends rows to the stream (buffered like controller telemetry),
 * and `source_type: "upload_stream"` cuts a time range of it into a dataset,
 * once or as a saved connection's syncs.
 */
export * as Uploads from "./uploads";

import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { hashSecret } from "../auth/token";
import { DomainError, notFound } from "../error";
import { fn } from "../fn";
import { createId, createSecret } from "../id";
import { UploadKeyEntity, type UploadKeyItem } from "./entity";
import { Collection, openBuffered, storeRows, type RowsBody } from "./telemetry";
import type { TimeRange } from "./spec";
import type { SourceRows } from "./rows";

const KEY_PREFIX = "fup";

export const Stream = Collection;

export const KeyInfo = z.object({
  id: z.string(),
  stream: z.string(),
  name: z.string().nullable(),
  created_at: z.string(),
  created_by: z.string(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
export type KeyInfo = z.infer<typeof KeyInfo>;

function serialize(item: UploadKeyItem): KeyInfo {
  return {
    id: item.keyId,
    stream: item.stream,
    name: item.name ?? null,
    created_at: item.createdAt,
    created_by: item.createdBy,
    last_used_at: item.lastUsedAt ?? null,
    revoked_at: item.revokedAt ?? null,
  };
}

export const CreateKeyInput = z.object({ stream: Stream, name: z.string().trim().min(1).max(200).optional() });

/** A key for one stream (admin); the key itself is in this answer only. */
export const createKey = fn(CreateKeyInput, async (input): Promise<KeyInfo & { key: string }> => {
  assertRole("admin");
  const actor = useActor();
  const keyId = createId("upk");
  const secret = createSecret(32);
  const item = await UploadKeyEntity.create({
    keyId,
    tenantId: useTenant(),
    stream: input.stream,
    name: input.name,
    secretHash: hashSecret(secret),
    createdBy: actor.type === "user" ? actor.username : "system",
  }).go();
  return { ...serialize(item.data), key: `${KEY_PREFIX}.${keyId}.${secret}` };
});

export const listKeys = fn(z.object({}).optional(), async (): Promise<KeyInfo[]> => {
  assertRole("admin");
  const result = await UploadKeyEntity.query.byTenant({ tenantId: useTenant() }).go({ pages: "all" });
  return result.data.map(serialize).reverse();
});

/** Revokes a key (admin): it stops working at once; the stream's rows stay. */
export const revokeKey = fn(z.string().min(1).max(64), async (keyId): Promise<KeyInfo> => {
  assertRole("admin");
  const found = await UploadKeyEntity.get({ keyId }).go();
  if (!found.data || found.data.tenantId !== useTenant()) throw notFound("upload_key", keyId);
  const revoked = await UploadKeyEntity.patch({ keyId }).set({ revokedAt: found.data.revokedAt ?? new Date().toISOString() }).go({ response: "all_new" });
  return serialize(revoked.data as UploadKeyItem);
});

const invalidKey = () => new DomainError("unauthorized", "upload.invalid_key", "Invalid or revoked upload key (X-Upload-Auth)");

/** The key an `X-Upload-Auth` header holds; any malformed, unknown, wrong or revoked key gives the same 401. */
async function keyOf(header: string | undefined): Promise<UploadKeyItem> {
  const parts = (header ?? "").trim().split(".");
  const [prefix, keyId, secret] = parts;
  if (parts.length !== 3 || prefix !== KEY_PREFIX || !keyId || !secret || keyId.length > 64 || secret.length > 128) throw invalidKey();
  const found = await UploadKeyEntity.get({ keyId }).go();
  const item = found.data;
  if (!item || item.revokedAt) throw invalidKey();
  const expected = Buffer.from(item.secretHash, "hex");
  const actual = Buffer.from(hashSecret(secret), "hex");
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalidKey();
  return item;
}

export function streamPrefix(tenantId: string, stream: string): string {
  return `tenants/${tenantId}/streams/${stream}/`;
}

/**
 * A gateway's push (POST /upload/batch): rows appended to the key's stream.
 * @throws upload.invalid_key (401), telemetry.* (400), request.too_large (413)
 */
export async function pushBatch(input: RowsBody & { uploadAuth: string | undefined }): Promise<{ stream: string; rows: number; time_range: TimeRange }> {
  const key = await keyOf(input.uploadAuth);
  const stored = await storeRows(streamPrefix(key.tenantId, key.stream), input);
  await UploadKeyEntity.patch({ keyId: key.keyId }).set({ lastUsedAt: new Date().toISOString() }).go().catch(() => undefined);
  return { stream: key.stream, ...stored };
}

/** The rows of one of the calling tenant's streams within the time range. */
export function openStream(tenantId: string, spec: { stream: string; time_range?: TimeRange }): Promise<SourceRows> {
  return openBuffered(streamPrefix(tenantId, spec.stream), spec.time_range);
}
