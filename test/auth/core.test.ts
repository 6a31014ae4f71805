import { describe, expect, it, vi } from "vitest";
import { Auth } from "../../core/auth";
import { Config } from "../../core/config";
import { ACCESS_TOKEN_TTL_SECONDS } from "../../core/auth/token";
import { revokeSession } from "../../core/credentials/session";
import { call } from "../support/http";
import { createUser } from "../support/users";

describe("Auth.authenticate", () => {
  it("resolves a fresh login token to the user actor", async () => {
    const user = await createUser({ role: "operator" });
    const actor = await Auth.authenticate(user.token);
    expect(actor).toMatchObject({
      type: "user",
      userId: user.userId,
      username: user.username,
      tenantId: user.tenantId,
      role: "operator",
      superadmin: false,
    });
    expect(actor.sessionId).toMatch(/^ses_/);
  });

  it.each([
    ["garbage", "not-a-token"],
    ["a tampered payload", "tamper"],
  ])("rejects %s with auth.invalid_token", async (_name, kind) => {
    const user = await createUser();
    let token = kind;
    if (kind === "tamper") {
      const [header, payload, signature] = user.token.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
      claims.tid = "tnt_someone_else";
      token = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
    }
    await expect(Auth.authenticate(token)).rejects.toMatchObject({ code: "auth.invalid_token", kind: "unauthorized" });
  });

  it("stops accepting a token within the session cache window after another process revokes its session", async () => {
    const user = await createUser();
    const me = () => call("GET", "/auth/me", { token: user.token }).then((reply) => reply.status);
    expect(await me()).toBe(200);
    const actor = await Auth.authenticate(user.token);
    // Revoked here, in the test process: the platform's process only learns it from the table.
    await revokeSession(actor.sessionId);
    const deadline = Date.now() + (Config.sessionCacheSeconds() + 5) * 1000;
    let status = await me();
    while (status === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await me();
    }
    expect(status).toBe(401);
  });

  it("refuses a token this process already verified once it has expired", async () => {
    const user = await createUser();
    await Auth.authenticate(user.token);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + (ACCESS_TOKEN_TTL_SECONDS + 1) * 1000);
      await expect(Auth.authenticate(user.token)).rejects.toMatchObject({ code: "auth.invalid_token" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("publishes the verification key as an ES256 JWK", async () => {
    const { keys } = await Auth.jwks();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(keys[0]).not.toHaveProperty("d");
  });
});

describe("Auth.seedAdmin", () => {
  it("creates the superadmin once and is idempotent", async () => {
    const username = `root_${Date.now().toString(36)}`;
    const input = { username, email: `${username}@test.flint.local`, password: "correct horse battery" };
    expect(await Auth.seedAdmin(input)).toEqual({ created: true });
    expect(await Auth.seedAdmin(input)).toEqual({ created: false });
    const login = await Auth.login({ username, password: input.password });
    if (login.mfaRequired) throw new Error("unexpected MFA");
    const actor = await Auth.authenticate(login.token);
    expect(actor).toMatchObject({ superadmin: true, role: "admin" });
  });
});
