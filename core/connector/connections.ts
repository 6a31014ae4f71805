/**
 * Saved connections: a source a tenant imports from again and again. Its
 * credentials live in the secrets vault (given inline they become vault
 * secrets the connection owns; `secret:<id>` names an existing one), its other
 * settings on the record. A sync imports only the rows newer than the last
 * version's newest row, as a new dataset version linked to the one before; a
 * connection with `sync_every_minutes` is synced by the schedule.
 *
 * Roles: admins create, change and delete connections (they hold
 * credentials); operators test and sync them; everyone in the tenant reads
 * them, credentials masked.
 */
export * as Connections from "./connections";

import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { Cursor } from "../cursor";
import { Dataset } from "../dataset";
import { conflict, DomainError, invalid, notFound } from "../error";
import { fn, parse } from "../fn";
import { createId } from "../id";
import { enqueue } from "../queue";
import { Secrets } from "../secrets";
import { ConnectionEntity, SyncScheduleEntity, type ConnectionItem } from "./entity";
import { probe, startImport, type Since } from "./index";
import { ConnectInput, SECRET_FIELDS, SOURCE_TYPES, sourceTypeOf, type Spec } from "./spec";

export const MIN_SYNC_MINUTES = 15;
export const MAX_SYNC_MINUTES = 7 * 24 * 60;
const MASK = "********";
const SECRET_REFERENCE = /^secret:(sec_[a-z0-9]+)$/;

type SecretField = (typeof SECRET_FIELDS)[number];

const CATEGORY: Record<SecretField, "database" | "api_key" | "token" | "password"> = {
  connection_string: "database",
  api_key: "api_key",
  token: "token",
  auth_token: "token",
  password: "password",
};

export const SyncEvery = z
  .number()
  .int()
  .min(MIN_SYNC_MINUTES, `sync_every_minutes must be at least ${MIN_SYNC_MINUTES}`)
  .max(MAX_SYNC_MINUTES, `sync_every_minutes must be at most ${MAX_SYNC_MINUTES}`)
  .nullable();

export const Info = z.object({
  id: z.string(),
  name: z.string(),
  source_type: z.enum(SOURCE_TYPES),
  /** The connect request's fields, credentials shown as ******** (their vault secrets are in `secrets`). */
  settings: z.record(z.string(), z.unknown()),
  secrets: z.record(z.string(), z.string()),
  sync_every_minutes: z.number().nullable(),
  next_sync_at: z.string().nullable(),
  last_dataset_id: z.string().nullable(),
  last_version: z.number(),
  last_sync_at: z.string().nullable(),
  last_sync_error: z.string().nullable(),
  created_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
});
export type Info = z.infer<typeof Info>;

function serialize(item: ConnectionItem): Info {
  const settings = { ...(item.settings as Record<string, unknown>) };
  for (const field of Object.keys(item.secretRefs as Record<string, string>)) settings[field] = MASK;
  return {
    id: item.connectionId,
    name: item.name,
    source_type: item.sourceType as Info["source_type"],
    settings,
    secrets: item.secretRefs as Record<string, string>,
    sync_every_minutes: item.syncEveryMinutes ?? null,
    next_sync_at: item.nextSyncAt ?? null,
    last_dataset_id: item.lastDatasetId ?? null,
    last_version: item.lastVersion ?? 0,
    last_sync_at: item.lastSyncAt ?? null,
    last_sync_error: item.lastSyncError ?? null,
    created_at: item.createdAt,
    created_by: item.createdBy,
    updated_at: item.updatedAt,
  };
}

async function find(connectionId: string): Promise<ConnectionItem> {
  const result = await ConnectionEntity.get({ tenantId: useTenant(), connectionId }).go({ consistent: true });
  if (!result.data) throw notFound("connection", connectionId);
  return result.data;
}

