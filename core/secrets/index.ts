/**
 * The secrets vault: credentials a tenant gives Flint, kept encrypted at rest
 * (see ./seal) and never logged, returned or put in an error.
 *
 * Admins manage a tenant's secrets (name, category, optional expiry, value).
 * Answers carry the value masked; an admin's explicit reveal opens it and is
 * recorded in the audit trail as `secret.reveal` (without the value). Other
 * modules read a value with `resolve`, as the tenant's job or user. Names are
 * unique per tenant, regardless of case, through a claim item written in the
 * same transaction as the secret.
 */
export * as Secrets from "./index";
export { seal, open } from "./seal";

import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { Audit } from "../audit";
import { Cursor } from "../cursor";
import { conflict, isConditionalFailure, notFound } from "../error";
import { fn } from "../fn";
import { createId } from "../id";
import { Table } from "../table";
import { NEVER, SECRET_CATEGORIES, SecretEntity, SecretNameEntity, type SecretItem } from "./entity";
import { open, seal } from "./seal";

/** What every answer shows instead of the value, unless an admin reveals it. */
export const MASK = "********";
export const MAX_NAME_LENGTH = 128;
export const MAX_VALUE_LENGTH = 16_384;
export const MAX_EXPIRING_DAYS = 3650;
const DAY_MS = 24 * 60 * 60 * 1000;

export const Category = z.enum(SECRET_CATEGORIES);
export type Category = z.infer<typeof Category>;

export const SecretId = z.string().min(1).max(64);

export const Name = z
  .string()
  .trim()
  .min(1, "name must not be empty")
  .max(MAX_NAME_LENGTH, `name must be at most ${MAX_NAME_LENGTH} characters`)
  .refine((name) => !/[\p{Cc}\p{Cf}]/u.test(name), "name must not contain control or format characters");

export const Value = z
  .string()
  .min(1, "value must not be empty")
  .max(MAX_VALUE_LENGTH, `value must be at most ${MAX_VALUE_LENGTH} characters`);

export const ExpiresAt = z.iso.datetime({ offset: true, error: "expires_at must be an ISO 8601 date-time, e.g. 2030-01-31T00:00:00Z" });

/** `days` of the expiring list (a query string, so coerced). */
export const Days = z.coerce
  .number()
  .int("days must be a whole number")
  .min(1, "days must be at least 1")
  .max(MAX_EXPIRING_DAYS, `days must be at most ${MAX_EXPIRING_DAYS}`);

const Page = z.object({
  limit: z.number().int().min(1).max(100).default(50),
  cursor: Cursor.Param.optional(),
});

/** The public shape of a secret; `value` is MASK unless revealed. */
export const Info = z.object({
  id: z.string(),
  name: z.string(),
  category: Category,
  value: z.string(),
  version: z.number().int(),
  expires_at: z.string().nullable(),
  expired: z.boolean(),
  created_at: z.string(),
  created_by: z.string().nullable(),
  updated_at: z.string(),
  rotated_at: z.string().nullable(),
  last_revealed_at: z.string().nullable(),
});
export type Info = z.infer<typeof Info>;

/** A secret as the API shows it: `value` is MASK unless the caller passes the opened value; `expired` is as of `now`. */
export function serialize(item: SecretItem, value: string = MASK, now = Date.now()): Info {
  const expiresAt = item.expiresAt === NEVER ? null : item.expiresAt;
  return {
    id: item.secretId,
    name: item.name,
    category: item.category,
    value,
    version: item.version,
    expires_at: expiresAt,
    expired: expiresAt !== null && Date.parse(expiresAt) <= now,
    created_at: item.createdAt,
    created_by: item.createdBy ?? null,
    updated_at: item.updatedAt,
    rotated_at: item.rotatedAt ?? null,
    last_revealed_at: item.lastRevealedAt ?? null,
  };
}

/** The seal context: a sealed value opens only for its own tenant and secret. */
const sealContext = (tenantId: string, secretId: string) => `secret:${tenantId}:${secretId}`;
const nameKey = (name: string) => name.normalize("NFC").toLowerCase();
const expiryOf = (expiresAt: string | null | undefined) => (expiresAt ? new Date(expiresAt).toISOString() : NEVER);
const nameTaken = (name: string) => conflict("secret.name_taken", "A secret with this name already exists", { name });

async function find(tenantId: string, secretId: string): Promise<SecretItem> {
  const result = await SecretEntity.get({ tenantId, secretId }).go({ consistent: true });
  if (!result.data) throw notFound("secret", secretId);
  return result.data;
}

interface TransactionResult {
  canceled: boolean;
  data: { code?: string }[];
}

const TRANSACTION_ATTEMPTS = 5;

/**
 * Runs a write transaction, again (after a short random pause) while DynamoDB
 * refuses it only because another transaction touches the same items; a
 * failed condition is the caller's to read.
 */
async function transact(write: () => Promise<TransactionResult>): Promise<TransactionResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await write();
    const codes = result.data.map((item) => item.code);
    const onlyContended = codes.includes("TransactionConflict") && !codes.includes("ConditionalCheckFailed");
    if (!result.canceled || !onlyContended || attempt === TRANSACTION_ATTEMPTS) return result;
    await sleep(10 * attempt + Math.random() * 40);
  }
}

