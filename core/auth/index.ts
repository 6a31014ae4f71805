/**
 * Authentication: signup with email verification, login with optional TOTP
 * MFA, sessions with short-lived ES256 access tokens and rotating opaque
 * refresh tokens, password reset and change, and MFA enrolment.
 *
 * Access tokens name their session (`sid`); a token is honoured only while
 * its session exists, so logout, password changes and user deletion take
 * effect immediately. Every auth event is written to the audit trail.
 */
export * as Auth from "./index";

import { z } from "zod";
import type { Actor, Role } from "../actor";
import { useUser } from "../actor";
import { Audit } from "../audit";
import { Config } from "../config";
import { expiresIn } from "../db";
import { DomainError, conflict, forbidden, invalid, isConditionalFailure, unauthorized } from "../error";
import { createId, createSecret } from "../id";
import { logger } from "../logger";
import { Mail } from "../mail";
import { Tenant } from "../tenant";
import { User } from "../user";
import { signingKey } from "./keys";
import * as Mfa from "./mfa";
import { MAX_PASSWORD_LENGTH, verifyPassword } from "../credentials/password";
import { consume } from "./ratelimit";
import {
  EMAIL_CODE_MAX_ATTEMPTS,
  EMAIL_CODE_TTL_SECONDS,
  MFA_CHALLENGE_MAX_ATTEMPTS,
  MFA_CHALLENGE_TTL_SECONDS,
  MfaChallengeEntity,
  RESET_TOKEN_TTL_SECONDS,
  ResetTokenEntity,
  VerificationEntity,
  isExpired,
} from "../credentials/records";
import {
  createSession,
  getSession,
  getSessionForRequest,
  revokeSession,
  revokeUserSessions,
  rotateRefresh,
  type Session,
} from "../credentials/session";
import {
  ACCESS_TOKEN_TTL_SECONDS,
  hashCode,
  hashSecret,
  sameHash,
  signAccessToken,
  sixDigitCode,
  verifyAccessToken,
} from "./token";

export { ACCESS_TOKEN_TTL_SECONDS } from "./token";
export { consume as consumeRateLimit, rateLimitHeaders, type RateLimitState } from "./ratelimit";

export type UserActor = Extract<Actor, { type: "user" }>;

const invalidToken = () => unauthorized("auth.invalid_token", "Invalid or expired access token");

/**
 * Resolves an access token to its user actor. Throws auth.invalid_token
 * (unauthorized) when the signature, issuer, audience or expiry is wrong, or
 * when the session was revoked.
 */
export async function authenticate(accessToken: string): Promise<UserActor> {
  const claims = await verifyAccessToken(accessToken);
  if (!claims) throw invalidToken();
  const session = await getSessionForRequest(claims.sid);
  if (!session || session.userId !== claims.sub) throw invalidToken();
  return actorOf(session);
}

function actorOf(session: Session): UserActor {
  return {
    type: "user",
    userId: session.userId,
    username: session.username,
    tenantId: session.tenantId,
    role: session.role,
    superadmin: session.superadmin,
    sessionId: session.sessionId,
  };
}

/** The public keys access tokens are signed with (GET /.well-known/jwks.json). */
export async function jwks(): Promise<{ keys: JsonWebKeyLike[] }> {
  const key = await signingKey();
  return { keys: [key.publicJwk] };
}

export type JsonWebKeyLike = { kty: string; crv?: string; x?: string; y?: string; kid?: string; alg?: string; use?: string };

/**
 * Creates the platform superadmin (verified, admin of its own tenant) unless
 * the username exists. Idempotent: `created` says whether it did anything.
 */
