/**
 * Accounts: signup, email verification, login (with MFA), sessions, password
 * reset and change, MFA enrolment, profile, preferences and push tokens.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { handle } from "hono/aws-lambda";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { CookieOptions } from "hono/utils/cookie";
import { Auth } from "../../core/auth";
import { Config } from "../../core/config";
import { Tenant } from "../../core/tenant";
import { User } from "../../core/user";
import { API_BASE, createApp, rateLimit } from "./common";
import { bearer, body, errors, json, openapi, requireUser } from "./route";

export const app = createApp();

for (const path of ["/auth/logout", "/auth/session", "/auth/me", "/auth/change-password", "/mfa/*", "/profile", "/profile/*", "/push/*"]) {
  app.use(path, requireUser);
}

// ---------------------------------------------------------------------------
// Schemas: core's, named for the document

const Message = z.object({ message: z.string() }).openapi("Message");
const Username = openapi(User.Username, { example: "ada" });
// The pipe documents its input side only: the format is core's refinement.
const Email = openapi(User.Email, { format: "email", example: "ada@example.com" });
const LoginUsername = openapi(Auth.LoginUsername, { example: "ada" });
const Code = openapi(Auth.Code, { example: "482917" });

const UserSummary = User.Info.pick({ id: true, username: true, email: true, role: true });
const UserInfo = openapi(User.Info, "User");
const RefreshToken = z.string().nullable().openapi({
  description: "Opaque, single-use: POST /auth/refresh returns a new one. Null with X-Flint-Session: cookie (it is in the flint_refresh cookie then)",
});
const Tokens = z.object({
  token: z.string().openapi({ description: "Bearer access token (ES256 JWT, 15 minutes)" }),
  refresh_token: RefreshToken,
  expires_in: z.number().int().openapi({ description: "Access token lifetime in seconds" }),
});
const LoginResponse = z
  .object({
    token: z.string().nullable().openapi({ description: "Access token; when mfa_required, the MFA challenge token instead" }),
    refresh_token: RefreshToken,
    expires_in: z.number().int(),
    user: UserSummary,
    email_verified: z.boolean(),
    mfa_required: z.boolean(),
    mfa_token: z.string().optional().openapi({ description: "When mfa_required: send it with a TOTP code to POST /auth/mfa/validate" }),
  })
  .openapi("LoginResponse");
const Preferences = openapi(User.PreferencesInfo, "Preferences");

const standardErrors = errors(400, 401, 403, 429);

// ---------------------------------------------------------------------------
// The refresh token in an httpOnly cookie, for the dashboard: no script can
// read it. A client asks for it with `X-Flint-Session: cookie`, a custom header
// a cross-site form cannot send, so the cookie alone never authorises a refresh.

const REFRESH_COOKIE = "flint_refresh";
const REFRESH_COOKIE_PATH = `${API_BASE}/auth`;
const refreshCookieOptions = (): CookieOptions => ({
  httpOnly: true,
  sameSite: "Strict",
  path: REFRESH_COOKIE_PATH,
  secure: !Config.isLocal(),
});

const SessionHeader = z.object({
  "x-flint-session": z.literal("cookie").optional().openapi({
    description: `"cookie": the refresh token goes in the httpOnly ${REFRESH_COOKIE} cookie (Path=${REFRESH_COOKIE_PATH}, SameSite=Strict) and the body's refresh_token is null`,
  }),
});
const SetRefreshCookie = {
  "Set-Cookie": {
    schema: { type: "string" as const },
    description: `With X-Flint-Session: cookie: ${REFRESH_COOKIE}=<refresh token>; HttpOnly; SameSite=Strict; Path=${REFRESH_COOKIE_PATH}; Max-Age=${Auth.SESSION_TTL_SECONDS}; Secure (not on the local runtime, which is plain http)`,
  },
};

function cookieSession(c: Context): boolean {
  return c.req.header("x-flint-session") === "cookie";
}

/** The body's refresh_token: the token itself, or null once it is set in the cookie. */
function deliverRefreshToken(c: Context, refreshToken: string): string | null {
  if (!cookieSession(c)) return refreshToken;
  setCookie(c, REFRESH_COOKIE, refreshToken, { ...refreshCookieOptions(), maxAge: Auth.SESSION_TTL_SECONDS });
  return null;
}

function summary(user: User.Item) {
  return { id: user.userId, username: user.username, email: user.email, role: user.role };
}

/** Logins allowed per IP per minute (seed 002). */
export const LOGIN_LIMIT_PER_MINUTE = 30;

