/**
 * The dashboard's session: with `X-Flint-Session: cookie` the refresh token
 * travels only in the httpOnly `flint_refresh` cookie, never in a body a
 * script could read, and the cookie is honoured only with that header.
 */
import { describe, expect, it } from "vitest";
import { Auth } from "../../core/auth";
import { call, uniqueLoopback, type CallOptions, type Reply } from "../support/http";
import { createUser } from "../support/users";
import { nextTotp } from "./helpers";

const COOKIE_SESSION = { "X-Flint-Session": "cookie" };

interface SetCookie {
  value: string;
  attributes: Map<string, string>;
}

/** The flint_refresh cookie a reply sets, with its attributes by lower-case name. */
function refreshCookie(reply: Reply): SetCookie | undefined {
  const line = reply.headers.getSetCookie().find((cookie) => cookie.startsWith("flint_refresh="));
  if (!line) return undefined;
  const [pair, ...attributes] = line.split(";").map((part) => part.trim());
  return {
    value: decodeURIComponent(pair!.slice("flint_refresh=".length)),
    attributes: new Map(attributes.map((attribute) => {
      const [name, ...value] = attribute.split("=");
      return [name!.toLowerCase(), value.join("=")];
    })),
  };
}

async function cookieLogin(from: string) {
  const user = await createUser();
  const login = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, headers: COOKIE_SESSION, from });
  expect(login.status).toBe(200);
  const cookie = refreshCookie(login);
  if (!cookie) throw new Error("login set no flint_refresh cookie");
  return { user, login, cookie };
}

function refreshWith(cookie: string | undefined, options: CallOptions & { from: string }) {
  return call("POST", "/auth/refresh", {
    ...options,
    headers: { ...(cookie === undefined ? {} : { cookie: `flint_refresh=${cookie}` }), ...options.headers },
  });
}