export async function seedAdmin(input: { username: string; email: string; password: string }): Promise<{ created: boolean }> {
  if (await User.fromUsername(input.username)) return { created: false };
  try {
    await User.create({
      ...input,
      role: "admin",
      superadmin: true,
      emailVerified: true,
      tenantName: "Platform",
    });
    return { created: true };
  } catch (error) {
    // Another process seeded it first.
    if (error instanceof DomainError && error.code === "auth.username_taken") return { created: false };
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Inputs: what the routes document and check, with the limits core holds

/** The 6-digit codes of email verification and TOTP. */
export const Code = z.string().regex(/^\d{6}$/, "code must be 6 digits");
/**
 * A username as typed to log in. Only looked up, never checked against
 * User.Username: a name that cannot exist is a wrong login (401), not bad input.
 */
export const LoginUsername = z.string().min(1).max(64);
/** A password given to prove who one is (login, password change); a new password is User.Password. */
export const PresentedPassword = z.string().min(1).max(MAX_PASSWORD_LENGTH);
/** An opaque token handed out earlier: a refresh token, an MFA challenge, a reset token. */
export const PresentedToken = z.string().min(1).max(200);

export const SignupInput = z.object({ username: User.Username, email: User.Email, password: User.Password });
export const LoginInput = z.object({ username: LoginUsername, password: PresentedPassword });
export const EmailInput = z.object({ email: User.Email });
export const VerifyEmailInput = z.object({ email: User.Email, code: Code });
export const CodeInput = z.object({ code: Code });

// ---------------------------------------------------------------------------
// Signup and email verification

/**
 * Creates an unverified user as admin of a new personal tenant on the Free
 * plan and emails a 6-digit verification code. Throws auth.username_taken / auth.email_taken.
 */
export async function signup(input: z.input<typeof SignupInput>): Promise<{ userId: string; tenantId: string }> {
  const user = await User.create({ ...input, role: "admin" });
  // Loaded lazily: every HTTP app imports Auth, and billing brings the Stripe SDK.
  // Idempotent, and billing treats a missing record as Free anyway, so a failure here cannot leave a broken account.
  const { Billing } = await import("../billing");
  await Billing.createFree(user.tenantId).catch((error: unknown) =>
    logger.warn("free subscription not created at signup", { tenantId: user.tenantId, error: error as Error }),
  );
  await Audit.record({
    action: "auth.signup",
    result: "success",
    resourceType: "user",
    resourceId: user.userId,
    tenantId: user.tenantId,
    userId: user.userId,
    username: user.username,
  });
  await sendVerificationCode(user);
  return { userId: user.userId, tenantId: user.tenantId };
}

async function sendVerificationCode(user: User.Item): Promise<void> {
  const code = sixDigitCode();
  await VerificationEntity.put({
    userId: user.userId,
    email: user.email,
    codeHash: await hashCode(`verify:${user.userId}`, code),
    attempts: 0,
    expires_at: expiresIn(EMAIL_CODE_TTL_SECONDS),
  }).go();
  await Mail.send({
    to: user.email,
    subject: "Your Flint verification code",
    text: [
      `Hello ${user.username},`,
      "",
      `Your Flint verification code is ${code}.`,
      `It expires in ${EMAIL_CODE_TTL_SECONDS / 60} minutes. If you did not sign up, ignore this email.`,
    ].join("\n"),
  });
}

const invalidCode = (details?: unknown) => invalid("auth.invalid_code", "Invalid or expired verification code", details);

/**
 * Marks the email verified when `code` matches the pending code. A code
 * expires after 15 minutes and is burned after 5 wrong attempts.
 * Throws auth.invalid_code (invalid) otherwise, without saying which.
 */
export async function verifyEmail(input: { email: string; code: string }): Promise<void> {
  const user = await User.fromEmail(input.email);
  const pending = user ? (await VerificationEntity.get({ userId: user.userId }).go({ consistent: true })).data : null;
  if (!user || !pending || pending.email !== user.email) throw invalidCode();
  if (isExpired(pending) || (pending.attempts ?? 0) >= EMAIL_CODE_MAX_ATTEMPTS) {
    await VerificationEntity.delete({ userId: user.userId }).go();
    throw invalidCode();
  }
  const matches = /^\d{6}$/.test(input.code) && sameHash(await hashCode(`verify:${user.userId}`, input.code), pending.codeHash);
  if (!matches) {
    const remaining = await countFailedAttempt(user.userId);
    await Audit.record({ action: "auth.verify_email", result: "failure", tenantId: user.tenantId, userId: user.userId, username: user.username });
    throw invalidCode({ attempts_remaining: remaining });
  }
  try {
    await VerificationEntity.delete({ userId: user.userId })
      .where(({ codeHash }, { eq }) => eq(codeHash, pending.codeHash))
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) throw invalidCode();
    throw error;
  }
  await User.markEmailVerified(user.userId);
  await Audit.record({ action: "auth.verify_email", result: "success", resourceType: "user", resourceId: user.userId, tenantId: user.tenantId, userId: user.userId, username: user.username });
}

/** Counts a wrong code; the fifth one burns the code. Returns the attempts left. */
async function countFailedAttempt(userId: string): Promise<number> {
  try {
    const updated = await VerificationEntity.patch({ userId })
      .add({ attempts: 1 })
      .where(({ attempts }, { lt }) => lt(attempts, EMAIL_CODE_MAX_ATTEMPTS))
      .go({ response: "all_new" });
    const used = updated.data.attempts ?? EMAIL_CODE_MAX_ATTEMPTS;
    if (used >= EMAIL_CODE_MAX_ATTEMPTS) await VerificationEntity.delete({ userId }).go();
    return Math.max(0, EMAIL_CODE_MAX_ATTEMPTS - used);
  } catch (error) {
    if (isConditionalFailure(error)) return 0;
    throw error;
  }
}

/**
 * Sends a fresh code to an unverified account. Answers the same whether or
 * not the address belongs to an account; at most 5 codes per account per hour.
 */
export async function resendVerification(input: { email: string }): Promise<void> {
  await withFloor(ANSWER_FLOOR_MS, async () => {
    const user = await User.fromEmail(input.email);
    if (!user || user.emailVerified) return;
    try {
      await consume(`verify-resend:${user.userId}`, { limit: 5, windowSeconds: 3600 });
    } catch (error) {
      if (error instanceof DomainError && error.kind === "rate_limited") return;
      throw error;
    }
    await sendVerificationCode(user);
  });
}

/**
 * Answers that must not reveal whether an account exists take at least this
 * long either way (the real work is a few table writes and one email).
 */
const ANSWER_FLOOR_MS = 750;

async function withFloor<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await run();
  } finally {
    const elapsed = Date.now() - started;
    if (elapsed < ms) await sleep(ms - elapsed + Math.floor(Math.random() * 50));
  }
}

