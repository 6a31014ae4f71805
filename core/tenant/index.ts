/**
 * Tenants (organizations). Every resource belongs to one; a user belongs to
 * exactly one tenant with one role. A tenant without a subscription record is
 * on the Free plan (billing owns subscriptions).
 */
export * as Tenant from "./index";

import { z } from "zod";
import { useActor } from "../actor";
import { Cursor } from "../cursor";
import { notFound } from "../error";
import { createId } from "../id";
import { TenantEntity, type Item } from "./entity";

export { TenantEntity, type Item } from "./entity";

export const Info = z.object({ id: z.string(), name: z.string(), created_at: z.string() });
export type Info = z.infer<typeof Info>;

export function newId(): string {
  return createId("tnt");
}

export function serialize(item: Item): Info {
  return { id: item.tenantId, name: item.name, created_at: item.createdAt ?? "" };
}

/** The caller's tenant, or another one for a superadmin. Throws tenant.not_found. */
export async function get(tenantId: string): Promise<Info> {
  const actor = useActor();
  const allowed = actor.type === "system" || (actor.type === "user" && (actor.superadmin || actor.tenantId === tenantId));
  if (!allowed) throw notFound("tenant", tenantId);
  const result = await TenantEntity.get({ tenantId }).go();
  if (!result.data) throw notFound("tenant", tenantId);
  return serialize(result.data);
}

/** True when the tenant exists (no actor check; for core-internal use). */
export async function exists(tenantId: string): Promise<boolean> {
  const result = await TenantEntity.get({ tenantId }).go({ attributes: ["tenantId"] });
  return result.data !== null;
}

/** One page of every tenant, newest first (platform superadmin views). No actor check: callers authorize. */
export async function listAll(options: { limit?: number; cursor?: string | null } = {}): Promise<{ items: Info[]; cursor: string | null }> {
  const result = await Cursor.page(TenantEntity.query.all({}), { order: "desc", limit: options.limit ?? 100, cursor: options.cursor });
  return { items: result.data.map(serialize), cursor: result.cursor };
}
