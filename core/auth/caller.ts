/**
 * Who the caller is: an access token resolved to its user actor (honoured
 * only while its session exists), and what the caller reads and sets of its
 * own session, record, profile and settings.
 */
import type { Actor, Role } from "../actor";
import { useUser } from "../actor";
import { getSession, getSessionForRequest, type Session } from "../credentials/session";
import { unauthorized } from "../error";
import { Tenant } from "../tenant";
import { User } from "../user";
import { signingKey } from "./keys";
import { verifyAccessToken } from "./token";

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
