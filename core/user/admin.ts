/**
 * User management by tenant admins (their own tenant only) and the platform
 * superadmin (every tenant). A user of another tenant is simply not found.
 */
export * as Admin from "./admin";

import { z } from "zod";
import { assertRole, useUser } from "../actor";
import { Audit } from "../audit";
import { Billing } from "../billing";
import { Cursor } from "../cursor";
import { conflict, invalid, notFound } from "../error";
import { fn } from "../fn";
import { revokeUserSessions, updateUserSessions } from "../credentials/session";
import { Tenant } from "../tenant";
import { User } from "./index";

/**
 * The tenant an admin call acts on: the caller's own, or for a superadmin any
 * existing tenant it names. Another tenant's id answers tenant.not_found.
 */
async function scope(requested?: string, options: { platform?: boolean } = {}): Promise<string> {
  const actor = useUser();
  if (!requested || requested === actor.tenantId) return actor.tenantId;
  // Entries with no tenant (e.g. failed logins for unknown usernames) are the superadmin's to read.
  if (options.platform && actor.superadmin && requested === Audit.PLATFORM_TENANT) return requested;
  if (!actor.superadmin || !(await Tenant.exists(requested))) throw notFound("tenant", requested);
  return requested;
}

/** A user the caller may manage, or user.not_found. */
async function manageable(username: string): Promise<User.Item> {
  const actor = useUser();
  const user = await User.fromUsername(username);
  if (!user || (!actor.superadmin && user.tenantId !== actor.tenantId)) throw notFound("user", username);
  return user;
}

/** A user as an admin sees it in lists: with its tenant's subscription tier. */
export const UserSummary = User.Info.extend({ subscription_tier: z.string() });
export type UserSummary = z.infer<typeof UserSummary>;

/** One user as an admin sees it: with preferences and the number of push devices. */
export const UserDetail = UserSummary.extend({ preferences: User.PreferencesInfo, push_devices: z.number().int() });
export type UserDetail = z.infer<typeof UserDetail>;

async function withTiers(users: User.Item[]): Promise<UserSummary[]> {
  const tenants = [...new Set(users.map((user) => user.tenantId))];
  const tiers = new Map(await Promise.all(tenants.map(async (id) => [id, await Billing.tierOf(id)] as const)));
  return users.map((user) => ({ ...User.serialize(user), subscription_tier: tiers.get(user.tenantId) ?? "free" }));
}

/** The tenant a superadmin names to act on. */
export const TenantId = z.string().min(1).max(64);
/** A username that names a user to manage (looked up; an unknown one is user.not_found). */
export const UsernameRef = z.string().min(1).max(64);
/** Most entries an admin list answers at once. */
export const MAX_PAGE_LIMIT = 1000;
const Page = z.object({
  limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).optional(),
  cursor: Cursor.Param.nullish(),
});

export const ListUsersInput = Page.extend({ tenantId: TenantId.optional() });

/**
 * Lists users of the caller's tenant (superadmin: of `tenantId`, or of the whole platform when absent).
 * @throws request.invalid, request.invalid_cursor, tenant.not_found
 */
export const listUsers = fn(ListUsersInput, async (input) => {
  assertRole("admin");
  const actor = useUser();
  const page =
    actor.superadmin && !input.tenantId
      ? await User.listAll(input)
      : await User.listByTenant(await scope(input.tenantId), input);
  return { users: await withTiers(page.items), cursor: page.cursor };
});

export const CreateInput = z.object({
  username: User.Username,
  email: User.Email,
  password: User.Password,
  role: User.RoleSchema.default("operator"),
  tenantId: TenantId.optional(),
});

/**
 * Creates a verified user in the caller's tenant (superadmin: any tenant).
 * @throws request.invalid (with details.issues) for a username, email or password core refuses; auth.username_taken, auth.email_taken
 */
export const createUser = fn(CreateInput, async (input): Promise<User.Info> => {
  assertRole("admin");
  const tenantId = await scope(input.tenantId);
  const user = await User.create({ ...input, tenantId, emailVerified: true });
  await Audit.record({
    action: "admin.user.create",
    result: "success",
    resourceType: "user",
    resourceId: user.userId,
    tenantId,
    details: { username: user.username, role: user.role },
  });
  return User.serialize(user);
});

export async function getUser(username: string): Promise<UserDetail> {
  assertRole("admin");
  const user = await manageable(username);
  const [[summary], preferences, tokens] = await Promise.all([
    withTiers([user]),
    User.preferences(user.tenantId, user.userId),
    User.pushTokens(user.tenantId, user.userId),
  ]);
  return { ...summary!, preferences, push_devices: tokens.length };
}

export const UpdateInput = z.object({
  username: UsernameRef,
  role: User.RoleSchema.optional(),
  email: User.Email.optional(),
  password: User.Password.optional(),
  emailVerified: z.boolean().optional(),
});

/**
 * Changes a user's role, email, password or verification. A role change
 * applies to the user's live sessions at once; a new password revokes them.
 * Throws admin.last_admin (conflict) when the tenant would lose its last admin.
 */
