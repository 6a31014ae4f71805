/**
 * Administration: a tenant admin manages its tenant's users and reads its
 * audit trail; the platform superadmin may do so for any tenant (tenant_id).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import type { MiddlewareHandler } from "hono";
import { Audit } from "../../core/audit";
import { Cursor } from "../../core/cursor";
import { unauthorized } from "../../core/error";
import { Admin } from "../../core/user/admin";
import { ErrorSchemaDoc, createApp, type Env } from "./common";

export const app = createApp();

/** Every route here is for signed-in admins: anonymous calls answer 401 before input validation. */
const requireUser: MiddlewareHandler<Env> = async (c, next) => {
  if (c.get("actor").type !== "user") throw unauthorized();
  await next();
};
app.use("/admin/*", requireUser);
app.use("/audit/*", requireUser);

const Role = z.enum(["admin", "operator", "viewer"]);
const TenantId = z.string().min(1).max(64).optional().openapi({ description: "Superadmin only: act on this tenant" });
const UsernameParam = z.object({
  username: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "username", in: "path" }, example: "ada" }),
});

const UserSummary = z
  .object({
    id: z.string(),
    username: z.string(),
    email: z.string(),
    role: Role,
    tenant_id: z.string(),
    email_verified: z.boolean(),
    mfa_enabled: z.boolean(),
    superadmin: z.boolean(),
    created_at: z.string(),
    subscription_tier: z.string(),
  })
  .openapi("AdminUser");
const UserDetail = UserSummary.extend({
  preferences: z.object({
    theme: z.string(),
    notifications_enabled: z.boolean(),
    email_notifications: z.boolean(),
    training_auto_stop: z.boolean(),
    default_architecture: z.string(),
    timezone: z.string(),
    updated_at: z.string().nullable(),
  }),
  push_devices: z.number().int(),
}).openapi("AdminUserDetail");
const UserInfo = UserSummary.omit({ subscription_tier: true });

const AuditEntry = z.object(Audit.Entry.shape).openapi("AuditEntry");

function json<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

function ok<T extends z.ZodType>(schema: T, description = "OK") {
  return { description, content: { "application/json": { schema } } };
}

const errors = { 400: ErrorSchemaDoc, 401: ErrorSchemaDoc, 403: ErrorSchemaDoc, 404: ErrorSchemaDoc };
const authed = { security: [{ bearer: [] }] };
const Limit = z.coerce.number().int().min(1).max(1000).optional();

// ---------------------------------------------------------------------------
// Users

app.openapi(
  createRoute({
    method: "get",
    path: "/admin/users",
    tags: ["Admin"],
    summary: "Users with role, verification, MFA and subscription tier",
    ...authed,
    request: { query: z.object({ tenant_id: TenantId, limit: Limit, cursor: Cursor.Param.optional() }) },
    responses: { 200: ok(z.object({ users: z.array(UserSummary), next_cursor: z.string().nullable() })), ...errors },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await Admin.listUsers({ tenantId: query.tenant_id, limit: query.limit, cursor: query.cursor });
    return c.json({ users: page.users, next_cursor: page.cursor }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/admin/users",
    tags: ["Admin"],
    summary: "Create a verified user in the tenant",
    ...authed,
    request: {
      body: json(
        z.object({
          username: z.string().min(1).max(64),
          email: z.string().trim().max(254).email(),
          password: z.string().min(8, "password must be at least 8 characters").max(128),
          role: Role.default("operator"),
          tenant_id: TenantId,
        }),
      ),
    },
    responses: { 201: ok(UserInfo, "Created"), ...errors },
  }),
  async (c) => {
    const { tenant_id, ...input } = c.req.valid("json");
    return c.json(await Admin.createUser({ ...input, tenantId: tenant_id }), 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/admin/users/{username}",
    tags: ["Admin"],
    summary: "A user with MFA status, preferences and subscription tier",
    ...authed,
    request: { params: UsernameParam },
    responses: { 200: ok(UserDetail), ...errors },
  }),
  async (c) => c.json(await Admin.getUser(c.req.valid("param").username), 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/admin/users/{username}",
    tags: ["Admin"],
    summary: "Change a user's role, email, password or verification",
    description: "A role change applies to the user's sessions at once; a new password signs the user out everywhere.",
    ...authed,
    request: {
      params: UsernameParam,
      body: json(
        z
          .object({
            role: Role,
            email: z.string().trim().max(254).email(),
            password: z.string().min(8, "password must be at least 8 characters").max(128),
            email_verified: z.boolean(),
          })
          .partial()
          .strict(),
      ),
    },
    responses: { 200: ok(UserInfo), 409: ErrorSchemaDoc, ...errors },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const user = await Admin.updateUser({
      username: c.req.valid("param").username,
      role: body.role,
      email: body.email,
      password: body.password,
      emailVerified: body.email_verified,
    });
    return c.json(user, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/admin/users/{username}",
    tags: ["Admin"],
    summary: "Delete a user and everything attached (sessions, MFA, preferences, push tokens, codes)",
    ...authed,
    request: { params: UsernameParam },
    responses: { 204: { description: "Deleted" }, 409: ErrorSchemaDoc, ...errors },
  }),
  async (c) => {
    await Admin.deleteUser(c.req.valid("param").username);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/admin/tenants",
    tags: ["Admin"],
    summary: "Tenants: all of them for the platform superadmin, the caller's own for a tenant admin",
    ...authed,
    request: { query: z.object({ limit: Limit, cursor: Cursor.Param.optional() }) },
    responses: {
      200: ok(
        z.object({
          tenants: z.array(z.object({ id: z.string(), name: z.string(), created_at: z.string() })),
          next_cursor: z.string().nullable(),
        }),
      ),
      ...errors,
    },
  }),
  async (c) => {
    const page = await Admin.listTenants(c.req.valid("query"));
    return c.json({ tenants: page.tenants, next_cursor: page.cursor }, 200);
  },
);

