import { describe, expect, it } from "vitest";
import { createUser } from "../support/users";
import { call, uniqueLoopback } from "../support/http";
import { signupVerified, uniqueName } from "./helpers";

describe("POST /auth/login", () => {
  it("answers wrong passwords and unknown usernames identically with 401", async () => {
    const user = await createUser();
    const from = uniqueLoopback();
    const wrongPassword = await call("POST", "/auth/login", { body: { username: user.username, password: "not-the-password" }, from });
    const unknownUser = await call("POST", "/auth/login", { body: { username: uniqueName("ghost"), password: "not-the-password" }, from });
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    expect(wrongPassword.body).toEqual(unknownUser.body);
    expect(wrongPassword.body.code).toBe("auth.invalid_credentials");
  });

  it("answers 429 with Retry-After and X-RateLimit headers after 30 attempts a minute from one IP", async () => {
    // Fixed one-minute windows: start the burst early in a window so it cannot straddle two.
    const intoWindow = (Date.now() / 1000) % 60;
    if (intoWindow > 25) await new Promise((resolve) => setTimeout(resolve, (60 - intoWindow) * 1000 + 100));
    const from = uniqueLoopback();
    const attempt = () => call("POST", "/auth/login", { body: { username: "nobody_here", password: "whatever-it-is" }, from });
    const first = await attempt();
    expect(first.status).toBe(401);
    expect(first.headers.get("x-ratelimit-limit")).toBe("30");
    expect(Number(first.headers.get("x-ratelimit-remaining"))).toBeLessThanOrEqual(29);
    const rest = await Promise.all(Array.from({ length: 29 }, attempt));
    expect(rest.map((reply) => reply.status)).toEqual(Array(29).fill(401));
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe("auth.rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect(limited.headers.get("x-ratelimit-limit")).toBe("30");
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(Number(limited.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
    // Another IP is not affected.
    const elsewhere = await call("POST", "/auth/login", { body: { username: "nobody_here", password: "whatever-it-is" }, from: uniqueLoopback() });
    expect(elsewhere.status).toBe(401);
  }, 120_000);

  it("answers 400 with the error shape for a body that is not JSON", async () => {
    const reply = await call("POST", "/auth/login", { rawBody: "{not json", from: uniqueLoopback() });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: expect.any(String), code: "request.invalid" });
    expect(reply.body).toHaveProperty("details");
  });
});

describe("POST /auth/refresh", () => {
  it("rotates the refresh token and revokes the session when an old one is reused", async () => {
    const from = uniqueLoopback();
    const account = await signupVerified(from);

    const first = await call("POST", "/auth/refresh", { body: { refresh_token: account.refreshToken }, from });
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).not.toBe(account.refreshToken);
    expect((await call("GET", "/auth/me", { token: first.body.token })).status).toBe(200);

    const reused = await call("POST", "/auth/refresh", { body: { refresh_token: account.refreshToken }, from });
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe("auth.invalid_refresh_token");
    // Reuse means theft: the whole session is gone, for the new tokens as well.
    expect((await call("GET", "/auth/me", { token: first.body.token })).status).toBe(401);
    expect((await call("POST", "/auth/refresh", { body: { refresh_token: first.body.refresh_token }, from })).status).toBe(401);
  });

  it("rejects a malformed refresh token with 401", async () => {
    const reply = await call("POST", "/auth/refresh", { body: { refresh_token: "ses_nope.nope" }, from: uniqueLoopback() });
    expect(reply.status).toBe(401);
  });
});

describe("GET /auth/session", () => {
  it("answers 401 without a token and for a token after logout", async () => {
    expect((await call("GET", "/auth/session")).status).toBe(401);
    const user = await createUser();
    expect((await call("GET", "/auth/session", { token: user.token })).body).toMatchObject({
      valid: true,
      user: { id: user.userId, username: user.username, role: "admin" },
      tenant_id: user.tenantId,
    });
    await call("POST", "/auth/logout", { token: user.token });
    expect((await call("GET", "/auth/session", { token: user.token })).status).toBe(401);
  });
});