const refused = (result: TransactionResult, index: number) => result.data[index]?.code === "ConditionalCheckFailed";

export const CreateInput = z.object({
  name: Name,
  value: Value,
  category: Category,
  expires_at: ExpiresAt.nullish(),
});
export type CreateInput = z.input<typeof CreateInput>;

/**
 * Stores a secret for the calling tenant, its value sealed. The answer masks the value.
 * @throws request.invalid (details.issues), secret.name_taken (conflict), auth.forbidden (admins only)
 * @example await Secrets.create({ name: "historian", value: "s3cr3t", category: "password" })
 */
export const create = fn(CreateInput, async (input): Promise<Info> => {
  assertRole("admin");
  const tenantId = useTenant();
  const actor = useActor();
  const secretId = createId("sec");
  const sealed = await seal(input.value, sealContext(tenantId, secretId));
  const result = await transact(() =>
    Table.transaction
      .write(({ secret, secretName }) => [
        secretName.create({ tenantId, nameKey: nameKey(input.name), secretId }).commit(),
        secret
          .create({
            tenantId,
            secretId,
            name: input.name,
            category: input.category,
            sealed,
            version: 1,
            expiresAt: expiryOf(input.expires_at),
            createdBy: actor.type === "user" ? actor.userId : undefined,
          })
          .commit(),
      ])
      .go(),
  );
  if (result.canceled) {
    if (refused(result, 0)) throw nameTaken(input.name);
    throw conflict("secret.conflict", "The secret could not be created, try again");
  }
  return serialize(await find(tenantId, secretId));
});

export const ListInput = Page.extend({ category: Category.optional() });

/**
 * The calling tenant's secrets (of one category when given), newest first, values masked.
 * @throws request.invalid_cursor, auth.forbidden (admins only)
 */
export const list = fn(ListInput, async ({ category, limit, cursor }): Promise<{ items: Info[]; cursor: string | null }> => {
  assertRole("admin");
  const tenantId = useTenant();
  const query = category ? SecretEntity.query.byCategory({ tenantId, category }) : SecretEntity.query.byTenant({ tenantId });
  const result = await Cursor.page(query, { order: "desc", limit, cursor });
  const now = Date.now();
  return { items: result.data.map((item) => serialize(item, MASK, now)), cursor: result.cursor ?? null };
});

export const ExpiringInput = Page.extend({ days: Days.default(30) });

/**
 * The calling tenant's secrets whose expiry is at most `days` from now,
 * soonest first; the already expired come first, marked `expired`.
 * @throws request.invalid, request.invalid_cursor, auth.forbidden (admins only)
 */
export const expiring = fn(ExpiringInput, async ({ days, limit, cursor }): Promise<{ items: Info[]; cursor: string | null }> => {
  assertRole("admin");
  const tenantId = useTenant();
  const now = Date.now();
  const cutoff = new Date(now + days * DAY_MS).toISOString();
  // "~" sorts after the secret id that follows the expiry in the key, so a secret due exactly at the cutoff is in.
  const query = SecretEntity.query.byExpiry({ tenantId }).between({ expiresAt: "0000" }, { expiresAt: `${cutoff}~` });
  const result = await Cursor.page(query, { order: "asc", limit, cursor });
  return { items: result.data.map((item) => serialize(item, MASK, now)), cursor: result.cursor ?? null };
});

/**
 * A secret of the calling tenant, value masked; another tenant's id is not found.
 * @throws secret.not_found, auth.forbidden (admins only)
 */
export const get = fn(SecretId, async (secretId): Promise<Info> => {
  assertRole("admin");
  return serialize(await find(useTenant(), secretId));
});

/**
 * A secret with its value, for an admin who asks for it. Each reveal sets
 * `last_revealed_at` and appends a `secret.reveal` audit entry (never the value).
 * @throws secret.not_found, auth.forbidden (admins only)
 */
export const reveal = fn(SecretId, async (secretId): Promise<Info> => {
  assertRole("admin");
  const tenantId = useTenant();
  const item = await find(tenantId, secretId);
  const value = await open(item.sealed, sealContext(tenantId, secretId));
  const lastRevealedAt = new Date().toISOString();
  try {
    await SecretEntity.patch({ tenantId, secretId }).set({ lastRevealedAt }).go();
  } catch (error) {
    if (isConditionalFailure(error)) throw notFound("secret", secretId);
    throw error;
  }
  await Audit.record({
    action: "secret.reveal",
    result: "success",
    severity: "warning",
    resourceType: "secret",
    resourceId: secretId,
    details: { name: item.name, version: item.version },
  });
  return serialize({ ...item, lastRevealedAt }, value);
});

/**
 * The plaintext of the calling tenant's secret, for other core modules (a
 * job runs as the system actor of the tenant, so there is no role check).
 * Not audited as a reveal: nothing leaves the platform.
 * @throws secret.not_found (also for another tenant's secret)
 * @example const password = await Secrets.resolve(spec.secret_id);
 */
