/**
 * Users and their unique usernames and emails. A user belongs to exactly one
 * tenant with one role. Usernames and emails are unique platform-wide (login
 * is by username, verification and resets by email), enforced by claim items
 * written in the same transaction as the user.
 */
import { z } from "zod";
import { ROLES, type Role } from "../actor";
import { Cursor } from "../cursor";
import { conflict, invalid, isConditionalFailure } from "../error";
import { fn, parse } from "../fn";
import { createId } from "../id";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hashPassword } from "../credentials/password";
import { ResetTokenEntity, VerificationEntity } from "../credentials/records";
import { revokeUserSessions } from "../credentials/session";
import { Table } from "../table";
import { Tenant } from "../tenant";
import { EmailEntity, PreferencesEntity, PushTokenEntity, UserEntity, UsernameEntity, type Item } from "./entities";

export const USERNAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{2,31}$/;
export const Username = z
  .string()
  .regex(USERNAME_PATTERN, "username must be 3-32 characters: letters, digits, '_', '.', '-', starting with a letter or digit");
export const Email = z.string().trim().max(254).pipe(z.email("email must be a valid email address"));
export const Password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `password must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(MAX_PASSWORD_LENGTH, `password must be at most ${MAX_PASSWORD_LENGTH} characters`);
export const RoleSchema = z.enum(ROLES as [Role, ...Role[]]);

/** The public shape of a user. */
export const Info = z.object({
  id: z.string(),
  username: z.string(),
  email: z.string(),
  role: RoleSchema,
  tenant_id: z.string(),
  email_verified: z.boolean(),
  mfa_enabled: z.boolean(),
  superadmin: z.boolean(),
  created_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export function serialize(item: Item): Info {
  return {
    id: item.userId,
    username: item.username,
    email: item.email,
    role: item.role,
    tenant_id: item.tenantId,
    email_verified: item.emailVerified ?? false,
    mfa_enabled: item.mfaEnabled ?? false,
    superadmin: item.superadmin ?? false,
    created_at: item.createdAt ?? "",
  };
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const CreateInput = z.object({
  username: Username,
  email: Email,
  password: Password,
  role: RoleSchema,
  /** Join this tenant; a new tenant named after the user is created when absent. */
  tenantId: z.string().min(1).optional(),
  tenantName: z.string().min(1).max(100).optional(),
  emailVerified: z.boolean().default(false),
  superadmin: z.boolean().default(false),
});
export type CreateInput = z.input<typeof CreateInput>;

/**
 * Creates a user (and its tenant when no tenantId is given) atomically.
 * No actor check: callers (signup, admin, seeding) authorize first.
 * Throws request.invalid (details.issues) for input CreateInput refuses, and
 * auth.username_taken / auth.email_taken (invalid) when claimed.
 *
 * @example await User.create({ username: "ada", email: "ada@example.com", password: "…", role: "admin" })
 */
export const create = fn(CreateInput, async (input): Promise<Item> => {
  const usernameKey = input.username.toLowerCase();
  const emailKey = normalizeEmail(input.email);
  await assertAvailable(usernameKey, emailKey);

  const userId = createId("usr");
  const tenantId = input.tenantId ?? Tenant.newId();
  const passwordHash = await hashPassword(input.password);
  const result = await Table.transaction
    .write(({ user, username, email, tenant }) => [
      ...(input.tenantId
        ? [tenant.check({ tenantId }).where(({ tenantId: id }, { exists }) => exists(id)).commit()]
        : [tenant.create({ tenantId, name: input.tenantName ?? `${input.username}'s workspace`, createdBy: userId }).commit()]),
      username.create({ username: usernameKey, userId, tenantId }).commit(),
      email.create({ email: emailKey, userId }).commit(),
      user
        .create({
          userId,
          tenantId,
          username: input.username,
          email: emailKey,
          passwordHash,
          role: input.role,
          superadmin: input.superadmin,
          emailVerified: input.emailVerified,
          passwordChangedAt: new Date().toISOString(),
        })
        .commit(),
    ])
    .go();
  if (result.canceled) {
    const [tenantResult, usernameResult, emailResult] = result.data as { rejected: boolean }[];
    if (input.tenantId && tenantResult?.rejected) throw invalid("tenant.not_found", "Tenant not found", { id: tenantId });
    if (usernameResult?.rejected) throw usernameTaken();
    if (emailResult?.rejected) throw emailTaken();
    throw conflict("user.create_conflict", "The user could not be created, try again");
  }
  const created = await UserEntity.get({ userId }).go({ consistent: true });
  if (!created.data) throw conflict("user.create_conflict", "The user could not be created, try again");
  return created.data;
});

const usernameTaken = () => invalid("auth.username_taken", "Username is already taken");
const emailTaken = () => invalid("auth.email_taken", "An account with this email already exists");

async function assertAvailable(usernameKey: string, emailKey: string): Promise<void> {
  const [byName, byEmail] = await Promise.all([
    UsernameEntity.get({ username: usernameKey }).go(),
    EmailEntity.get({ email: emailKey }).go(),
  ]);
  if (byName.data) throw usernameTaken();
  if (byEmail.data) throw emailTaken();
}

export async function get(userId: string): Promise<Item | undefined> {
  const result = await UserEntity.get({ userId }).go({ consistent: true });
  return result.data ?? undefined;
}

/** Lookup by username, case-insensitive, across tenants (login). */
export async function fromUsername(username: string): Promise<Item | undefined> {
  if (!USERNAME_PATTERN.test(username)) return undefined;
  const claim = await UsernameEntity.get({ username: username.toLowerCase() }).go();
  return claim.data ? get(claim.data.userId) : undefined;
}