// ---------------------------------------------------------------------------
// Login, MFA challenge, refresh, logout

export interface Tokens {
  token: string;
  refresh_token: string;
  expires_in: number;
}

export type LoginResult =
  | ({ mfaRequired: false; user: User.Item } & Tokens)
  | { mfaRequired: true; user: User.Item; mfaToken: string; expiresIn: number };

const invalidCredentials = () => unauthorized("auth.invalid_credentials", "Invalid username or password");

/**
 * Checks the password. Unknown usernames and wrong passwords answer the
 * same (auth.invalid_credentials) in the same time; an unverified email
 * answers auth.email_not_verified (forbidden) only after a correct password.
 * With MFA on, answers a short-lived challenge for `validateMfa` instead of tokens.
 */
export async function login(input: { username: string; password: string }): Promise<LoginResult> {
  const user = await User.fromUsername(input.username);
  const ok = await verifyPassword(user?.passwordHash, input.password);
  if (!user || !ok) {
    await Audit.record({
      action: "auth.login",
      result: "failure",
      severity: "warning",
      tenantId: user?.tenantId,
      userId: user?.userId,
      username: user?.username,
      details: { reason: "invalid_credentials" },
    });
    throw invalidCredentials();
  }
  const who = { tenantId: user.tenantId, userId: user.userId, username: user.username };
  if (!user.emailVerified) {
    await Audit.record({ action: "auth.login", result: "failure", ...who, details: { reason: "email_not_verified" } });
    throw forbidden("auth.email_not_verified", "Verify your email address before logging in", { email_verified: false });
  }
  if (user.mfaEnabled) {
    const mfaToken = `mfa_${createSecret(32)}`;
    await MfaChallengeEntity.create({
      challengeHash: hashSecret(mfaToken),
      userId: user.userId,
      attempts: 0,
      expires_at: expiresIn(MFA_CHALLENGE_TTL_SECONDS),
    }).go();
    await Audit.record({ action: "auth.login", result: "success", ...who, details: { mfa_required: true } });
    return { mfaRequired: true, user, mfaToken, expiresIn: MFA_CHALLENGE_TTL_SECONDS };
  }
  const tokens = await startSession(user);
  await Audit.record({ action: "auth.login", result: "success", resourceType: "session", resourceId: tokens.sessionId, ...who });
  return { mfaRequired: false, user, token: tokens.token, refresh_token: tokens.refresh_token, expires_in: tokens.expires_in };
}