/** The settings without credentials, and the credentials as vault secrets (created for inline values). */
async function store(spec: Spec, given: Record<string, unknown>): Promise<{ settings: Record<string, unknown>; secretRefs: Record<string, string>; owned: string[] }> {
  const settings: Record<string, unknown> = { ...spec };
  const secretRefs: Record<string, string> = {};
  const owned: string[] = [];
  try {
    for (const field of SECRET_FIELDS) {
      const value = given[field];
      if (typeof value !== "string") continue;
      delete settings[field];
      const reference = SECRET_REFERENCE.exec(value);
      if (reference) {
        secretRefs[field] = reference[1]!;
        continue;
      }
      const secret = await Secrets.create({ name: `connection ${spec.name}: ${field} (${createId("v").slice(-6)})`, value, category: CATEGORY[field] });
      secretRefs[field] = secret.id;
      owned.push(secret.id);
    }
  } catch (error) {
    for (const id of owned) await Secrets.remove(id).catch(() => undefined);
    throw error;
  }
  return { settings, secretRefs, owned };
}

/** The whole spec again, credentials read from the vault. */
async function specOf(item: ConnectionItem): Promise<Spec> {
  const full: Record<string, unknown> = { ...(item.settings as Record<string, unknown>) };
  for (const [field, secretId] of Object.entries(item.secretRefs as Record<string, string>)) {
    try {
      full[field] = await Secrets.resolve(secretId);
    } catch (error) {
      if (error instanceof DomainError && error.kind === "not_found") {
        throw invalid("connection.secret_missing", `The vault secret for ${field} no longer exists; update the connection`, { field, secret_id: secretId });
      }
      throw error;
    }
  }
  return parse(ConnectInput, full);
}

/** A connect request where `secret:<id>` stands for a credential: checked as the spec it will become. */
function parseSpec(input: Record<string, unknown>): Spec {
  const resolvedShape: Record<string, unknown> = { ...input, source_type: sourceTypeOf(input) };
  for (const field of SECRET_FIELDS) {
    const value = resolvedShape[field];
    // A reference stands in for a value of the right shape; the real one is checked when it is used.
    if (typeof value === "string" && SECRET_REFERENCE.test(value)) resolvedShape[field] = field === "connection_string" ? placeholderConnectionString(input) : "x";
  }
  return parse(ConnectInput, resolvedShape);
}

function placeholderConnectionString(input: Record<string, unknown>): string {
  return input.source_type === "tidb" ? "mysql://x@localhost/x" : input.source_type === "sqlite" ? "x.db" : "postgresql://x@localhost/x";
}

const CreateInput = z.looseObject({ sync_every_minutes: SyncEvery.optional() });

function nextSync(minutes: number | null | undefined, from = Date.now()): string | undefined {
  return minutes ? new Date(from + minutes * 60_000).toISOString() : undefined;
}

/**
 * Saves a connection (admin). The body is a POST /datasets/connect body
 * (`name` names the connection and its datasets), plus `sync_every_minutes`.
 * @throws request.invalid / connector.unsupported_source (400), secret.name_taken (409), auth.forbidden (403)
 */
export const create = fn(CreateInput, async (input): Promise<Info> => {
  assertRole("admin");
  const { sync_every_minutes: every, ...given } = input;
  const spec = parseSpec(given);
  const { settings, secretRefs, owned } = await store(spec, given);
  const tenantId = useTenant();
  const connectionId = createId("conn");
  const actor = useActor();
  const nextSyncAt = nextSync(every);
  await ConnectionEntity.create({
    tenantId,
    connectionId,
    name: spec.name,
    sourceType: spec.source_type,
    settings,
    secretRefs,
    ownedSecrets: owned,
    syncEveryMinutes: every ?? undefined,
    nextSyncAt,
    createdBy: actor.type === "user" ? actor.username : "system",
  }).go();
  if (nextSyncAt) await SyncScheduleEntity.create({ dueAt: nextSyncAt, tenantId, connectionId }).go();
  return get(connectionId);
});

export const get = fn(z.string().min(1).max(64), async (connectionId): Promise<Info> => serialize(await find(connectionId)));

export const ListInput = z.object({ limit: z.number().int().min(1).max(100).default(50), cursor: Cursor.Param.optional() });

