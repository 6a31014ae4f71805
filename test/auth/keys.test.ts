import { stat } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AuditEntity } from "../../core/audit";
import { RateLimitEntity } from "../../core/auth/ratelimit";
import { SessionEntity } from "../../core/credentials/session";
import { Config } from "../../core/config";
import { PushTokenEntity, UserEntity } from "../../core/user";
import { app as accounts } from "../../functions/http/accounts";
import { app as admin } from "../../functions/http/admin";
import { createUser } from "../support/users";

describe("key design", () => {
  it("lists a tenant's users with a Query on gsi1 keyed by the tenant", () => {
    const params = UserEntity.query.byTenant({ tenantId: "tnt_a" }).params() as Record<string, any>;
    expect(params.IndexName).toBe("gsi1");
    expect(params.KeyConditionExpression).toContain("#pk = :pk");
    expect(params.ExpressionAttributeValues[":pk"]).toContain("tnt_a");
  });

  it("keeps a tenant's audit entries in the tenant's partition, by user on gsi1 and by action on gsi2", () => {
    const byTenant = AuditEntity.query.byTenant({ tenantId: "tnt_a" }).params() as Record<string, any>;
    expect(byTenant.IndexName).toBeUndefined();
    expect(byTenant.ExpressionAttributeValues[":pk"]).toContain("tnt_a");
    const byUser = AuditEntity.query.byUser({ tenantId: "tnt_a", userId: "usr_1" }).params() as Record<string, any>;
    expect(byUser.IndexName).toBe("gsi1");
    expect(byUser.ExpressionAttributeValues[":pk"]).toMatch(/tnt_a.*usr_1/);
    const byAction = AuditEntity.query.byAction({ tenantId: "tnt_a", action: "auth.login" }).params() as Record<string, any>;
    expect(byAction.IndexName).toBe("gsi2");
    expect(byAction.ExpressionAttributeValues[":pk"]).toMatch(/tnt_a.*auth\.login/);
  });

  it("puts the tenant in the partition key of push tokens", () => {
    const params = PushTokenEntity.query.byUser({ tenantId: "tnt_a", userId: "usr_1" }).params() as Record<string, any>;
    expect(params.ExpressionAttributeValues[":pk"]).toMatch(/tnt_a.*usr_1/);
  });

  it("finds a user's sessions through gsi1 and counts rate limits per bucket and window", () => {
    expect((SessionEntity.query.byUser({ userId: "usr_1" }).params() as Record<string, any>).IndexName).toBe("gsi1");
    const hit = RateLimitEntity.update({ bucket: "login:1.2.3.4", window: 60 }).add({ count: 1 }).params() as Record<string, any>;
    expect(hit.Key.pk).toMatch(/login:1\.2\.3\.4.*60/);
    expect(hit.UpdateExpression).toContain("ADD");
  });
});

describe("signing key", () => {
  it("keeps the local key in the data directory, readable by the owner only", async () => {
    await createUser();
    const file = path.join(Config.dataDir(), "keys", "jwt-es256.json");
    const info = await stat(file);
    expect(info.mode & 0o777).toBe(0o600);
  });
});

describe("OpenAPI", () => {
  it("documents every accounts and admin route from the route schemas", () => {
    const info = { title: "Flint", version: "test" };
    const paths = {
      ...accounts.getOpenAPI31Document({ openapi: "3.1.0", info }).paths,
      ...admin.getOpenAPI31Document({ openapi: "3.1.0", info }).paths,
    };
    expect(Object.keys(paths).sort()).toEqual(
      [
        "/api/v1/auth/signup",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/resend-verification",
        "/api/v1/auth/login",
        "/api/v1/auth/mfa/validate",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/session",
        "/api/v1/auth/me",
        "/api/v1/auth/forgot-password",
        "/api/v1/auth/reset-password",
        "/api/v1/auth/change-password",
        "/api/v1/mfa/setup",
        "/api/v1/mfa/verify",
        "/api/v1/mfa/disable",
        "/api/v1/profile",
        "/api/v1/profile/preferences",
        "/api/v1/push/register",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{username}",
        "/api/v1/admin/tenants",
        "/api/v1/audit/logs",
        "/api/v1/audit/export",
      ].sort(),
    );
    expect(Object.keys(paths["/api/v1/auth/change-password"] ?? {}).sort()).toEqual(["post", "put"]);
  });
});
