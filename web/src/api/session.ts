/**
 * The signed-in session. The access token lives only in memory; the refresh
 * token is an httpOnly cookie the API sets for `/api/v1/auth` when asked with
 * `X-Flint-Session: cookie`, so a reload restores the session and no script
 * (nor an XSS payload) can read either token. Refreshes are serialised across
 * tabs with the Web Locks API: two tabs presenting the same refresh token at
 * once would look like token theft and revoke the session.
 */
import type { components } from "./schema";
import { ApiError } from "./errors";

export type User = components["schemas"]["User"];
export type Role = User["role"];

interface State {
  token: string | null;
  user: User | null;
  /** True until the first restore attempt finished. */
  restoring: boolean;
}

let state: State = { token: null, user: null, restoring: true };
const listeners = new Set<() => void>();
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let refreshing: Promise<string | null> | undefined;

export const SESSION_HEADER = { "X-Flint-Session": "cookie" } as const;

export function sessionState(): State {
  return state;
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function set(next: Partial<State>) {
  state = { ...state, ...next };
  for (const listener of listeners) listener();
}

async function post(path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`/api/v1${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", ...SESSION_HEADER, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

async function loadUser(token: string): Promise<User> {
  const response = await fetch("/api/v1/auth/me", { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw await ApiError.from(response);
  return (await response.json()) as User;
}

function schedule(expiresInSeconds: number) {
  clearTimeout(refreshTimer);
  // Renew well before expiry so a request never carries a token about to lapse.
  refreshTimer = setTimeout(() => void refresh(), Math.max(5, expiresInSeconds * 0.8) * 1000);
}

async function begin(token: string, expiresIn: number): Promise<User> {
  const user = await loadUser(token);
  schedule(expiresIn);
  set({ token, user, restoring: false });
  return user;
}

export type LoginOutcome = { kind: "signed_in"; user: User } | { kind: "mfa_required"; mfaToken: string };

export async function login(username: string, password: string): Promise<LoginOutcome> {
  const response = await post("/auth/login", { username, password });
  if (!response.ok) throw await ApiError.from(response);
  const body = (await response.json()) as components["schemas"]["LoginResponse"];
  if (body.mfa_required) return { kind: "mfa_required", mfaToken: body.mfa_token ?? body.token ?? "" };
  return { kind: "signed_in", user: await begin(body.token!, body.expires_in) };
}

export async function completeMfa(mfaToken: string, code: string): Promise<User> {
  const response = await post("/auth/mfa/validate", { mfa_token: mfaToken, code });
  if (!response.ok) throw await ApiError.from(response);
  const body = (await response.json()) as { token: string; expires_in: number };
  return begin(body.token, body.expires_in);
}

/** A new access token from the refresh cookie, or null when there is no session to renew. */
export function refresh(): Promise<string | null> {
  refreshing ??= withLock(async () => {
    const response = await post("/auth/refresh", {});
    if (!response.ok) {
      clearTimeout(refreshTimer);
      set({ token: null, user: null, restoring: false });
      return null;
    }
    const body = (await response.json()) as { token: string; expires_in: number };
    if (state.user) {
      schedule(body.expires_in);
      set({ token: body.token });
    } else {
      await begin(body.token, body.expires_in);
    }
    return body.token;
  }).finally(() => (refreshing = undefined));
  return refreshing;
}

/** At start: resume the session the refresh cookie holds, if any. */
export async function restore(): Promise<void> {
  await refresh().catch(() => set({ token: null, user: null, restoring: false }));
}

/** Ends the session on the server (which also clears the refresh cookie), then here. */
export async function logout(): Promise<void> {
  const token = state.token;
  clearTimeout(refreshTimer);
  if (token) {
    const answer = await post("/auth/logout", {}, token).catch(() => undefined);
    // An access token that lapsed meanwhile: renew it once, or the cookie's session would outlive the logout.
    if (answer?.status === 401) {
      const renewed = await refresh().catch(() => null);
      if (renewed) await post("/auth/logout", {}, renewed).catch(() => undefined);
    }
  }
  clearTimeout(refreshTimer);
  set({ token: null, user: null, restoring: false });
}

/** Applies a changed profile (e.g. after MFA enrolment) without a new login. */
export function updateUser(user: User) {
  set({ user });
}

async function withLock<T>(work: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? (locks.request("flint-refresh", work) as Promise<T>) : work();
}

export const can = {
  /** Operators and admins change data; viewers only read. */
  write: (user: User | null) => user?.role === "admin" || user?.role === "operator",
  admin: (user: User | null) => user?.role === "admin",
};