export const list = fn(ListInput, async ({ limit, cursor }): Promise<{ data: Info[]; cursor: string | null }> => {
  const page = await Cursor.page(ConnectionEntity.query.byTenant({ tenantId: useTenant() }), { cursor: cursor ?? null, limit, order: "desc" });
  return { data: page.data.map(serialize), cursor: page.cursor };
});

const UpdateInput = z.object({ id: z.string().min(1).max(64), changes: z.looseObject({ sync_every_minutes: SyncEvery.optional() }) });

/**
 * Changes a connection (admin): any connect fields (credentials given again
 * replace the vault secrets this connection owned) and `sync_every_minutes`
 * (null stops the schedule).
 */
export const update = fn(UpdateInput, async ({ id, changes }): Promise<Info> => {
  assertRole("admin");
  const item = await find(id);
  const { sync_every_minutes: every, ...fields } = changes;
  let settings = item.settings as Record<string, unknown>;
  let secretRefs = item.secretRefs as Record<string, string>;
  let owned = item.ownedSecrets ?? [];
  const replaced: string[] = [];
  if (Object.keys(fields).length > 0) {
    if (fields.source_type !== undefined && fields.source_type !== item.sourceType) {
      throw invalid("connection.source_type_fixed", "A connection's source_type cannot change; create a new connection", { source_type: item.sourceType });
    }
    const merged = { ...settings, ...Object.fromEntries(Object.entries(secretRefs).map(([field, secretId]) => [field, `secret:${secretId}`])), ...fields };
    const spec = parseSpec(merged);
    const stored = await store(spec, merged);
    for (const [field, secretId] of Object.entries(secretRefs)) {
      if (stored.secretRefs[field] !== secretId && owned.includes(secretId)) replaced.push(secretId);
    }
    settings = stored.settings;
    secretRefs = stored.secretRefs;
    owned = [...owned.filter((secretId) => !replaced.includes(secretId)), ...stored.owned];
  }
  const minutes = every === undefined ? item.syncEveryMinutes : (every ?? undefined);
  const nextSyncAt = every === undefined ? item.nextSyncAt : nextSync(every);
  await ConnectionEntity.patch({ tenantId: item.tenantId, connectionId: id })
    .set({ name: String(settings.name ?? item.name), settings, secretRefs, ownedSecrets: owned, ...(minutes ? { syncEveryMinutes: minutes } : {}), ...(nextSyncAt ? { nextSyncAt } : {}) })
    .remove([...(minutes ? [] : (["syncEveryMinutes"] as const)), ...(nextSyncAt ? [] : (["nextSyncAt"] as const))])
    .go();
  if (nextSyncAt !== item.nextSyncAt) {
    if (item.nextSyncAt) await SyncScheduleEntity.delete({ dueAt: item.nextSyncAt, tenantId: item.tenantId, connectionId: id }).go();
    if (nextSyncAt) await SyncScheduleEntity.create({ dueAt: nextSyncAt, tenantId: item.tenantId, connectionId: id }).go();
  }
  for (const secretId of replaced) await Secrets.remove(secretId).catch(() => undefined);
  return get(id);
});

/** Deletes a connection (admin) and the vault secrets it created; its datasets stay. */
export const remove = fn(z.string().min(1).max(64), async (connectionId): Promise<void> => {
  assertRole("admin");
  const item = await find(connectionId);
  await ConnectionEntity.delete({ tenantId: item.tenantId, connectionId }).go();
  if (item.nextSyncAt) await SyncScheduleEntity.delete({ dueAt: item.nextSyncAt, tenantId: item.tenantId, connectionId }).go();
  for (const secretId of item.ownedSecrets ?? []) await Secrets.remove(secretId).catch(() => undefined);
});

/**
 * Checks the connection as POST /datasets/connect would (operator): connects,
 * reads its first rows, finds the time column and the numeric ones.
 */
