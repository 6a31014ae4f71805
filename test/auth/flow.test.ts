import { describe, expect, it } from "vitest";
import { SubscriptionEntity } from "../../core/billing/entities";
import { User } from "../../core/user";
import { call } from "../support/http";
import { nextTotp, uniqueName, verificationCode } from "./helpers";

describe("account lifecycle over HTTP", () => {
  it("signs up, verifies by emailed code, enables MFA, and then requires MFA at login", async () => {
    const username = uniqueName("flow");
    const email = `${username}@example.com`;
    const password = "a-long-enough-password";

    const signup = await call("POST", "/auth/signup", { body: { username, email, password } });
    expect(signup.status).toBe(201);
    expect(signup.body).toEqual({ message: expect.any(String), user_id: expect.stringMatching(/^usr_/) });

    const blocked = await call("POST", "/auth/login", { body: { username, password } });
    expect(blocked.status).toBe(403);
    expect(blocked.body.code).toBe("auth.email_not_verified");

    const verified = await call("POST", "/auth/verify-email", { body: { email, code: await verificationCode(email) } });
    expect(verified.status).toBe(200);

    const login = await call("POST", "/auth/login", { body: { username, password } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({
      user: { id: signup.body.user_id, username, email, role: "admin" },
      email_verified: true,
      mfa_required: false,
      expires_in: 900,
    });
    const token = login.body.token as string;

    const me = await call("GET", "/auth/me", { token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: signup.body.user_id, username, role: "admin", mfa_enabled: false });

    const setup = await call("POST", "/mfa/setup", { token });
    expect(setup.status).toBe(200);
    expect(setup.body.provisioning_uri).toContain(`secret=${setup.body.secret}`);
    expect(setup.body.qr_code).toMatch(/^data:image\/png;base64,/);

    const wrong = await call("POST", "/mfa/verify", { token, body: { code: "000000" === nextTotp(setup.body.secret) ? "111111" : "000000" } });
    expect(wrong.status).toBe(400);
    const enabled = await call("POST", "/mfa/verify", { token, body: { code: nextTotp(setup.body.secret, 0) } });
    expect(enabled.status).toBe(200);

    expect((await call("POST", "/auth/logout", { token })).status).toBe(200);
    expect((await call("GET", "/auth/session", { token })).status).toBe(401);

    const challenged = await call("POST", "/auth/login", { body: { username, password } });
    expect(challenged.status).toBe(200);
    expect(challenged.body.mfa_required).toBe(true);
    expect(challenged.body.refresh_token).toBeNull();
    // The challenge token is not an access token.
    expect((await call("GET", "/auth/me", { token: challenged.body.token })).status).toBe(401);

    const validated = await call("POST", "/auth/mfa/validate", {
      body: { mfa_token: challenged.body.mfa_token, code: nextTotp(setup.body.secret, 1), username },
    });
    expect(validated.status).toBe(200);
    expect(validated.body.message).toBe("MFA validated");
    const session = await call("GET", "/auth/session", { token: validated.body.token });
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ valid: true, user: { username, role: "admin" } });

    // The challenge is single-use.
    const again = await call("POST", "/auth/mfa/validate", {
      body: { mfa_token: challenged.body.mfa_token, code: nextTotp(setup.body.secret, 1) },
    });
    expect(again.status).toBe(401);

    expect((await call("POST", "/auth/logout", { token: validated.body.token })).status).toBe(200);
    const rejected = await call("GET", "/auth/me", { token: validated.body.token });
    expect(rejected.status).toBe(401);
    expect(rejected.body.code).toBe("auth.invalid_token");
  });
});

describe("signup", () => {
  it("puts the new tenant on the Free plan", async () => {
    const username = uniqueName("free");
    const reply = await call("POST", "/auth/signup", { body: { username, email: `${username}@example.com`, password: "long-enough-pw" } });
    expect(reply.status).toBe(201);
    const user = await User.get(reply.body.user_id);
    const subscription = await SubscriptionEntity.get({ tenantId: user!.tenantId }).go();
    expect(subscription.data?.tier).toBe("free");
  });
});
