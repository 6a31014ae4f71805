import { describe, expect, it } from "vitest";
import { Audit } from "../../core/audit";
import { createUser } from "../support/users";
import { call, uniqueLoopback } from "../support/http";

describe("audit trail", () => {
  it("records every mutating request with who, where, what and the outcome", async () => {
    const admin = await createUser();
    const from = uniqueLoopback();
    await call("PUT", "/profile/preferences", { token: admin.token, body: { theme: "light" } });
    await call("PUT", "/profile/preferences", { token: admin.token, body: { theme: "NOT A SLUG" } });
    await call("POST", "/auth/login", { body: { username: admin.username, password: "wrong-password" }, from });

    const logs = await call("GET", "/audit/logs?resource_type=profile", { token: admin.token });
    expect(logs.status).toBe(200);
    const [failed, succeeded] = logs.body.logs;
    expect(succeeded).toMatchObject({
      action: "PUT /api/v1/profile/preferences",
      user_id: admin.userId,
      username: admin.username,
      tenant_id: admin.tenantId,
      result: "success",
      status_code: 200,
      method: "PUT",
      ip_address: expect.any(String),
    });
    expect(failed).toMatchObject({ result: "failure", status_code: 400 });

    const logins = await call("GET", "/audit/logs?action=auth.login", { token: admin.token });
    const failedLogin = logins.body.logs.find((entry: { result: string }) => entry.result === "failure");
    expect(failedLogin).toMatchObject({ user_id: admin.userId, ip_address: expect.stringContaining(from), severity: "warning" });
    expect(JSON.stringify(logins.body)).not.toContain("wrong-password");
  });

  it("filters by user and date range and pages with a cursor", async () => {
    const admin = await createUser();
    const member = await createUser({ tenantId: admin.tenantId, role: "operator" });
    for (const theme of ["a", "b", "c"]) await call("PUT", "/profile/preferences", { token: member.token, body: { theme } });

    const byUser = await call("GET", `/audit/logs?user_id=${member.userId}&action=${encodeURIComponent("PUT /api/v1/profile/preferences")}`, { token: admin.token });
    expect(byUser.body.logs).toHaveLength(3);
    expect(byUser.body.logs.every((entry: { user_id: string }) => entry.user_id === member.userId)).toBe(true);

    const first = await call("GET", `/audit/logs?user_id=${member.userId}&limit=2`, { token: admin.token });
    expect(first.body.logs).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await call("GET", `/audit/logs?user_id=${member.userId}&limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`, { token: admin.token });
    const ids = [...first.body.logs, ...second.body.logs].map((entry: { id: string }) => entry.id);
    expect(new Set(ids).size).toBe(ids.length);

    const byName = await call("GET", `/audit/logs?username=${member.username}`, { token: admin.token });
    expect(byName.body.logs.map((entry: { id: string }) => entry.id)).toEqual(
      (await call("GET", `/audit/logs?user_id=${member.userId}`, { token: admin.token })).body.logs.map((entry: { id: string }) => entry.id),
    );
    const unknownName = await call("GET", "/audit/logs?username=nobody_at_all", { token: admin.token });
    expect(unknownName.body.logs).toEqual([]);

    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const future = await call("GET", `/audit/logs?start_date=${tomorrow}`, { token: admin.token });
    expect(future.body.logs).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    const todays = await call("GET", `/audit/logs?user_id=${member.userId}&start_date=${today}&end_date=${today}`, { token: admin.token });
    expect(todays.body.logs.length).toBeGreaterThanOrEqual(3);
  });

  it("exports the trail as CSV and JSON", async () => {
    const admin = await createUser();
    await call("PUT", "/profile/preferences", { token: admin.token, body: { theme: "dark" } });

    const csv = await call("GET", "/audit/export?format=csv", { token: admin.token });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const lines = (csv.body as string).trim().split("\r\n");
    expect(lines[0]).toBe("id,timestamp,tenant_id,user_id,username,action,resource_type,resource_id,result,status_code,severity,ip_address,user_agent,request_id,method,path");
    expect(lines.some((line) => line.includes("PUT /api/v1/profile/preferences"))).toBe(true);

    const json = await call("GET", "/audit/export?format=json", { token: admin.token });
    expect(json.status).toBe(200);
    expect(json.body.some((entry: { action: string }) => entry.action === "PUT /api/v1/profile/preferences")).toBe(true);
    expect((await call("GET", "/audit/export?format=xml", { token: admin.token })).status).toBe(400);
  });

  it("neutralises spreadsheet formulas in CSV cells", () => {
    const entry = {
      id: "aud_1", timestamp: "2026-01-01T00:00:00.000Z", tenant_id: "t", user_id: null, username: "=HYPERLINK(\"x\")",
      action: "a,b", resource_type: null, resource_id: null, result: "success" as const, status_code: 200, severity: "info" as const,
      ip_address: null, user_agent: "line\nbreak", request_id: null, method: null, path: null, details: null,
    };
    const [, row] = Audit.toCsv([entry]).split("\r\n");
    expect(row).toContain(`"'=HYPERLINK(""x"")"`);
    expect(row).toContain(`"a,b"`);
    expect(row).toContain(`"line\nbreak"`);
  });

  it.each([
    ["/api/v1/admin/users/ada", "/api/v1/admin/users/:username", { resourceType: "users", resourceId: "ada" }],
    ["/api/v1/datasets/ds_1/lock", "/api/v1/datasets/:id/lock", { resourceType: "datasets", resourceId: "ds_1" }],
    ["/api/v1/auth/login", "/api/v1/auth/login", { resourceType: "auth" }],
  ])("derives the resource of %s", (path, route, expected) => {
    expect(Audit.resourceOf(path, route)).toEqual(expected);
  });

  it("rejects bad filters with 400", async () => {
    const admin = await createUser();
    for (const query of ["start_date=yesterday", "limit=0", "limit=5000", "cursor=not-a-cursor"]) {
      const reply = await call("GET", `/audit/logs?${query}`, { token: admin.token });
      expect({ query, status: reply.status }).toEqual({ query, status: 400 });
      expect(reply.body).toMatchObject({ error: expect.any(String), code: expect.any(String) });
    }
  });
});
