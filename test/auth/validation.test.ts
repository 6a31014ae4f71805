import { describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/users";
import { call, uniqueLoopback } from "../support/http";

const long = (n: number) => "x".repeat(n);

type Case = [name: string, method: string, path: string, body: unknown, authed: boolean];

const cases: Case[] = [
  ["signup without password", "POST", "/auth/signup", { username: "valid_name", email: "a@example.com" }, false],
  ["signup with a short password", "POST", "/auth/signup", { username: "valid_name", email: "a@example.com", password: "short" }, false],
  ["signup with an invalid email", "POST", "/auth/signup", { username: "valid_name", email: "not-an-email", password: "long-enough-pw" }, false],
  ["signup with an over-long username", "POST", "/auth/signup", { username: long(65), email: "a@example.com", password: "long-enough-pw" }, false],
  ["signup with a bad username", "POST", "/auth/signup", { username: "has spaces!", email: "a@example.com", password: "long-enough-pw" }, false],
  ["signup with a numeric username", "POST", "/auth/signup", { username: 12345, email: "a@example.com", password: "long-enough-pw" }, false],
  ["signup with an over-long password", "POST", "/auth/signup", { username: "valid_name", email: "a@example.com", password: long(129) }, false],
  ["login with an array body", "POST", "/auth/login", [], false],
  ["login without username", "POST", "/auth/login", { password: "long-enough-pw" }, false],
  ["login with a numeric password", "POST", "/auth/login", { username: "someone", password: 12345678 }, false],
  ["verify-email with a 5-digit code", "POST", "/auth/verify-email", { email: "a@example.com", code: "12345" }, false],
  ["verify-email with letters", "POST", "/auth/verify-email", { email: "a@example.com", code: "abcdef" }, false],
  ["resend-verification without email", "POST", "/auth/resend-verification", {}, false],
  ["forgot-password with a bad email", "POST", "/auth/forgot-password", { email: "nope" }, false],
  ["reset-password with a short password", "POST", "/auth/reset-password", { token: "abc", new_password: "short" }, false],
  ["reset-password without token", "POST", "/auth/reset-password", { new_password: "long-enough-pw" }, false],
  ["mfa/validate without mfa_token", "POST", "/auth/mfa/validate", { code: "123456" }, false],
  ["refresh with a number", "POST", "/auth/refresh", { refresh_token: 5 }, false],
  ["change-password with a short new password", "PUT", "/auth/change-password", { current_password: "x", new_password: "short" }, true],
  ["mfa/verify with a long code", "POST", "/mfa/verify", { code: "1234567" }, true],
  ["mfa/disable without code", "POST", "/mfa/disable", {}, true],
  ["preferences with an unknown field", "PUT", "/profile/preferences", { favourite_colour: "blue" }, true],
  ["preferences with a wrong type", "PUT", "/profile/preferences", { notifications_enabled: "yes" }, true],
  ["preferences with an unknown time zone", "PUT", "/profile/preferences", { timezone: "Mars/Olympus_Mons" }, true],
  ["preferences with an over-long theme", "PUT", "/profile/preferences", { theme: long(41) }, true],
  ["push/register with an unknown platform", "POST", "/push/register", { token: "ExponentPushToken[x]", platform: "symbian" }, true],
  ["push/register with an over-long token", "POST", "/push/register", { token: long(256), platform: "ios" }, true],
  ["admin create with an unknown role", "POST", "/admin/users", { username: "valid_name", email: "a@example.com", password: "long-enough-pw", role: "owner" }, true],
  ["admin update with an unknown field", "PUT", "/admin/users/someone", { superadmin: true }, true],
  ["admin update with a bad role", "PUT", "/admin/users/someone", { role: 1 }, true],
];

describe("malformed requests", () => {
  let user: TestUser;
  const from = uniqueLoopback();

  it.each(cases)("answers 400 with {error, code, details} for %s", async (_name, method, path, body, authed) => {
    user ??= await createUser();
    const reply = await call(method, path, { body, token: authed ? user.token : undefined, from });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ error: expect.any(String), code: expect.any(String), details: expect.anything() });
  });

  it.each([
    ["POST", "/auth/signup"],
    ["POST", "/auth/login"],
    ["PUT", "/profile/preferences"],
  ])("answers 400 for invalid JSON on %s %s", async (method, path) => {
    user ??= await createUser();
    const reply = await call(method, path, { rawBody: '{"username": ', token: user.token, from });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: expect.any(String), code: "request.invalid" });
  });

  it("answers 415 in the error shape when the body is not declared as JSON", async () => {
    const reply = await call("POST", "/auth/login", { rawBody: "username=a&password=b", contentType: "application/x-www-form-urlencoded", from });
    expect(reply.status).toBe(415);
    expect(reply.body).toMatchObject({ error: expect.any(String), code: "request.invalid" });
  });

  it("answers 401, not 500, for a malformed bearer token", async () => {
    for (const token of ["abc", "a.b.c", `${long(50)}.${long(50)}.${long(50)}`]) {
      const reply = await call("GET", "/auth/me", { token });
      expect(reply.status).toBe(401);
    }
  });

  it("leaves nothing behind when signup is refused", async () => {
    const reply = await call("POST", "/auth/signup", { body: { username: "half_written", email: "bad", password: "long-enough-pw" }, from });
    expect(reply.status).toBe(400);
    const again = await call("POST", "/auth/signup", {
      body: { username: `half_${Date.now().toString(36)}`, email: `half.${Date.now()}@example.com`, password: "long-enough-pw" },
      from,
    });
    expect(again.status).toBe(201);
  });
});
