/**
 * Administration: a tenant admin manages its tenant's users and reads its
 * audit trail; the platform superadmin may do so for any tenant (tenant_id).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Audit } from "../../core/audit";
import { Tenant } from "../../core/tenant";
import { User } from "../../core/user";
import { Admin } from "../../core/user/admin";
import { createApp } from "./common";
import { bearer, body, errors, json, openapi, pageQuery, requireUser } from "./route";

export const app = createApp();

// Every route here is for signed-in admins: anonymous calls answer 401 before input validation.
app.use("/admin/*", requireUser);
app.use("/audit/*", requireUser);

const TenantId = Admin.TenantId.optional().openapi({ description: "Superadmin only: act on this tenant" });
// The pipe documents its input side only: the format is core's refinement.
const Email = openapi(User.Email, { format: "email" });
const UsernameParam = z.object({
  username: openapi(Admin.UsernameRef, { param: { name: "username", in: "path" }, example: "ada" }),
});

const UserSummary = openapi(Admin.UserSummary, "AdminUser");
const UserDetail = openapi(Admin.UserDetail, "AdminUserDetail");
const UserInfo = openapi(User.Info, "User");

const AuditEntry = openapi(Audit.Entry, "AuditEntry");

const standardErrors = errors(400, 401, 403, 404);
const Page = pageQuery(Admin.MAX_PAGE_LIMIT);

// ---------------------------------------------------------------------------
// Users

app.openapi(
  createRoute({
    method: "get",
    path: "/admin/users",
    tags: ["Admin"],
    summary: "Users with role, verification, MFA and subscription tier",
    security: bearer,
    request: { query: z.object({ tenant_id: TenantId, ...Page.shape }) },
    responses: { 200: json(z.object({ users: z.array(UserSummary), next_cursor: z.string().nullable() })), ...standardErrors },
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
    security: bearer,
    request: { body: body(Admin.CreateInput.omit({ tenantId: true }).extend({ email: Email, tenant_id: TenantId })) },
    responses: { 201: json(UserInfo, "Created"), ...standardErrors },
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
    security: bearer,
    request: { params: UsernameParam },
    responses: { 200: json(UserDetail), ...standardErrors },
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
    security: bearer,
    request: {
      params: UsernameParam,
      body: body(z.object({ role: User.RoleSchema, email: Email, password: User.Password, email_verified: z.boolean() }).partial().strict()),
    },
    responses: { 200: json(UserInfo), ...errors(400, 401, 403, 404, 409) },
  }),
  async (c) => {
    const changes = c.req.valid("json");
    const user = await Admin.updateUser({
      username: c.req.valid("param").username,
      role: changes.role,
      email: changes.email,
      password: changes.password,
      emailVerified: changes.email_verified,
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
    security: bearer,
    request: { params: UsernameParam },
    responses: { 204: { description: "Deleted" }, ...errors(400, 401, 403, 404, 409) },
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
    security: bearer,
    request: { query: Page },
    responses: {
      200: json(
        z.object({
          tenants: z.array(Tenant.Info),
          next_cursor: z.string().nullable(),
        }),
      ),
      ...standardErrors,
    },
  }),
  async (c) => {
    const page = await Admin.listTenants(c.req.valid("query"));
    return c.json({ tenants: page.tenants, next_cursor: page.cursor }, 200);
  },
);

// ---------------------------------------------------------------------------
// Audit trail

const AuditFilter = z.object({
  user_id: Admin.AuditFilter.shape.userId,
  username: Admin.AuditFilter.shape.username,
  severity: Admin.AuditFilter.shape.severity,
  action: Admin.AuditFilter.shape.action,
  resource_type: Admin.AuditFilter.shape.resourceType,
  start_date: Admin.AuditFilter.shape.startDate,
  end_date: Admin.AuditFilter.shape.endDate,
  tenant_id: TenantId,
});

function filterOf(query: z.infer<typeof AuditFilter>) {
  return {
    tenantId: query.tenant_id,
    userId: query.user_id,
    username: query.username,
    severity: query.severity,
    action: query.action,
    resourceType: query.resource_type,
    startDate: query.start_date,
    endDate: query.end_date,
  };
}

app.openapi(
  createRoute({
    method: "get",
    path: "/audit/logs",
    tags: ["Audit"],
    summary: "Audit entries of the tenant, newest first",
    security: bearer,
    request: { query: AuditFilter.extend(Page.shape) },
    responses: {
      200: json(z.object({ logs: z.array(AuditEntry), count: z.number().int(), next_cursor: z.string().nullable() })),
      ...standardErrors,
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await Admin.auditLogs({ ...filterOf(query), limit: query.limit, cursor: query.cursor });
    return c.json({ logs: page.entries, count: page.entries.length, next_cursor: page.cursor }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/audit/export",
    tags: ["Audit"],
    summary: "Export audit entries as CSV or JSON",
    security: bearer,
    request: { query: AuditFilter.extend({ format: z.enum(["csv", "json"]).default("json") }) },
    responses: {
      200: {
        description: "The entries",
        content: { "application/json": { schema: z.array(AuditEntry) }, "text/csv": { schema: z.string() } },
      },
      ...standardErrors,
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const entries = await Admin.auditExport(filterOf(query));
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
