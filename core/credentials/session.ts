/**
 * Sessions: the source of truth behind every access token. A token is only
 * valid while its session item exists; revoking deletes the item. The session
 * carries the user's tenant and role so one read resolves the actor, and role
 * changes are written through to the user's sessions.
 */
import type { Role } from "../actor";
import { Config } from "../config";
import { expiresIn } from "../db";
import { isConditionalFailure } from "../error";
import { SessionEntity, type Session } from "./entities";

export { SessionEntity, type Session } from "./entities";

/** Refresh tokens, and therefore sessions, live at most this long. */
export const SESSION_TTL_SECONDS = 30 * 24 * 60 * 60;
/** Old refresh-token hashes kept per session to detect reuse. */
const USED_HASHES_KEPT = 20;

export async function createSession(input: {
  sessionId: string;
  userId: string;
  tenantId: string;
  username: string;
  role: Role;
  superadmin: boolean;
  refreshHash: string;
  ip?: string;
  userAgent?: string;
}): Promise<Session> {
  const result = await SessionEntity.create({
    ...input,
    userAgent: input.userAgent?.slice(0, 256),
    expires_at: expiresIn(SESSION_TTL_SECONDS),
  }).go();
  return result.data;
}

/** The live session, or undefined when it was revoked or has expired. */
export async function getSession(sessionId: string): Promise<Session | undefined> {
  const result = await SessionEntity.get({ sessionId }).go({ consistent: true });
  const session = result.data;
  if (!session || session.expires_at * 1000 <= Date.now()) return undefined;
  return session;
}

/**
 * Sessions this process read recently, for the per-request check. Every
 * change made here drops the entry at once; a change made by another process
 * (another Lambda) is seen within `Config.sessionCacheSeconds()`.
 */
const recent = new Map<string, { session: Session; readAt: number }>();
const RECENT_MAX = 10_000;

/**
 * The live session for an access token, read at most once per
 * `Config.sessionCacheSeconds()` per process: the check every authenticated
 * request makes, without a table read each time.
 */
export async function getSessionForRequest(sessionId: string): Promise<Session | undefined> {
  const maxAgeMs = Config.sessionCacheSeconds() * 1000;
  const cached = recent.get(sessionId);
  const now = Date.now();
  if (cached && now - cached.readAt < maxAgeMs) {
    return cached.session.expires_at * 1000 <= now ? undefined : cached.session;
  }
  const session = await getSession(sessionId);
  if (!session || maxAgeMs <= 0) {
    recent.delete(sessionId);
    return session;
  }
  if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value!);
  recent.set(sessionId, { session, readAt: now });
  return session;
}

function forget(sessionId: string): void {
  recent.delete(sessionId);
}

/**
 * Replaces the refresh hash if it is still `expected` (rotation). False when
 * another refresh won the race or the session is gone.
 */
export async function rotateRefresh(session: Session, expected: string, next: string): Promise<boolean> {
  try {
    await SessionEntity.patch({ sessionId: session.sessionId })
      .set({
        refreshHash: next,
        usedRefreshHashes: [expected, ...(session.usedRefreshHashes ?? [])].slice(0, USED_HASHES_KEPT),
        refreshedAt: new Date().toISOString(),
      })
      .where(({ refreshHash }, { eq }) => eq(refreshHash, expected))
      .go();
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

export async function revokeSession(sessionId: string): Promise<void> {
  forget(sessionId);
  await SessionEntity.delete({ sessionId }).go();
}

export async function listUserSessions(userId: string): Promise<Session[]> {
  const result = await SessionEntity.query.byUser({ userId }).go({ pages: "all" });
  return result.data;
}

/** Deletes every session of a user except `keep`; returns how many went. */
export async function revokeUserSessions(userId: string, keep?: string): Promise<number> {
  const sessions = (await listUserSessions(userId)).filter((session) => session.sessionId !== keep);
  for (const { sessionId } of sessions) forget(sessionId);
  if (sessions.length > 0) {
    await SessionEntity.delete(sessions.map(({ sessionId }) => ({ sessionId }))).go();
  }
  return sessions.length;
}

/** Writes a new role (and tenant) through to every live session of the user. */
export async function updateUserSessions(userId: string, changes: { role?: Role; tenantId?: string }): Promise<void> {
  const sessions = await listUserSessions(userId);
  await Promise.all(
    sessions.map(async ({ sessionId }) => {
      forget(sessionId);
      try {
        await SessionEntity.patch({ sessionId }).set(changes).go();
      } catch (error) {
        // A session revoked meanwhile is fine.
        if (!isConditionalFailure(error)) throw error;
      }
    }),
  );
}