// ---------------------------------------------------------------------------
// Signup and verification

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/signup",
    tags: ["Auth"],
    summary: "Create an account (and its personal tenant); emails a 6-digit code",
    request: { body: body(Auth.SignupInput.extend({ username: Username, email: Email })) },
    responses: { 201: json(z.object({ message: z.string(), user_id: z.string() }), "Created"), ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "signup", 30);
    const { userId } = await Auth.signup(c.req.valid("json"));
    return c.json({ message: "Account created. Check your email for verification code.", user_id: userId }, 201);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/verify-email",
    tags: ["Auth"],
    summary: "Verify the email address with the emailed code (15 minutes, 5 attempts)",
    request: { body: body(Auth.VerifyEmailInput.extend({ email: Email, code: Code })) },
    responses: { 200: json(Message), ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "verify-email", 30);
    await Auth.verifyEmail(c.req.valid("json"));
    return c.json({ message: "Email verified successfully" }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/resend-verification",
    tags: ["Auth"],
    summary: "Send a new verification code (same answer whether or not the account exists)",
    request: { body: body(Auth.EmailInput.extend({ email: Email })) },
    responses: { 200: json(Message), ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "resend-verification", 20);
    await Auth.resendVerification(c.req.valid("json"));
    return c.json({ message: "Verification code sent" }, 200);
  },
);

// ---------------------------------------------------------------------------
// Login and sessions

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/login",
    tags: ["Auth"],
    summary: "Log in with username and password",
    description: `At most ${LOGIN_LIMIT_PER_MINUTE} attempts per minute per IP. With MFA on, answers mfa_required and an MFA challenge token for POST /auth/mfa/validate. With X-Flint-Session: cookie, the refresh token is set in the httpOnly ${REFRESH_COOKIE} cookie instead of the body.`,
    request: { headers: SessionHeader, body: body(Auth.LoginInput.extend({ username: LoginUsername })) },
    responses: { 200: { ...json(LoginResponse), headers: SetRefreshCookie }, ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "login", LOGIN_LIMIT_PER_MINUTE);
    const result = await Auth.login(c.req.valid("json"));
    if (result.mfaRequired) {
      return c.json(
        {
          token: result.mfaToken,
          refresh_token: null,
          expires_in: result.expiresIn,
          user: summary(result.user),
          email_verified: true,
          mfa_required: true,
          mfa_token: result.mfaToken,
        },
        200,
      );
    }
    return c.json(
      {
        token: result.token,
        refresh_token: deliverRefreshToken(c, result.refresh_token),
        expires_in: result.expires_in,
        user: summary(result.user),
        email_verified: true,
        mfa_required: false,
      },
      200,
    );
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/mfa/validate",
    tags: ["Auth"],
    summary: "Finish an MFA login with the challenge token and a TOTP code",
    description: `With X-Flint-Session: cookie, the refresh token is set in the httpOnly ${REFRESH_COOKIE} cookie instead of the body.`,
    request: {
      headers: SessionHeader,
      body: body(
        z.object({
          mfa_token: openapi(Auth.PresentedToken, { description: "mfa_token (or token) from the login answer" }),
          code: Code,
          username: LoginUsername.optional(),
        }),
      ),
    },
    responses: { 200: { ...json(Tokens.extend({ message: z.string() })), headers: SetRefreshCookie }, ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "mfa-validate", 30);
    const { mfa_token, code, username } = c.req.valid("json");
    const result = await Auth.validateMfa({ mfaToken: mfa_token, code, username });
    return c.json(
      { message: "MFA validated", token: result.token, refresh_token: deliverRefreshToken(c, result.refresh_token), expires_in: result.expires_in },
      200,
    );
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/refresh",
    tags: ["Auth"],
    summary: "Trade a refresh token for new tokens (rotation; reusing an old one revokes the session)",
    description: `The refresh token comes from the body or, only with X-Flint-Session: cookie, from the ${REFRESH_COOKIE} cookie; the new one goes back the same way. Neither: 401 auth.invalid_refresh_token.`,
    request: {
      headers: SessionHeader,
      cookies: z.object({
        [REFRESH_COOKIE]: z.string().optional().openapi({ description: "Read only with X-Flint-Session: cookie" }),
      }),
      body: body(z.object({ refresh_token: Auth.PresentedToken.optional() }), { required: false }),
    },
    responses: { 200: { ...json(Tokens), headers: SetRefreshCookie }, ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "refresh", 60);
    const presented = c.req.valid("json").refresh_token ?? (cookieSession(c) ? getCookie(c, REFRESH_COOKIE) : undefined);
    const tokens = await Auth.refresh(presented);
    return c.json({ ...tokens, refresh_token: deliverRefreshToken(c, tokens.refresh_token) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/logout",
    tags: ["Auth"],
    summary: "End the current session",
    description: `Also clears the ${REFRESH_COOKIE} cookie.`,
    security: bearer,
    responses: {
      200: { ...json(Message), headers: { "Set-Cookie": { schema: { type: "string" as const }, description: `${REFRESH_COOKIE}=; Max-Age=0` } } },
      ...standardErrors,
    },
  }),
  async (c) => {
    await Auth.logout();
    deleteCookie(c, REFRESH_COOKIE, refreshCookieOptions());
    return c.json({ message: "Logged out" }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/auth/session",
    tags: ["Auth"],
    summary: "Validate the current session",
    security: bearer,
    responses: {
      200: json(
        z.object({
          valid: z.literal(true),
          user: z.object({ id: z.string(), username: z.string(), role: z.enum(["admin", "operator", "viewer"]) }),
          tenant_id: z.string(),
          session: z.object({ id: z.string(), created_at: z.string().nullable(), expires_at: z.string() }),
        }),
      ),
      ...standardErrors,
    },
  }),
  async (c) => c.json(await Auth.currentSession(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/auth/me",
    tags: ["Auth"],
    summary: "The current user",
    security: bearer,
    responses: { 200: json(UserInfo), ...standardErrors },
  }),
  async (c) => c.json(User.serialize(await Auth.me()), 200),
);