async function startSession(user: User.Item): Promise<Tokens & { sessionId: string }> {
  const sessionId = createId("ses");
  const refreshSecret = createSecret(32);
  const request = Audit.useRequest();
  await createSession({
    sessionId,
    userId: user.userId,
    tenantId: user.tenantId,
    username: user.username,
    role: user.role,
    superadmin: user.superadmin ?? false,
    refreshHash: hashSecret(refreshSecret),
    ip: request.ip,
    userAgent: request.userAgent,
  });
  return {
    sessionId,
    token: await signAccessToken({ sub: user.userId, sid: sessionId, tid: user.tenantId }),
    refresh_token: `${sessionId}.${refreshSecret}`,
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
  };
}

const invalidMfa = () => unauthorized("auth.invalid_mfa", "Invalid or expired MFA challenge or code");

/**
 * Completes a login that answered mfa_required: the challenge token from
 * login plus a current TOTP code. A challenge lives 5 minutes, is single-use
 * and is burned after 5 wrong codes; a code cannot be used twice.
 * Throws auth.invalid_mfa (unauthorized).
 */
export async function validateMfa(input: { mfaToken: string; code: string; username?: string }): Promise<{ user: User.Item } & Tokens> {
  const challengeHash = hashSecret(input.mfaToken);
  const challenge = (await MfaChallengeEntity.get({ challengeHash }).go({ consistent: true })).data;
  if (!challenge || isExpired(challenge) || (challenge.attempts ?? 0) >= MFA_CHALLENGE_MAX_ATTEMPTS) throw invalidMfa();
  const user = await User.get(challenge.userId);
  if (!user || !user.mfaEnabled || !user.mfaSecret) throw invalidMfa();
  if (input.username !== undefined && input.username.toLowerCase() !== user.username.toLowerCase()) throw invalidMfa();
  const who = { tenantId: user.tenantId, userId: user.userId, username: user.username };

  const step = Mfa.matchStep(await Mfa.decryptSecret(user.mfaSecret), input.code);
  if (step === undefined || !(await User.claimTotpStep(user.userId, step))) {
    await countChallengeFailure(challengeHash);
    await Audit.record({ action: "auth.mfa.validate", result: "failure", severity: "warning", ...who });
    throw invalidMfa();
  }
  try {
    await MfaChallengeEntity.delete({ challengeHash }).where(({ userId }, { exists }) => exists(userId)).go();
  } catch (error) {
    if (isConditionalFailure(error)) throw invalidMfa();
    throw error;
  }
  const tokens = await startSession(user);
  await Audit.record({ action: "auth.mfa.validate", result: "success", resourceType: "session", resourceId: tokens.sessionId, ...who });
  return { user, token: tokens.token, refresh_token: tokens.refresh_token, expires_in: tokens.expires_in };
}