export const updateUser = fn(UpdateInput, async ({ username, ...input }): Promise<User.Info> => {
  assertRole("admin");
  if (Object.values(input).every((value) => value === undefined)) {
    throw invalid("request.invalid", "Nothing to update: give role, email, password or email_verified");
  }
  const user = await manageable(username);
  const audit = { resourceType: "user", resourceId: user.userId, tenantId: user.tenantId } as const;
  if (input.role && input.role !== user.role) {
    if (user.role === "admin" && (await User.countAdmins(user.tenantId)) <= 1) {
      throw conflict("admin.last_admin", "A tenant needs at least one admin; promote someone else first");
    }
    await User.setRole(user.userId, input.role);
    await updateUserSessions(user.userId, { role: input.role });
    await Audit.record({ action: "admin.user.role_change", result: "success", severity: "warning", ...audit, details: { from: user.role, to: input.role } });
  }
  if (input.email !== undefined) {
    await User.changeEmail(user, input.email, input.emailVerified ?? user.emailVerified ?? false);
    await Audit.record({ action: "admin.user.email_change", result: "success", ...audit });
  } else if (input.emailVerified !== undefined && input.emailVerified !== user.emailVerified) {
    if (input.emailVerified) await User.markEmailVerified(user.userId);
    else await User.UserEntity.patch({ userId: user.userId }).set({ emailVerified: false }).go();
    await Audit.record({ action: "admin.user.verification_change", result: "success", ...audit, details: { email_verified: input.emailVerified } });
  }
  if (input.password !== undefined) {
    await User.setPassword(user.userId, input.password);
    const revoked = await revokeUserSessions(user.userId);
    await Audit.record({ action: "admin.user.password_reset", result: "success", severity: "warning", ...audit, details: { sessions_revoked: revoked } });
  }
  const updated = await User.get(user.userId);
  if (!updated) throw notFound("user", username);
  return User.serialize(updated);
});

/**
 * Deletes a user with its sessions, preferences, MFA, push tokens and
 * pending codes. Throws admin.cannot_delete_self (conflict).
 */
export async function deleteUser(username: string): Promise<void> {
  assertRole("admin");
  const actor = useUser();
  const user = await manageable(username);
  if (user.userId === actor.userId) throw conflict("admin.cannot_delete_self", "You cannot delete your own account here");
  await User.remove(user);
  await Audit.record({
    action: "admin.user.delete",
    result: "success",
    severity: "warning",
    resourceType: "user",
    resourceId: user.userId,
    tenantId: user.tenantId,
    details: { username: user.username },
  });
}

/**
 * Tenants the caller administers: every tenant for the platform superadmin,
 * the caller's own for a tenant admin.
 */
export const listTenants = fn(Page, async (input): Promise<{ tenants: Tenant.Info[]; cursor: string | null }> => {
  assertRole("admin");
  const actor = useUser();
  if (!actor.superadmin) {
    Cursor.assertNone(input.cursor);
    return { tenants: [await Tenant.get(actor.tenantId)], cursor: null };
  }
  const page = await Tenant.listAll(input);
  return { tenants: page.items, cursor: page.cursor };
});

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** An audit filter bound: an ISO 8601 date (the whole day, UTC) or date-time. */
export const AuditDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/, "use an ISO 8601 date or date-time")
  .refine((value) => !Number.isNaN(Date.parse(value)), "not a valid date");

/**
 * The instant a bound stands for: a date-only start is the day's first
 * millisecond, a date-only end its last (UTC), so both bounds include their day.
 */
export function auditBound(value: string, side: "start" | "end"): string {
  if (!DATE_ONLY.test(value)) return new Date(value).toISOString();
  return new Date(`${value}${side === "start" ? "T00:00:00.000Z" : "T23:59:59.999Z"}`).toISOString();
}

/** What an admin may filter the audit trail by; both dates are inclusive. */
export const AuditFilter = Page.extend({
  tenantId: TenantId.optional(),
  userId: z.string().min(1).max(64).optional(),
  username: z.string().min(1).max(64).optional(),
  action: z.string().min(1).max(200).optional(),
  resourceType: z.string().min(1).max(64).optional(),
  severity: z.enum(["info", "warning", "critical"]).optional(),
  startDate: AuditDate.optional(),
  endDate: AuditDate.optional(),
});
export type AuditFilter = z.output<typeof AuditFilter>;

/** Resolves the tenant, the date bounds and a username filter (to that tenant's user id; unknown names match nothing). */
async function auditScope(filter: AuditFilter): Promise<Audit.ListFilter | undefined> {
  const { username, startDate, endDate, ...bounded } = filter;
  const rest = {
    ...bounded,
    startDate: startDate === undefined ? undefined : auditBound(startDate, "start"),
    endDate: endDate === undefined ? undefined : auditBound(endDate, "end"),
  };
  const tenantId = await scope(filter.tenantId, { platform: true });
  if (username === undefined) return { ...rest, tenantId };
  const user = await User.inTenant(tenantId, username);
  if (!user || (rest.userId !== undefined && rest.userId !== user.userId)) return undefined;
  return { ...rest, tenantId, userId: user.userId };
}

/**
 * Audit entries of the caller's tenant (superadmin: of `tenantId`), newest first.
 * @throws request.invalid, request.invalid_cursor, tenant.not_found
 */
export const auditLogs = fn(AuditFilter, async (filter) => {
  assertRole("admin");
  const scoped = await auditScope(filter);
  return scoped ? Audit.list(scoped) : { entries: [], cursor: null };
});

/** Every matching entry (up to 10 000) for export; the export itself is audited. @throws request.invalid, tenant.not_found */
export const auditExport = fn(AuditFilter.omit({ cursor: true, limit: true }), async (filter) => {
  assertRole("admin");
  const scoped = await auditScope(filter);
  const entries = scoped ? await Audit.exportAll(scoped) : [];
  await Audit.record({ action: "audit.export", result: "success", details: { entries: entries.length } });
  return entries;
});
