import { describe, expect, inject, it } from "vitest";
import { Auth } from "../../core/auth";
import { User } from "../../core/user";
import { createUser } from "../support/users";
import { call, uniqueLoopback } from "../support/http";
import { uniqueName } from "./helpers";

async function superadminToken(): Promise<string> {
  const { username, password } = inject("admin");
  const login = await Auth.login({ username, password });
  if (login.mfaRequired) throw new Error("seeded admin has no MFA");
  return login.token;
}

describe("admin user management", () => {
  it("creates, lists, reads, updates and deletes users of the tenant", async () => {
    const admin = await createUser();
    const username = uniqueName("member");
    const created = await call("POST", "/admin/users", {
      token: admin.token,
      body: { username, email: `${username}@example.com`, password: "member-password", role: "operator" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username, role: "operator", tenant_id: admin.tenantId, email_verified: true });

    const list = await call("GET", "/admin/users", { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.users.map((u: { username: string }) => u.username).sort()).toEqual([admin.username, username].sort());
    expect(list.body.users[0]).toMatchObject({ subscription_tier: "free" });

    const detail = await call("GET", `/admin/users/${username}`, { token: admin.token });
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ username, mfa_enabled: false, preferences: { timezone: "UTC" }, push_devices: 0 });

    const from = uniqueLoopback();
    const memberLogin = await call("POST", "/auth/login", { body: { username, password: "member-password" }, from });
    expect(memberLogin.status).toBe(200);
    const memberToken = memberLogin.body.token as string;

    const demoted = await call("PUT", `/admin/users/${username}`, { token: admin.token, body: { role: "viewer" } });
    expect(demoted.status).toBe(200);
    expect(demoted.body.role).toBe("viewer");
    // The role applies to the live session at once.
    expect((await call("GET", "/auth/session", { token: memberToken })).body.user.role).toBe("viewer");

    const deleted = await call("DELETE", `/admin/users/${username}`, { token: admin.token });
    expect(deleted.status).toBe(204);
    expect((await call("GET", "/auth/me", { token: memberToken })).status).toBe(401);
    expect((await call("GET", `/admin/users/${username}`, { token: admin.token })).status).toBe(404);
    expect((await call("POST", "/auth/login", { body: { username, password: "member-password" }, from })).status).toBe(401);
  });

  it("deletes a user's preferences, push tokens and claims with the user", async () => {
    const admin = await createUser();
    const member = await createUser({ tenantId: admin.tenantId, role: "operator" });
    await call("PUT", "/profile/preferences", { token: member.token, body: { theme: "light" } });
    await call("POST", "/push/register", { token: member.token, body: { token: "ExponentPushToken[abc]", platform: "ios" } });
    expect(await User.pushTokens(member.tenantId, member.userId)).toHaveLength(1);

    expect((await call("DELETE", `/admin/users/${member.username}`, { token: admin.token })).status).toBe(204);
    expect(await User.get(member.userId)).toBeUndefined();
    expect(await User.pushTokens(member.tenantId, member.userId)).toHaveLength(0);
    expect((await User.preferences(member.tenantId, member.userId)).updated_at).toBeNull();
    // Username and email are free again.
    await expect(createUser({ username: member.username })).resolves.toMatchObject({ username: member.username });
  });

  it("refuses to remove the tenant's last admin", async () => {
    const admin = await createUser();
    const reply = await call("PUT", `/admin/users/${admin.username}`, { token: admin.token, body: { role: "operator" } });
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe("admin.last_admin");
    const self = await call("DELETE", `/admin/users/${admin.username}`, { token: admin.token });
    expect(self.status).toBe(409);
  });

  it("answers 400 for an empty update", async () => {
    const admin = await createUser();
    const reply = await call("PUT", `/admin/users/${admin.username}`, { token: admin.token, body: {} });
    expect(reply.status).toBe(400);
  });

  it.each(["viewer", "operator"] as const)("answers 403 to a %s on every admin route", async (role) => {
    const admin = await createUser();
    const user = await createUser({ tenantId: admin.tenantId, role });
    const routes: [string, string, unknown?][] = [
      ["GET", "/admin/users"],
      ["POST", "/admin/users", { username: uniqueName("x"), email: `${uniqueName("x")}@example.com`, password: "long-enough-pw" }],
      ["GET", `/admin/users/${admin.username}`],
      ["PUT", `/admin/users/${admin.username}`, { role: "viewer" }],
      ["DELETE", `/admin/users/${admin.username}`],
      ["GET", "/audit/logs"],
      ["GET", "/audit/export?format=csv"],
    ];
    for (const [method, path, body] of routes) {
      const reply = await call(method, path, { token: user.token, body });
      expect({ method, path, status: reply.status, code: reply.body?.code }).toEqual({ method, path, status: 403, code: "auth.forbidden" });
    }
    expect((await User.get(admin.userId))?.role).toBe("admin");
  });

  it("answers 401 without a token", async () => {
    expect((await call("GET", "/admin/users")).status).toBe(401);
    expect((await call("DELETE", "/admin/users/someone")).status).toBe(401);
  });
});