describe("refresh token in a cookie (X-Flint-Session: cookie)", () => {
  it("sets the refresh token on login as an HttpOnly, SameSite=Strict cookie for /api/v1/auth and leaves it out of the body", async () => {
    const { login, cookie } = await cookieLogin(uniqueLoopback());
    expect(login.body.refresh_token).toBeNull();
    expect(login.body.token).toEqual(expect.any(String));
    expect(cookie.value).toMatch(/^ses_[0-9a-z]{26}\./);
    expect(cookie.attributes.has("httponly")).toBe(true);
    expect(cookie.attributes.get("samesite")).toBe("Strict");
    expect(cookie.attributes.get("path")).toBe("/api/v1/auth");
    expect(cookie.attributes.get("max-age")).toBe(String(Auth.SESSION_TTL_SECONDS));
    // The local runtime is plain http: a Secure cookie would never come back.
    expect(cookie.attributes.has("secure")).toBe(false);
  });

  it("answers the refresh token in the body and sets no cookie without the header", async () => {
    const user = await createUser();
    const login = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, from: uniqueLoopback() });
    expect(login.status).toBe(200);
    expect(login.body.refresh_token).toMatch(/^ses_/);
    expect(refreshCookie(login)).toBeUndefined();
  });

  it("rotates the cookie on refresh; the old cookie value is then refused and revokes the session", async () => {
    const from = uniqueLoopback();
    const { cookie } = await cookieLogin(from);

    const rotated = await refreshWith(cookie.value, { headers: COOKIE_SESSION, from });
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).toBeNull();
    const next = refreshCookie(rotated);
    expect(next?.value).toMatch(/^ses_/);
    expect(next?.value).not.toBe(cookie.value);
    expect(next?.attributes.has("httponly")).toBe(true);
    expect((await call("GET", "/auth/me", { token: rotated.body.token })).status).toBe(200);

    const reused = await refreshWith(cookie.value, { headers: COOKIE_SESSION, from });
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe("auth.invalid_refresh_token");
    // Reuse means theft: the session is gone, for the rotated cookie and its access token too.
    expect((await call("GET", "/auth/me", { token: rotated.body.token })).status).toBe(401);
    expect((await refreshWith(next!.value, { headers: COOKIE_SESSION, from })).status).toBe(401);
  });

  it("refuses the cookie without the header (a cross-site form cannot send it), leaving the session intact", async () => {
    const from = uniqueLoopback();
    const { cookie } = await cookieLogin(from);

    const refused = await refreshWith(cookie.value, { body: {}, from });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: "auth.invalid_refresh_token", error: expect.any(String) });
    expect(refreshCookie(refused)).toBeUndefined();

    // The cookie was not even read: no reuse was detected, it still works with the header.
    expect((await refreshWith(cookie.value, { headers: COOKIE_SESSION, from })).status).toBe(200);
  });

  it.each([
    ["an empty JSON body, with the header", { body: {}, headers: COOKIE_SESSION }],
    ["no body, with the header", { headers: COOKIE_SESSION }],
    ["an empty JSON body, without the header", { body: {} }],
    ["no body and no header", {}],
  ] as [string, CallOptions][])("answers 401 auth.invalid_refresh_token for %s and no cookie", async (_, options) => {
    const reply = await refreshWith(undefined, { ...options, from: uniqueLoopback() });
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ error: expect.any(String), code: "auth.invalid_refresh_token", details: null });
  });

  it("answers 400 in the error shape for an X-Flint-Session value other than cookie", async () => {
    const reply = await refreshWith(undefined, { body: {}, headers: { "X-Flint-Session": "bearer" }, from: uniqueLoopback() });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "request.invalid", details: expect.anything() });
  });

  it("takes a refresh token from the body over the cookie and returns the new one in the cookie", async () => {
    const from = uniqueLoopback();
    const user = await createUser();
    const reply = await refreshWith("ses_00000000000000000000000000.not-the-one-used-here", {
      body: { refresh_token: user.refreshToken },
      headers: COOKIE_SESSION,
      from,
    });
    expect(reply.status).toBe(200);
    expect(reply.body.refresh_token).toBeNull();
    expect(refreshCookie(reply)?.value).toMatch(/^ses_/);
  });

  it("sets the cookie when an MFA login is completed with the header", async () => {
    const from = uniqueLoopback();
    const user = await createUser();
    const setup = await call("POST", "/mfa/setup", { token: user.token });
    expect((await call("POST", "/mfa/verify", { token: user.token, body: { code: nextTotp(setup.body.secret, 0) } })).status).toBe(200);
    const challenged = await call("POST", "/auth/login", { body: { username: user.username, password: user.password }, headers: COOKIE_SESSION, from });
    expect(challenged.body.mfa_required).toBe(true);
    expect(refreshCookie(challenged)).toBeUndefined();

    const validated = await call("POST", "/auth/mfa/validate", {
      body: { mfa_token: challenged.body.mfa_token, code: nextTotp(setup.body.secret, 1) },
      headers: COOKIE_SESSION,
      from,
    });
    expect(validated.status).toBe(200);
    expect(validated.body.refresh_token).toBeNull();
    const cookie = refreshCookie(validated);
    expect(cookie?.attributes.get("samesite")).toBe("Strict");
    expect((await refreshWith(cookie!.value, { headers: COOKIE_SESSION, from })).status).toBe(200);
  });

  it("clears the cookie on logout", async () => {
    const from = uniqueLoopback();
    const { login, cookie } = await cookieLogin(from);
    const logout = await call("POST", "/auth/logout", { token: login.body.token, headers: COOKIE_SESSION, from });
    expect(logout.status).toBe(200);
    const cleared = refreshCookie(logout);
    expect(cleared?.value).toBe("");
    expect(cleared?.attributes.get("max-age")).toBe("0");
    expect(cleared?.attributes.get("path")).toBe("/api/v1/auth");
    // The session is gone with it.
    expect((await refreshWith(cookie.value, { headers: COOKIE_SESSION, from })).status).toBe(401);
  });
});
