/**
 * Who is calling. The HTTP, WebSocket and job entry points set the actor once;
 * core reads it with useActor()/useTenant() instead of taking loose parameters.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { forbidden, unauthorized } from "./error";

export type Role = "admin" | "operator" | "viewer";
export const ROLES: readonly Role[] = ["admin", "operator", "viewer"] as const;

export type Actor =
  | { type: "user"; userId: string; username: string; tenantId: string; role: Role; superadmin: boolean; sessionId: string }
  | { type: "device"; tenantId: string; targetId: string }
  | { type: "system"; tenantId?: string }
  | { type: "public" };

const storage = new AsyncLocalStorage<Actor>();

export function withActor<T>(actor: Actor, run: () => T): T {
  return storage.run(actor, run);
}

export function useActor(): Actor {
  return storage.getStore() ?? { type: "public" };
}

export function useUser(): Extract<Actor, { type: "user" }> {
  const actor = useActor();
  if (actor.type !== "user") throw unauthorized();
  return actor;
}

/** The tenant every data access is scoped to. */
export function useTenant(): string {
  const actor = useActor();
  if (actor.type === "public" || !actor.tenantId) throw unauthorized();
  return actor.tenantId;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Throws auth.forbidden unless the calling user has at least `role` in its tenant. */
export function assertRole(role: Role): void {
  const actor = useActor();
  if (actor.type === "system") return;
  if (actor.type !== "user") throw unauthorized();
  if (actor.superadmin) return;
  if (RANK[actor.role] < RANK[role]) {
    throw forbidden("auth.forbidden", `This action needs the ${role} role`, { required_role: role, role: actor.role });
  }
}
