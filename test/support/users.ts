/**
 * Test users made directly through core (no HTTP, no email round trip): a
 * verified user, logged in, with a bearer token for real HTTP calls.
 * Runs inside vitest workers, where process.env already points at the test
 * runtime's services.
 */
import { randomBytes } from "node:crypto";
import type { Role } from "../../core/actor";
import { Auth } from "../../core/auth";
import { User } from "../../core/user";

export interface TestUser {
  token: string;
  refreshToken: string;
  userId: string;
  username: string;
  email: string;
  tenantId: string;
  role: Role;
  password: string;
}

/**
 * Creates a verified user and logs it in. Without `tenantId` the user gets a
 * new tenant of its own; with it, the user joins that tenant. The role
 * defaults to "admin" (the role signup gives a new tenant's owner).
 *
 * @example
 * const alice = await createUser();                                     // admin of a fresh tenant
 * const viewer = await createUser({ tenantId: alice.tenantId, role: "viewer" });
 * await call("GET", "/datasets", { token: viewer.token });                // test/support/http.ts
 */
export async function createUser(options: { role?: Role; tenantId?: string; username?: string } = {}): Promise<TestUser> {
  const suffix = randomBytes(6).toString("hex");
  const username = options.username ?? `user_${suffix}`;
  const email = `${username.toLowerCase()}.${suffix}@test.flint.local`;
  const password = `pw-${randomBytes(12).toString("base64url")}`;
  const role = options.role ?? "admin";
  const user = await User.create({ username, email, password, role, tenantId: options.tenantId, emailVerified: true });
  const login = await Auth.login({ username, password });
  if (login.mfaRequired) throw new Error("a fresh test user never has MFA");
  return {
    token: login.token,
    refreshToken: login.refresh_token,
    userId: user.userId,
    username,
    email: user.email,
    tenantId: user.tenantId,
    role,
    password,
  };
}

/** `{ authorization: "Bearer …" }` for fetch. */
export function authHeader(user: { token: string }): Record<string, string> {
  return { authorization: `Bearer ${user.token}` };
}
