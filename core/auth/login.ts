/**
 * Sessions from credentials: login with the optional MFA challenge, refresh
 * token rotation with reuse detection, and logout. (The session records
 * themselves are credentials/session.)
 */
import { useUser } from "../actor";
import { Audit } from "../audit";
import { verifyPassword } from "../credentials/password";
import {
  MFA_CHALLENGE_MAX_ATTEMPTS,
  MFA_CHALLENGE_TTL_SECONDS,
  MfaChallengeEntity,
  isExpired,
} from "../credentials/records";
import { createSession, getSession, revokeSession, rotateRefresh } from "../credentials/session";
import { expiresIn } from "../db";
import { forbidden, isConditionalFailure, unauthorized } from "../error";
import { createId, createSecret } from "../id";
import { logger } from "../logger";
import { User } from "../user";
import * as Mfa from "./mfa";
import { ACCESS_TOKEN_TTL_SECONDS, hashSecret, sameHash, signAccessToken } from "./token";

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
 * it leaked: the whole session is revoked. Throws auth.invalid_refresh_token,
 * also when no token was presented at all.
 */
export async function refresh(refreshToken: string | undefined): Promise<Tokens> {
  const match = /^(ses_[0-9a-z]{26})\.([\w-]{20,100})$/.exec(refreshToken ?? "");
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
