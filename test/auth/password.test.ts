import { describe, expect, it } from "vitest";
import { ResetTokenEntity, VerificationEntity } from "../../core/credentials/records";
import { hashSecret } from "../../core/auth/token";
import { User } from "../../core/user";
import { createUser } from "../support/users";
import { call, uniqueLoopback } from "../support/http";
import { resetToken, uniqueName, verificationCode } from "./helpers";

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await run();
  return [result, performance.now() - started];
}

describe("POST /auth/forgot-password", () => {
  it("answers identically, in similar time, whether or not the account exists", async () => {
    const user = await createUser();
    const from = uniqueLoopback();
    const knownTimes: number[] = [];
    const unknownTimes: number[] = [];
    const bodies = new Set<string>();
    // Alternating pairs, compared by their fastest run: load from other test files only ever adds time.
    for (let round = 0; round < 4; round++) {
      const [known, knownMs] = await timed(() => call("POST", "/auth/forgot-password", { body: { email: user.email }, from }));
      const [unknown, unknownMs] = await timed(() =>
        call("POST", "/auth/forgot-password", { body: { email: `${uniqueName("nobody")}@example.com` }, from }),
      );
      expect([known.status, unknown.status]).toEqual([200, 200]);
      bodies.add(JSON.stringify(known.body)).add(JSON.stringify(unknown.body));
      knownTimes.push(knownMs);
      unknownTimes.push(unknownMs);
    }
    expect(bodies.size).toBe(1);
    expect(Math.min(...knownTimes, ...unknownTimes)).toBeGreaterThanOrEqual(730);
    expect(Math.abs(Math.min(...knownTimes) - Math.min(...unknownTimes))).toBeLessThan(250);
  });
});

describe("POST /auth/reset-password", () => {
  it("sets the new password once, revokes every session, and refuses the token a second time", async () => {
    const user = await createUser();
    const from = uniqueLoopback();
    await call("POST", "/auth/forgot-password", { body: { email: user.email }, from });
    const token = await resetToken(user.email);

    const reset = await call("POST", "/auth/reset-password", { body: { token, new_password: "brand-new-password" }, from });
    expect(reset.status).toBe(200);
    expect((await call("GET", "/auth/me", { token: user.token })).status).toBe(401);
    expect((await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from })).status).toBe(401);
    expect((await call("POST", "/auth/login", { body: { username: user.username, password: "brand-new-password" }, from })).status).toBe(200);

    const again = await call("POST", "/auth/reset-password", { body: { token, new_password: "another-password" }, from });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("auth.invalid_reset_token");
  });

  it("refuses an expired token", async () => {
    const user = await createUser();
    const from = uniqueLoopback();
    await call("POST", "/auth/forgot-password", { body: { email: user.email }, from });
    const token = await resetToken(user.email);
    await ResetTokenEntity.patch({ tokenHash: hashSecret(token) }).set({ expires_at: Math.floor(Date.now() / 1000) - 1 }).go();

    const reply = await call("POST", "/auth/reset-password", { body: { token, new_password: "brand-new-password" }, from });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("auth.invalid_reset_token");
    expect((await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from })).status).toBe(200);
  });

  it("stores only a hash of the reset token", async () => {
    const user = await createUser();
    await call("POST", "/auth/forgot-password", { body: { email: user.email }, from: uniqueLoopback() });
    const token = await resetToken(user.email);
    const stored = await ResetTokenEntity.query.byUser({ userId: user.userId }).go();
    expect(stored.data.length).toBeGreaterThan(0);
    expect(JSON.stringify(stored.data)).not.toContain(token);
  });
});

describe.each(["PUT", "POST"])("%s /auth/change-password", (method) => {
  it("needs the current password, keeps this session and revokes the others", async () => {
    const user = await createUser();
    const from = uniqueLoopback();
    const other = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from });

    const wrong = await call(method, "/auth/change-password", {
      token: user.token,
      body: { current_password: "wrong-password", new_password: "next-password-1" },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe("auth.invalid_current_password");

    const changed = await call(method, "/auth/change-password", {
      token: user.token,
      body: { current_password: user.password, new_password: "next-password-1" },
    });
    expect(changed.status).toBe(200);
    expect((await call("GET", "/auth/me", { token: user.token })).status).toBe(200);
    expect((await call("GET", "/auth/me", { token: other.body.token })).status).toBe(401);
    expect((await call("POST", "/auth/login", { body: { username: user.username, password: "next-password-1" }, from })).status).toBe(200);
  });
});

describe("POST /auth/verify-email", () => {
  async function signup(from: string) {
    const username = uniqueName("verify");
    const email = `${username}@example.com`;
    const reply = await call("POST", "/auth/signup", { body: { username, email, password: "long-enough-pw" }, from });
    expect(reply.status).toBe(201);
    return { username, email, userId: reply.body.user_id as string };
  }

  it("burns the code after five wrong attempts", async () => {
    const from = uniqueLoopback();
    const account = await signup(from);
    const code = await verificationCode(account.email);
    const wrongCode = code === "000000" ? "000001" : "000000";
    for (let attempt = 0; attempt < 5; attempt++) {
      const reply = await call("POST", "/auth/verify-email", { body: { email: account.email, code: wrongCode }, from });
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe("auth.invalid_code");
    }
    const late = await call("POST", "/auth/verify-email", { body: { email: account.email, code }, from });
    expect(late.status).toBe(400);
    expect((await User.get(account.userId))?.emailVerified).toBe(false);

    // A new code works.
    expect((await call("POST", "/auth/resend-verification", { body: { email: account.email }, from })).status).toBe(200);
    const fresh = await verificationCode(account.email);
    expect((await call("POST", "/auth/verify-email", { body: { email: account.email, code: fresh }, from })).status).toBe(200);
  });

  it("refuses an expired code", async () => {
    const from = uniqueLoopback();
    const account = await signup(from);
    const code = await verificationCode(account.email);
    await VerificationEntity.patch({ userId: account.userId }).set({ expires_at: Math.floor(Date.now() / 1000) - 1 }).go();
    const reply = await call("POST", "/auth/verify-email", { body: { email: account.email, code }, from });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("auth.invalid_code");
  });

  it("answers resend-verification the same for unknown addresses", async () => {
    const from = uniqueLoopback();
    const account = await signup(from);
    const known = await call("POST", "/auth/resend-verification", { body: { email: account.email }, from });
    const unknown = await call("POST", "/auth/resend-verification", { body: { email: `${uniqueName("x")}@example.com` }, from });
    expect(known.status).toBe(200);
    expect(unknown.body).toEqual(known.body);
  });
});

describe("POST /auth/signup", () => {
  it("answers 400 auth.username_taken for a taken username, in any letter case", async () => {
    const user = await createUser();
    const reply = await call("POST", "/auth/signup", {
      body: { username: user.username.toUpperCase(), email: `${uniqueName("x")}@example.com`, password: "long-enough-pw" },
      from: uniqueLoopback(),
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("auth.username_taken");
  });

  it("answers 400 auth.email_taken for a taken email", async () => {
    const user = await createUser();
    const reply = await call("POST", "/auth/signup", {
      body: { username: uniqueName("dup"), email: user.email.toUpperCase(), password: "long-enough-pw" },
      from: uniqueLoopback(),
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("auth.email_taken");
  });
});