// ---------------------------------------------------------------------------
// Passwords

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/forgot-password",
    tags: ["Auth"],
    summary: "Email a password reset link (same answer whether or not the account exists)",
    request: { body: body(Auth.EmailInput.extend({ email: Email })) },
    responses: { 200: json(Message), ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "forgot-password", 20);
    await Auth.forgotPassword(c.req.valid("json"));
    return c.json({ message: "If an account exists with that email, a reset link has been sent." }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/auth/reset-password",
    tags: ["Auth"],
    summary: "Set a new password with a reset token (single use, 30 minutes); revokes all sessions",
    request: { body: body(z.object({ token: Auth.PresentedToken, new_password: User.Password })) },
    responses: { 200: json(Message), ...standardErrors },
  }),
  async (c) => {
    await rateLimit(c, "reset-password", 30);
    const { token, new_password } = c.req.valid("json");
    await Auth.resetPassword({ token, newPassword: new_password });
    return c.json({ message: "Password reset successfully" }, 200);
  },
);

for (const method of ["put", "post"] as const) {
  app.openapi(
    createRoute({
      method,
      path: "/auth/change-password",
      tags: ["Auth"],
      summary: "Change the password; other sessions are revoked",
      security: bearer,
      request: { body: body(z.object({ current_password: Auth.PresentedPassword, new_password: User.Password })) },
      responses: { 200: json(Message), ...standardErrors },
    }),
    async (c) => {
      const { current_password, new_password } = c.req.valid("json");
      await Auth.changePassword({ currentPassword: current_password, newPassword: new_password });
      return c.json({ message: "Password changed successfully" }, 200);
    },
  );
}

// ---------------------------------------------------------------------------
// MFA enrolment

app.openapi(
  createRoute({
    method: "post",
    path: "/mfa/setup",
    tags: ["MFA"],
    summary: "Start TOTP enrolment: secret, otpauth URI and QR code",
    security: bearer,
    responses: {
      200: json(z.object({ secret: z.string(), provisioning_uri: z.string(), qr_code: z.string() })),
      ...errors(400, 401, 403, 409, 429),
    },
  }),
  async (c) => c.json(await Auth.setupMfa(), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/mfa/verify",
    tags: ["MFA"],
    summary: "Confirm enrolment with a current code; MFA is on from now",
    security: bearer,
    request: { body: body(Auth.CodeInput.extend({ code: Code })) },
    responses: { 200: json(Message), ...errors(400, 401, 403, 409, 429) },
  }),
  async (c) => {
    await Auth.verifyMfa(c.req.valid("json"));
    return c.json({ message: "MFA enabled successfully" }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/mfa/disable",
    tags: ["MFA"],
    summary: "Turn MFA off (needs a current code)",
    security: bearer,
    request: { body: body(Auth.CodeInput.extend({ code: Code })) },
    responses: { 200: json(Message), ...standardErrors },
  }),
  async (c) => {
    await Auth.disableMfa(c.req.valid("json"));
    return c.json({ message: "MFA disabled" }, 200);
  },
);

// ---------------------------------------------------------------------------
// Profile, preferences, push

app.openapi(
  createRoute({
    method: "get",
    path: "/profile",
    tags: ["Profile"],
    summary: "The current user with tenant and preferences",
    security: bearer,
    responses: {
      200: json(
        UserInfo.extend({
          tenant: Tenant.Info,
          preferences: Preferences,
        }),
      ),
      ...standardErrors,
    },
  }),
  async (c) => {
    const { user, tenant, preferences } = await Auth.profile();
    return c.json({ ...user, tenant, preferences }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/profile/preferences",
    tags: ["Profile"],
    summary: "Notification settings, theme and defaults",
    security: bearer,
    responses: { 200: json(Preferences), ...standardErrors },
  }),
  async (c) => c.json(await Auth.preferences(), 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/profile/preferences",
    tags: ["Profile"],
    summary: "Update some or all preferences",
    security: bearer,
    request: { body: body(openapi(User.PreferencesInput, "PreferencesInput")) },
    responses: { 200: json(Preferences), ...standardErrors },
  }),
  async (c) => c.json(await Auth.updatePreferences(c.req.valid("json")), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/push/register",
    tags: ["Profile"],
    summary: "Register a push token for this device",
    security: bearer,
    request: {
      body: body(User.PushInput.extend({ token: openapi(User.PushInput.shape.token, { example: "ExponentPushToken[xxxxxxxx]" }) })),
    },
    responses: { 200: json(Message), ...standardErrors },
  }),
  async (c) => {
    await Auth.registerPushToken(c.req.valid("json"));
    return c.json({ message: "Push token registered" }, 200);
  },
);

export const handler = handle(app);