describe("tenant isolation", () => {
  it("answers 404 to tenant B for every route taking tenant A's ids", async () => {
    const a = await createUser();
    const aMember = await createUser({ tenantId: a.tenantId, role: "operator" });
    const b = await createUser();
    const cases: [string, string, unknown?][] = [
      ["GET", `/admin/users/${aMember.username}`],
      ["PUT", `/admin/users/${aMember.username}`, { role: "viewer" }],
      ["PUT", `/admin/users/${aMember.username}`, { password: "taken-over-password" }],
      ["DELETE", `/admin/users/${aMember.username}`],
      ["GET", `/admin/users?tenant_id=${a.tenantId}`],
      ["POST", "/admin/users", { username: uniqueName("x"), email: `${uniqueName("x")}@example.com`, password: "long-enough-pw", tenant_id: a.tenantId }],
      ["GET", `/audit/logs?tenant_id=${a.tenantId}`],
      ["GET", `/audit/export?format=json&tenant_id=${a.tenantId}`],
    ];
    for (const [method, path, body] of cases) {
      const reply = await call(method, path, { token: b.token, body });
      expect({ method, path, status: reply.status }).toEqual({ method, path, status: 404 });
      expect(JSON.stringify(reply.body)).not.toContain(aMember.email);
    }
    // Nothing changed for A's member.
    const member = await User.get(aMember.userId);
    expect(member?.role).toBe("operator");
    expect((await call("GET", "/auth/me", { token: aMember.token })).status).toBe(200);
    // B's own list does not show A's users.
    const list = await call("GET", "/admin/users", { token: b.token });
    expect(list.body.users.map((u: { id: string }) => u.id)).toEqual([b.userId]);
    // Filtering B's audit trail by A's user finds nothing of A's.
    const logs = await call("GET", `/audit/logs?user_id=${a.userId}`, { token: b.token });
    expect(logs.status).toBe(200);
    expect(logs.body.logs).toEqual([]);
  });

  it("lets the platform superadmin manage users of any tenant", async () => {
    const token = await superadminToken();
    const a = await createUser();
    const member = await createUser({ tenantId: a.tenantId, role: "viewer" });
    const detail = await call("GET", `/admin/users/${member.username}`, { token });
    expect(detail.status).toBe(200);
    expect(detail.body.tenant_id).toBe(a.tenantId);
    const list = await call("GET", `/admin/users?tenant_id=${a.tenantId}`, { token });
    expect(list.body.users.map((u: { id: string }) => u.id).sort()).toEqual([a.userId, member.userId].sort());
    const tenants = await call("GET", "/admin/tenants?limit=1000", { token });
    expect(tenants.body.tenants.map((t: { id: string }) => t.id)).toContain(a.tenantId);
    const own = await call("GET", "/admin/tenants", { token: a.token });
    expect(own.body.tenants.map((t: { id: string }) => t.id)).toEqual([a.tenantId]);
    const promoted = await call("PUT", `/admin/users/${member.username}`, { token, body: { role: "operator" } });
    expect(promoted.body.role).toBe("operator");
    const logs = await call("GET", `/audit/logs?tenant_id=${a.tenantId}&action=admin.user.role_change`, { token });
    expect(logs.status).toBe(200);
    expect(logs.body.logs[0]).toMatchObject({ action: "admin.user.role_change", resource_id: member.userId, details: { from: "viewer", to: "operator" } });
  });
});

describe("anonymous admin calls", () => {
  it("answers 401 before validating input", async () => {
    expect((await call("POST", "/admin/users", { body: {} })).status).toBe(401);
    expect((await call("PUT", "/admin/users/someone", { body: { nonsense: true } })).status).toBe(401);
    expect((await call("GET", "/audit/logs?limit=0")).status).toBe(401);
  });
});

describe("admin email changes", () => {
  it("moves the email claim and refuses an address another account holds", async () => {
    const admin = await createUser();
    const member = await createUser({ tenantId: admin.tenantId, role: "operator" });
    const other = await createUser();
    const taken = await call("PUT", `/admin/users/${member.username}`, { token: admin.token, body: { email: other.email } });
    expect(taken.status).toBe(400);
    expect(taken.body.code).toBe("auth.email_taken");

    const next = `${uniqueName("moved")}@example.com`;
    const moved = await call("PUT", `/admin/users/${member.username}`, { token: admin.token, body: { email: next } });
    expect(moved.status).toBe(200);
    expect(moved.body.email).toBe(next);
    expect((await User.fromEmail(next))?.userId).toBe(member.userId);
    expect(await User.fromEmail(member.email)).toBeUndefined();
  });

  it("signs a user out everywhere when the admin sets a new password", async () => {
    const admin = await createUser();
    const member = await createUser({ tenantId: admin.tenantId, role: "operator" });
    const reply = await call("PUT", `/admin/users/${member.username}`, { token: admin.token, body: { password: "set-by-admin-1" } });
    expect(reply.status).toBe(200);
    expect((await call("GET", "/auth/me", { token: member.token })).status).toBe(401);
    const login = await call("POST", "/auth/login", { body: { username: member.username, password: "set-by-admin-1" }, from: uniqueLoopback() });
    expect(login.status).toBe(200);
  });
});