async function countChallengeFailure(challengeHash: string): Promise<void> {
  try {
    const updated = await MfaChallengeEntity.patch({ challengeHash }).add({ attempts: 1 }).go({ response: "all_new" });
    if ((updated.data.attempts ?? 0) >= MFA_CHALLENGE_MAX_ATTEMPTS) await MfaChallengeEntity.delete({ challengeHash }).go();
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}

const invalidRefresh = () => unauthorized("auth.invalid_refresh_token", "Invalid or expired refresh token");

/**
 * Trades a refresh token for a new access token and a new refresh token (the
 * old one stops working). Presenting an already-rotated refresh token means
 * it leaked: the whole session is revoked. Throws auth.invalid_refresh_token.
 */
export async function refresh(refreshToken: string): Promise<Tokens> {
  const match = /^(ses_[0-9a-z]{26})\.([\w-]{20,100})$/.exec(refreshToken);
  if (!match) throw invalidRefresh();
  const [, sessionId, secretPart] = match as unknown as [string, string, string];
  const session = await getSession(sessionId);
  if (!session) throw invalidRefresh();
  const presented = hashSecret(secretPart);
  const who = { tenantId: session.tenantId, userId: session.userId, username: session.username };
  if (!sameHash(presented, session.refreshHash)) {
    if ((session.usedRefreshHashes ?? []).some((used) => sameHash(used, presented))) {
      await revokeSession(sessionId);
      await Audit.record({
        action: "auth.refresh.reuse_detected",
        result: "failure",
        severity: "critical",
        resourceType: "session",
        resourceId: sessionId,
        ...who,
      });
      logger.warn("refresh token reuse: session revoked", { sessionId, userId: session.userId });
    }
    throw invalidRefresh();
  }
  const user = await User.get(session.userId);
  if (!user) throw invalidRefresh();
  const nextSecret = createSecret(32);
  if (!(await rotateRefresh(session, presented, hashSecret(nextSecret)))) throw invalidRefresh();
  return {
    token: await signAccessToken({ sub: session.userId, sid: sessionId, tid: session.tenantId }),
    refresh_token: `${sessionId}.${nextSecret}`,
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
  };
}

/** Ends the caller's session; its access and refresh tokens stop working at once. */
export async function logout(): Promise<void> {
  const actor = useUser();
  await revokeSession(actor.sessionId);
  await Audit.record({ action: "auth.logout", result: "success", resourceType: "session", resourceId: actor.sessionId });
}

/** The caller's session and identity (GET /auth/session). */
export async function currentSession(): Promise<{
  valid: true;
  user: { id: string; username: string; role: Role };
  tenant_id: string;
  session: { id: string; created_at: string | null; expires_at: string };
}> {
  const actor = useUser();
  const session = await getSession(actor.sessionId);
  if (!session) throw invalidToken();
  return {
    valid: true,
    user: { id: actor.userId, username: actor.username, role: actor.role },
    tenant_id: actor.tenantId,
    session: {
      id: session.sessionId,
      created_at: session.createdAt ?? null,
      expires_at: new Date(session.expires_at * 1000).toISOString(),
    },
  };
}

/** The caller's user record. Throws auth.invalid_token when it no longer exists. */
export async function me(): Promise<User.Item> {
  const user = await User.get(useUser().userId);
  if (!user) throw invalidToken();
  return user;
}

/** The caller's profile: user, tenant and preferences. */
export async function profile(): Promise<{ user: User.Info; tenant: Tenant.Info; preferences: User.PreferencesInfo }> {
  const user = await me();
  const [tenant, preferences] = await Promise.all([Tenant.get(user.tenantId), User.preferences(user.tenantId, user.userId)]);
  return { user: User.serialize(user), tenant, preferences };
}

// ---------------------------------------------------------------------------
// Passwords

/**
 * Emails a single-use reset link (30 minutes) when the address belongs to an
 * account. Same answer and similar timing either way, so it cannot be used
 * to find out which addresses have accounts.
 */
export async function forgotPassword(input: { email: string }): Promise<void> {
  await withFloor(ANSWER_FLOOR_MS, async () => {
    const user = await User.fromEmail(input.email);
    if (!user) {
      // The same number of table round trips as the real path, so timing does not tell the two apart.
      await Promise.all([User.get(createId("usr")), ResetTokenEntity.get({ tokenHash: hashSecret(createSecret(32)) }).go()]);
      await Audit.record({ action: "auth.password.reset_requested", result: "failure", details: { reason: "unknown_email" } });
      return;
    }
    const token = createSecret(32);
    await ResetTokenEntity.create({
      tokenHash: hashSecret(token),
      userId: user.userId,
      expires_at: expiresIn(RESET_TOKEN_TTL_SECONDS),
    }).go();
    const link = `${Config.publicUrl()}/reset-password?token=${token}`;
    await Mail.send({
      to: user.email,
      subject: "Reset your Flint password",
      text: [
        `Hello ${user.username},`,
        "",
        "Someone asked to reset the password of your Flint account. To choose a new one, open:",
        link,
        "",
        `Or send this reset token to the API: ${token}`,
        `The link works once and expires in ${RESET_TOKEN_TTL_SECONDS / 60} minutes. If you did not ask for it, ignore this email.`,
      ].join("\n"),
    });
    await Audit.record({ action: "auth.password.reset_requested", result: "success", tenantId: user.tenantId, userId: user.userId, username: user.username });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const invalidResetToken = () => invalid("auth.invalid_reset_token", "Invalid or expired reset token");

/**
 * Sets a new password with a reset token. The token is consumed in the same
 * transaction as the password change (single use), and every session of
 * the user is revoked. Throws auth.invalid_reset_token (invalid).
 */
export async function resetPassword(input: { token: string; newPassword: string }): Promise<void> {
  const password = User.Password.safeParse(input.newPassword);
  if (!password.success) throw invalid("request.invalid", password.error.issues[0]?.message ?? "Invalid password");
  const tokenHash = hashSecret(input.token);
  const record = (await ResetTokenEntity.get({ tokenHash }).go({ consistent: true })).data;
  if (!record || isExpired(record)) throw invalidResetToken();
  const user = await User.get(record.userId);
  if (!user) throw invalidResetToken();
  try {
    await ResetTokenEntity.delete({ tokenHash })
      .where(({ expires_at }, { gt }) => gt(expires_at, Math.floor(Date.now() / 1000)))
      .go();
  } catch (error) {
    if (isConditionalFailure(error)) throw invalidResetToken();
    throw error;
  }
  await User.setPassword(user.userId, password.data);
  // The link arrived by email, which proves the address.
  if (!user.emailVerified) await User.markEmailVerified(user.userId);
  const revoked = await revokeUserSessions(user.userId);
  await Audit.record({
    action: "auth.password.reset",
    result: "success",
    severity: "warning",
    resourceType: "user",
    resourceId: user.userId,
    tenantId: user.tenantId,
    userId: user.userId,
    username: user.username,
    details: { sessions_revoked: revoked },
  });
}

/**
 * Changes the caller's password after checking the current one, and revokes
 * every other session. Throws auth.invalid_current_password (invalid).
 */
export async function changePassword(input: { currentPassword: string; newPassword: string }): Promise<void> {
  const actor = useUser();
  const user = await me();
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    await Audit.record({ action: "auth.password.change", result: "failure", severity: "warning", resourceType: "user", resourceId: user.userId });
    throw invalid("auth.invalid_current_password", "The current password is not correct");
  }
  await User.setPassword(user.userId, input.newPassword);
  const revoked = await revokeUserSessions(user.userId, actor.sessionId);
  await Audit.record({
    action: "auth.password.change",
    result: "success",
    resourceType: "user",
    resourceId: user.userId,
    details: { sessions_revoked: revoked },
  });
  await Mail.send({
    to: user.email,
    subject: "Your Flint password was changed",
    text: `Hello ${user.username},\n\nThe password of your Flint account was just changed. If this was not you, reset your password now.`,
  }).catch((error: unknown) => logger.warn("password change notice not sent", { error: error as Error }));
}

// ---------------------------------------------------------------------------
// MFA enrolment

/**
 * Starts TOTP enrolment: a new secret (stored encrypted, pending until
 * `verifyMfa`), its otpauth:// URI and a QR code data URL.
 * Throws mfa.already_enabled (conflict).
 */
export async function setupMfa(): Promise<{ secret: string; provisioning_uri: string; qr_code: string }> {
  const user = await me();
  if (user.mfaEnabled) throw conflict("mfa.already_enabled", "MFA is already enabled; disable it first");
  const secret = Mfa.generateSecret();
  await User.setMfa(user.userId, { mfaPendingSecret: await Mfa.encryptSecret(secret) });
  const uri = Mfa.provisioningUri(user.email, secret);
  await Audit.record({ action: "mfa.setup", result: "success", resourceType: "user", resourceId: user.userId });
  return { secret, provisioning_uri: uri, qr_code: await Mfa.qrCode(uri) };
}

const invalidMfaCode = () => invalid("mfa.invalid_code", "Invalid MFA code");

async function limitMfaAttempts(userId: string): Promise<void> {
  await consume(`mfa:${userId}`, { limit: 10, windowSeconds: 300, code: "mfa.too_many_attempts" });
}

/** Confirms enrolment with a current code and turns MFA on. Throws mfa.invalid_code, mfa.not_set_up, mfa.already_enabled. */
export async function verifyMfa(input: { code: string }): Promise<void> {
  const user = await me();
  if (user.mfaEnabled) throw conflict("mfa.already_enabled", "MFA is already enabled");
  if (!user.mfaPendingSecret) throw invalid("mfa.not_set_up", "Start with POST /mfa/setup");
  await limitMfaAttempts(user.userId);
  const step = Mfa.matchStep(await Mfa.decryptSecret(user.mfaPendingSecret), input.code);
  if (step === undefined) {
    await Audit.record({ action: "mfa.enable", result: "failure", resourceType: "user", resourceId: user.userId });
    throw invalidMfaCode();
  }
  await User.setMfa(user.userId, { mfaEnabled: true, mfaSecret: user.mfaPendingSecret, mfaPendingSecret: null, mfaLastStep: step });
  await Audit.record({ action: "mfa.enable", result: "success", resourceType: "user", resourceId: user.userId });
}

/** Turns MFA off; needs a current code. Throws mfa.not_enabled, mfa.invalid_code. */
export async function disableMfa(input: { code: string }): Promise<void> {
  const user = await me();
  if (!user.mfaEnabled || !user.mfaSecret) throw invalid("mfa.not_enabled", "MFA is not enabled");
  await limitMfaAttempts(user.userId);
  const step = Mfa.matchStep(await Mfa.decryptSecret(user.mfaSecret), input.code);
  if (step === undefined || !(await User.claimTotpStep(user.userId, step))) {
    await Audit.record({ action: "mfa.disable", result: "failure", severity: "warning", resourceType: "user", resourceId: user.userId });
    throw invalidMfaCode();
  }
  await User.setMfa(user.userId, { mfaEnabled: false, mfaSecret: null, mfaPendingSecret: null });
  await Audit.record({ action: "mfa.disable", result: "success", severity: "warning", resourceType: "user", resourceId: user.userId });
}

// ---------------------------------------------------------------------------
// The caller's own settings

/** The caller's preferences, with defaults for fields never set. */
export async function preferences(): Promise<User.PreferencesInfo> {
  const actor = useUser();
  return User.preferences(actor.tenantId, actor.userId);
}

/** Merges validated fields into the caller's preferences. Throws request.invalid on unknown or bad fields. */
export async function updatePreferences(input: unknown): Promise<User.PreferencesInfo> {
  const actor = useUser();
  return User.updatePreferences(actor.tenantId, actor.userId, input);
}

/** Stores a push token for the caller's devices (delivery happens elsewhere). */
export async function registerPushToken(input: unknown): Promise<void> {
  const actor = useUser();
  await User.registerPushToken(actor.tenantId, actor.userId, input);
}