/** Lookup by email across tenants (verification, password reset). */
export async function fromEmail(email: string): Promise<Item | undefined> {
  const claim = await EmailEntity.get({ email: normalizeEmail(email) }).go();
  return claim.data ? get(claim.data.userId) : undefined;
}

/** A user of `tenantId` by username, or undefined (another tenant's user is not found). */
export async function inTenant(tenantId: string, username: string): Promise<Item | undefined> {
  const user = await fromUsername(username);
  return user && user.tenantId === tenantId ? user : undefined;
}

export async function listByTenant(
  tenantId: string,
  options: { limit?: number; cursor?: string | null } = {},
): Promise<{ items: Item[]; cursor: string | null }> {
  const result = await Cursor.page(UserEntity.query.byTenant({ tenantId }), { limit: options.limit ?? 100, cursor: options.cursor });
  return { items: result.data, cursor: result.cursor };
}

export async function listAll(options: { limit?: number; cursor?: string | null } = {}): Promise<{ items: Item[]; cursor: string | null }> {
  const result = await Cursor.page(UserEntity.query.all({}), { limit: options.limit ?? 100, cursor: options.cursor });
  return { items: result.data, cursor: result.cursor };
}

export async function countAdmins(tenantId: string): Promise<number> {
  const result = await UserEntity.query
    .byTenant({ tenantId })
    .where(({ role }, { eq }) => eq(role, "admin"))
    .go({ pages: "all", attributes: ["userId"] });
  return result.data.length;
}

export async function setPassword(userId: string, password: string): Promise<void> {
  const passwordHash = await hashPassword(parse(Password, password));
  await UserEntity.patch({ userId }).set({ passwordHash, passwordChangedAt: new Date().toISOString() }).go();
}

export async function markEmailVerified(userId: string): Promise<void> {
  await UserEntity.patch({ userId }).set({ emailVerified: true }).go();
}

/** Changes the email claim and the user's email atomically; the new address is unverified unless `verified`. */
export async function changeEmail(user: Item, email: string, verified: boolean): Promise<void> {
  const next = normalizeEmail(parse(Email, email));
  if (next === user.email) return;
  const result = await Table.transaction
    .write(({ user: users, email: emails }) => [
      emails.create({ email: next, userId: user.userId }).commit(),
      emails.delete({ email: user.email }).commit(),
      users
        .patch({ userId: user.userId })
        .set({ email: next, emailVerified: verified })
        .commit(),
    ])
    .go();
  if (result.canceled) {
    if (result.data[0]?.rejected) throw emailTaken();
    throw conflict("user.update_conflict", "The user changed meanwhile, try again");
  }
}

export async function setRole(userId: string, role: Role): Promise<void> {
  await UserEntity.patch({ userId }).set({ role }).go();
}

export async function setMfa(
  userId: string,
  changes: { mfaEnabled?: boolean; mfaSecret?: string | null; mfaPendingSecret?: string | null; mfaLastStep?: number | null },
): Promise<void> {
  let update = UserEntity.patch({ userId }).set({
    ...(changes.mfaEnabled !== undefined ? { mfaEnabled: changes.mfaEnabled } : {}),
    ...(typeof changes.mfaSecret === "string" ? { mfaSecret: changes.mfaSecret } : {}),
    ...(typeof changes.mfaPendingSecret === "string" ? { mfaPendingSecret: changes.mfaPendingSecret } : {}),
    ...(typeof changes.mfaLastStep === "number" ? { mfaLastStep: changes.mfaLastStep } : {}),
  });
  const removals = (["mfaSecret", "mfaPendingSecret", "mfaLastStep"] as const).filter((key) => changes[key] === null);
  if (removals.length > 0) update = update.remove(removals);
  await update.go();
}

/**
 * Records `step` as the last used TOTP step unless an equal or later one was
 * already used (replay). False on replay.
 */
export async function claimTotpStep(userId: string, step: number): Promise<boolean> {
  try {
    await UserEntity.patch({ userId })
      .set({ mfaLastStep: step })
      .where(({ mfaLastStep }, { notExists, lt }) => `${notExists(mfaLastStep)} OR ${lt(mfaLastStep, step)}`)
      .go();
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/**
 * Deletes a user and everything that hangs off it: sessions first (so access
 * stops at once), then preferences, push tokens, pending codes and tokens,
 * then the user (with its MFA secret) and its username and email claims in
 * one transaction. MFA login challenges expire within minutes and fail once
 * the user is gone. Safe to repeat after a partial failure.
 */
export async function remove(user: Item): Promise<void> {
  await revokeUserSessions(user.userId);
  const [pushTokens, resetTokens] = await Promise.all([
    PushTokenEntity.query.byUser({ tenantId: user.tenantId, userId: user.userId }).go({ pages: "all" }),
    ResetTokenEntity.query.byUser({ userId: user.userId }).go({ pages: "all" }),
  ]);
  await Promise.all([
    PreferencesEntity.delete({ tenantId: user.tenantId, userId: user.userId }).go(),
    VerificationEntity.delete({ userId: user.userId }).go(),
    pushTokens.data.length > 0
      ? PushTokenEntity.delete(pushTokens.data.map(({ tenantId, userId, token }) => ({ tenantId, userId, token }))).go()
      : undefined,
    resetTokens.data.length > 0
      ? ResetTokenEntity.delete(resetTokens.data.map(({ tokenHash }) => ({ tokenHash }))).go()
      : undefined,
  ]);
  const result = await Table.transaction
    .write(({ user: users, username, email }) => [
      users.delete({ userId: user.userId }).commit(),
      username.delete({ username: user.username.toLowerCase() }).commit(),
      email.delete({ email: user.email }).commit(),
    ])
    .go();
  if (result.canceled) throw conflict("user.delete_conflict", "The user changed meanwhile, try again");
}