export const resolve = fn(SecretId, async (secretId): Promise<string> => {
  const tenantId = useTenant();
  const item = await find(tenantId, secretId);
  return open(item.sealed, sealContext(tenantId, secretId));
});

export const UpdateFields = z
  .object({ name: Name, category: Category, expires_at: ExpiresAt.nullable(), value: Value })
  .partial();

export const UpdateInput = UpdateFields.extend({ id: SecretId }).refine(
  ({ id: _id, ...changes }) => Object.values(changes).some((change) => change !== undefined),
  "Nothing to update: give name, category, expires_at or value",
);
export type UpdateInput = z.input<typeof UpdateInput>;

/**
 * Changes a secret's name, category, expiry (null: never expires) or value.
 * A new value replaces the old one for good and bumps `version`; `rotate`
 * is the same for the value alone and also sets `rotated_at`.
 * @throws request.invalid, secret.not_found, secret.name_taken, auth.forbidden (admins only)
 */
export const update = fn(UpdateInput, async ({ id: secretId, name, category, expires_at, value }): Promise<Info> => {
  assertRole("admin");
  const tenantId = useTenant();
  const sealed = value === undefined ? undefined : await seal(value, sealContext(tenantId, secretId));
  const changes = {
    ...(name === undefined ? {} : { name }),
    ...(category === undefined ? {} : { category }),
    ...(expires_at === undefined ? {} : { expiresAt: expiryOf(expires_at) }),
    ...(sealed === undefined ? {} : { sealed }),
    updatedAt: new Date().toISOString(),
  };
  // A new value is a new version; add({}) changes nothing.
  const bump = sealed === undefined ? {} : { version: 1 };
  for (let attempt = 1; attempt <= TRANSACTION_ATTEMPTS; attempt++) {
    const current = await find(tenantId, secretId);
    if (name === undefined || nameKey(name) === nameKey(current.name)) {
      try {
        const updated = await SecretEntity.patch({ tenantId, secretId }).set(changes).add(bump).go({ response: "all_new" });
        return serialize(updated.data as SecretItem);
      } catch (error) {
        if (isConditionalFailure(error)) throw notFound("secret", secretId);
        throw error;
      }
    }
    // A rename moves the name claim in the same transaction, from the claim this secret still holds.
    const result = await transact(() =>
      Table.transaction
        .write(({ secret, secretName }) => [
          secretName.create({ tenantId, nameKey: nameKey(name), secretId }).commit(),
          secretName
            .delete({ tenantId, nameKey: nameKey(current.name) })
            .where((a, op) => op.eq(a.secretId, secretId))
            .commit(),
          secret.patch({ tenantId, secretId }).set(changes).add(bump).commit(),
        ])
        .go(),
    );
    if (!result.canceled) return serialize(await find(tenantId, secretId));
    if (refused(result, 0)) throw nameTaken(name);
    // Renamed or deleted meanwhile: read it again.
  }
  throw conflict("secret.conflict", "The secret changed meanwhile, try again");
});

export const RotateFields = z.object({ value: Value });
export const RotateInput = RotateFields.extend({ id: SecretId });
export type RotateInput = z.input<typeof RotateInput>;

/**
 * Replaces a secret's value: the old one is gone, `version` goes up by one
 * and `rotated_at` is now.
 * @throws request.invalid, secret.not_found, auth.forbidden (admins only)
 */
export const rotate = fn(RotateInput, async ({ id: secretId, value }): Promise<Info> => {
  assertRole("admin");
  const tenantId = useTenant();
  const sealed = await seal(value, sealContext(tenantId, secretId));
  const now = new Date().toISOString();
  try {
    const updated = await SecretEntity.patch({ tenantId, secretId })
      .set({ sealed, rotatedAt: now, updatedAt: now })
      .add({ version: 1 })
      .go({ response: "all_new" });
    return serialize(updated.data as SecretItem);
  } catch (error) {
    if (isConditionalFailure(error)) throw notFound("secret", secretId);
    throw error;
  }
});

/**
 * Deletes a secret and frees its name.
 * @throws secret.not_found, auth.forbidden (admins only)
 */
export const remove = fn(SecretId, async (secretId): Promise<void> => {
  assertRole("admin");
  const tenantId = useTenant();
  for (let attempt = 1; attempt <= TRANSACTION_ATTEMPTS; attempt++) {
    const current = await find(tenantId, secretId);
    const result = await transact(() =>
      Table.transaction
        .write(({ secret, secretName }) => [
          secret
            .delete({ tenantId, secretId })
            .where((a, op) => op.exists(a.secretId))
            .commit(),
          secretName
            .delete({ tenantId, nameKey: nameKey(current.name) })
            .where((a, op) => op.eq(a.secretId, secretId))
            .commit(),
        ])
        .go(),
    );
    if (!result.canceled) return;
    if (refused(result, 0)) throw notFound("secret", secretId);
    // Renamed meanwhile: read it again.
  }
  throw conflict("secret.conflict", "The secret changed meanwhile, try again");
});