// ---------------------------------------------------------------------------
// Audit trail

const DateParam = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/, "use an ISO 8601 date or date-time")
  .refine((value) => !Number.isNaN(Date.parse(value)), "not a valid date")
  .optional();

const AuditFilter = z.object({
  user_id: z.string().min(1).max(64).optional(),
  username: z.string().min(1).max(64).optional(),
  severity: z.enum(["info", "warning", "critical"]).optional(),
  action: z.string().min(1).max(200).optional(),
  resource_type: z.string().min(1).max(64).optional(),
  start_date: DateParam,
  end_date: DateParam,
  tenant_id: TenantId,
});

/** A date-only bound covers its whole day (UTC). */
function bounds(filter: z.infer<typeof AuditFilter>) {
  const dateOnly = (value: string) => /^\d{4}-\d{2}-\d{2}$/.test(value);
  const start = filter.start_date && new Date(dateOnly(filter.start_date) ? `${filter.start_date}T00:00:00.000Z` : filter.start_date).toISOString();
  const end = filter.end_date && new Date(dateOnly(filter.end_date) ? `${filter.end_date}T23:59:59.999Z` : filter.end_date).toISOString();
  return {
    tenantId: filter.tenant_id,
    userId: filter.user_id,
    username: filter.username,
    severity: filter.severity,
    action: filter.action,
    resourceType: filter.resource_type,
    startDate: start,
    endDate: end,
  };
}

app.openapi(
  createRoute({
    method: "get",
    path: "/audit/logs",
    tags: ["Audit"],
    summary: "Audit entries of the tenant, newest first",
    ...authed,
    request: { query: AuditFilter.extend({ limit: Limit, cursor: Cursor.Param.optional() }) },
    responses: {
      200: ok(z.object({ logs: z.array(AuditEntry), count: z.number().int(), next_cursor: z.string().nullable() })),
      ...errors,
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await Admin.auditLogs({ ...bounds(query), limit: query.limit ?? 100, cursor: query.cursor });
    return c.json({ logs: page.entries, count: page.entries.length, next_cursor: page.cursor }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/audit/export",
    tags: ["Audit"],
    summary: "Export audit entries as CSV or JSON",
    ...authed,
    request: { query: AuditFilter.extend({ format: z.enum(["csv", "json"]).default("json") }) },
    responses: {
      200: {
        description: "The entries",
        content: { "application/json": { schema: z.array(AuditEntry) }, "text/csv": { schema: z.string() } },
      },
      ...errors,
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const entries = await Admin.auditExport(bounds(query));
    const stamp = new Date().toISOString().slice(0, 10);
    if (query.format === "csv") {
      c.header("Content-Disposition", `attachment; filename="audit-${stamp}.csv"`);
      return c.body(Audit.toCsv(entries), 200, { "Content-Type": "text/csv; charset=utf-8" });
    }
    c.header("Content-Disposition", `attachment; filename="audit-${stamp}.json"`);
    return c.json(entries, 200);
  },
);

export const handler = handle(app);
