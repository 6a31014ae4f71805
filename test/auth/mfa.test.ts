import { describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret, matchStep } from "../../core/auth/mfa";
import { User } from "../../core/user";
import { createUser } from "../support/users";
import { call, uniqueLoopback } from "../support/http";
import { currentTotp, nextTotp } from "./helpers";

async function enableMfa(token: string): Promise<string> {
  const setup = await call("POST", "/mfa/setup", { token });
  expect(setup.status).toBe(200);
  const enabled = await call("POST", "/mfa/verify", { token, body: { code: currentTotp(setup.body.secret) } });
  expect(enabled.status).toBe(200);
  return setup.body.secret as string;
}

describe("MFA", () => {
  it("stores the TOTP secret encrypted, never in clear", async () => {
    const user = await createUser();
    const secret = await enableMfa(user.token);
    const stored = await User.get(user.userId);
    expect(stored?.mfaEnabled).toBe(true);
    expect(stored?.mfaSecret).toBeDefined();
    expect(stored?.mfaSecret).not.toContain(secret);
    expect(await decryptSecret(stored!.mfaSecret!)).toBe(secret);
  });

  it("encrypts the same secret differently each time and detects tampering", async () => {
    const a = await encryptSecret("JBSWY3DPEHPK3PXP");
    const b = await encryptSecret("JBSWY3DPEHPK3PXP");
    expect(a).not.toBe(b);
    const parts = a.split(".");
    parts[3] = Buffer.from("JBSWY3DPEHPK3PXQ").toString("base64url");
    await expect(decryptSecret(parts.join("."))).rejects.toThrow();
  });

  it("accepts codes within one step of drift only", () => {
    const secret = "JBSWY3DPEHPK3PXP";
    expect(matchStep(secret, currentTotp(secret))).toBeTypeOf("number");
    expect(matchStep(secret, nextTotp(secret, 1))).toBeTypeOf("number");
    const farAhead = nextTotp(secret, 5);
    if (farAhead !== currentTotp(secret) && farAhead !== nextTotp(secret, 1) && farAhead !== nextTotp(secret, -1)) {
      expect(matchStep(secret, farAhead)).toBeUndefined();
    }
    expect(matchStep(secret, "12345")).toBeUndefined();
  });

  it("refuses a second setup while enabled and disables only with a valid code", async () => {
    const user = await createUser();
    const secret = await enableMfa(user.token);
    expect((await call("POST", "/mfa/setup", { token: user.token })).status).toBe(409);
    const wrong = nextTotp(secret, 3);
    expect((await call("POST", "/mfa/disable", { token: user.token, body: { code: wrong } })).status).toBe(400);
    expect((await call("POST", "/mfa/disable", { token: user.token, body: { code: nextTotp(secret, 1) } })).status).toBe(200);
    expect((await User.get(user.userId))?.mfaSecret).toBeUndefined();
    const login = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from: uniqueLoopback() });
    expect(login.body.mfa_required).toBe(false);
  });

  it("burns the login challenge after five wrong codes", async () => {
    const user = await createUser();
    const secret = await enableMfa(user.token);
    const from = uniqueLoopback();
    const login = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from });
    expect(login.body.mfa_required).toBe(true);
    const valid = new Set([-1, 0, 1].map((step) => nextTotp(secret, step)));
    const wrong = ["000000", "111111", "222222", "333333", "444444", "555555", "666666"].filter((code) => !valid.has(code));
    for (const code of wrong.slice(0, 5)) {
      const reply = await call("POST", "/auth/mfa/validate", { body: { mfa_token: login.body.mfa_token, code }, from });
      expect(reply.status).toBe(401);
    }
    const late = await call("POST", "/auth/mfa/validate", { body: { mfa_token: login.body.mfa_token, code: nextTotp(secret, 1) }, from });
    expect(late.status).toBe(401);
  });

  it("does not accept the same code twice", async () => {
    const user = await createUser();
    const secret = await enableMfa(user.token);
    const from = uniqueLoopback();
    const code = nextTotp(secret, 1);
    const first = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from });
    expect((await call("POST", "/auth/mfa/validate", { body: { mfa_token: first.body.mfa_token, code }, from })).status).toBe(200);
    const second = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from });
    expect((await call("POST", "/auth/mfa/validate", { body: { mfa_token: second.body.mfa_token, code }, from })).status).toBe(401);
  });
});