export const test = fn(z.string().min(1).max(64), async (connectionId) => {
  assertRole("operator");
  const item = await find(connectionId);
  const started = performance.now();
  const shape = await probe(await specOf(item));
  return { ok: true as const, ...shape, latency_ms: Math.round(performance.now() - started) };
});

/**
 * Imports what is new at the source as the connection's next dataset version
 * (operator; the schedule runs it as the system). The first sync imports
 * everything; later ones only rows after the newest row of the newest version
 * that became ready (a failed version is passed over).
 * @returns the new version (`processing`), or `{ up_to_date: true }` when there is nothing new
 * @throws connection.sync_in_progress (409) while the last version is still importing
 */
export const sync = fn(z.string().min(1).max(64), async (connectionId): Promise<{ dataset: Dataset.Info } | { up_to_date: true; last_row_time: string }> => {
  assertRole("operator");
  const item = await find(connectionId);
  const spec = await specOf(item);
  const since = await sinceOf(item);
  try {
    await probe(spec, { since });
  } catch (error) {
    if (since && error instanceof DomainError && error.code === "connector.no_rows") {
      await ConnectionEntity.patch({ tenantId: item.tenantId, connectionId }).set({ lastSyncAt: new Date().toISOString() }).remove(["lastSyncError"]).go();
      return { up_to_date: true as const, last_row_time: since.after };
    }
    await ConnectionEntity.patch({ tenantId: item.tenantId, connectionId })
      .set({ lastSyncAt: new Date().toISOString(), lastSyncError: error instanceof DomainError ? `${error.code}: ${error.message}` : "sync failed" })
      .go();
    throw error;
  }
  const version = (item.lastVersion ?? 0) + 1;
  const dataset = await startImport(spec, { connectionId, version, previousVersionId: item.lastDatasetId, since });
  await ConnectionEntity.patch({ tenantId: item.tenantId, connectionId })
    .set({ lastVersion: version, lastDatasetId: dataset.id, lastSyncAt: new Date().toISOString() })
    .remove(["lastSyncError"])
    .go();
  return { dataset };
});

/** Where the next version starts: after the newest row of the newest ready version. */
async function sinceOf(item: ConnectionItem): Promise<Since | undefined> {
  let versionId = item.lastDatasetId;
  while (versionId) {
    let version: Dataset.Info;
    try {
      version = await Dataset.get(versionId);
    } catch (error) {
      if (error instanceof DomainError && error.kind === "not_found") return undefined;
      throw error;
    }
    if (version.status === "ready" && version.time_range && version.timestamp_column) {
      return { column: version.timestamp_column, after: version.time_range.end };
    }
    if (version.status === "processing" || version.status === "pending_upload") {
      throw conflict("connection.sync_in_progress", "The connection's last version is still being imported", { dataset_id: version.id });
    }
    versionId = version.connection?.previous_version_id ?? undefined;
  }
  return undefined;
}

/**
 * The schedule's run: every connection due by `now` gets a sync job on the
 * import queue and its next due time.
 * @returns how many syncs were queued
 */
export async function queueDueSyncs(now = new Date()): Promise<number> {
  const due = await SyncScheduleEntity.query.byDue({}).lte({ dueAt: now.toISOString() }).go({ pages: "all" });
  let queued = 0;
  for (const marker of due.data) {
    const found = await ConnectionEntity.get({ tenantId: marker.tenantId, connectionId: marker.connectionId }).go();
    await SyncScheduleEntity.delete(marker).go();
    const item = found.data;
    if (!item?.syncEveryMinutes) continue;
    const nextSyncAt = nextSync(item.syncEveryMinutes, now.getTime())!;
    await ConnectionEntity.patch({ tenantId: item.tenantId, connectionId: item.connectionId }).set({ nextSyncAt }).go();
    await SyncScheduleEntity.create({ dueAt: nextSyncAt, tenantId: item.tenantId, connectionId: item.connectionId }).go();
    await enqueue("import", { kind: "sync", tenant_id: item.tenantId, connection_id: item.connectionId });
    queued++;
  }
  return queued;
}
