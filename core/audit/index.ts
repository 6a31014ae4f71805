/**
 * The audit trail: append-only entries for every mutating request and every
 * auth event (who, tenant, action, resource, IP, user agent, result, time).
 * Entries are only ever created; this module has no update or delete.
 * Listing is a Query on the tenant's partition (or a per-user / per-action
 * index), newest first, never a Scan.
 */
export * as Audit from "./index";

import { AsyncLocalStorage } from "node:async_hooks";
import { ulid } from "ulid";
import { z } from "zod";
import { useActor } from "../actor";
import { Cursor } from "../cursor";
import { expiresIn } from "../db";
import { logger } from "../logger";
import { AuditEntity, type AuditItem } from "./entity";

export { AuditEntity } from "./entity";
export type Item = AuditItem;

/** The user id of entries made by nobody signed in (index keys need a value). */
export const ANONYMOUS = "anonymous";
/** Where entries without a tenant go (e.g. a failed login for an unknown username). */
export const PLATFORM_TENANT = "platform";
/** Entries are kept a year, then TTL removes them. */
const RETENTION_SECONDS = 366 * 24 * 60 * 60;

/** Request facts the HTTP layer knows and core does not. */
export interface RequestContext {
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

const requestContext = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with the request's IP / user agent available to audit records and sessions. */
export function withRequest<T>(context: RequestContext, fn: () => T): T {
  return requestContext.run(context, fn);
}

export function useRequest(): RequestContext {
  return requestContext.getStore() ?? {};
}

export interface RecordInput {
  action: string;
  result: "success" | "failure";
  resourceType?: string;
  resourceId?: string;
  statusCode?: number;
  severity?: "info" | "warning" | "critical";
  method?: string;
  path?: string;
  /** Non-secret context only (no passwords, codes or tokens). */
  details?: Record<string, string | number | boolean | null>;
  /** Defaults to the current actor. */
  tenantId?: string;
  userId?: string;
  username?: string;
}

/**
 * Appends one entry. Never throws: a failing audit write is logged and must
 * not fail (or alter the answer of) the request that caused it.
 */
export async function record(input: RecordInput): Promise<void> {
  const actor = useActor();
  const request = useRequest();
  const fromActor =
    actor.type === "user"
      ? { tenantId: actor.tenantId, userId: actor.userId, username: actor.username }
      : actor.type === "device"
        ? { tenantId: actor.tenantId, userId: `device:${actor.targetId}` }
        : actor.type === "system"
          ? { tenantId: actor.tenantId, userId: "system" }
          : {};
  const now = new Date();
  try {
    await AuditEntity.create({
      tenantId: input.tenantId ?? fromActor.tenantId ?? PLATFORM_TENANT,
      auditId: createAuditId(now),
      at: now.toISOString(),
      userId: input.userId ?? fromActor.userId ?? ANONYMOUS,
      username: input.username ?? ("username" in fromActor ? fromActor.username : undefined),
      action: input.action.slice(0, 200),
      resourceType: input.resourceType,
      resourceId: input.resourceId?.slice(0, 200),
      result: input.result,
      statusCode: input.statusCode,
      severity: input.severity ?? (input.result === "failure" ? "warning" : "info"),
      ip: request.ip,
      userAgent: request.userAgent?.slice(0, 256),
      requestId: request.requestId,
      method: input.method,
      path: input.path?.slice(0, 500),
      detailsJson: input.details ? JSON.stringify(input.details) : undefined,
      expires_at: expiresIn(RETENTION_SECONDS),
    }).go();
  } catch (error) {
    logger.error("audit write failed", { action: input.action, error: error as Error });
  }
}

function createAuditId(now: Date): string {
  return `aud_${ulid(now.getTime()).toLowerCase()}`;
}

export const Entry = z.object({
  id: z.string(),
  timestamp: z.string(),
  tenant_id: z.string(),
  user_id: z.string().nullable(),
  username: z.string().nullable(),
  action: z.string(),
  resource_type: z.string().nullable(),
  resource_id: z.string().nullable(),
  result: z.enum(["success", "failure"]),
  status_code: z.number().nullable(),
  severity: z.enum(["info", "warning", "critical"]),
  ip_address: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
  method: z.string().nullable(),
  path: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
});
export type Entry = z.infer<typeof Entry>;

export function serialize(item: Item): Entry {
  return {
    id: item.auditId,
    timestamp: item.at,
    tenant_id: item.tenantId,
    user_id: item.userId === ANONYMOUS ? null : item.userId,
    username: item.username ?? null,
    action: item.action,
    resource_type: item.resourceType ?? null,
    resource_id: item.resourceId ?? null,
    result: item.result,
    status_code: item.statusCode ?? null,
    severity: item.severity,
    ip_address: item.ip ?? null,
    user_agent: item.userAgent ?? null,
    request_id: item.requestId ?? null,
    method: item.method ?? null,
    path: item.path ?? null,
    details: item.detailsJson ? (JSON.parse(item.detailsJson) as Record<string, unknown>) : null,
  };
}

export interface ListFilter {
  tenantId: string;
  userId?: string;
  action?: string;
  resourceType?: string;
  severity?: "info" | "warning" | "critical";
  /** ISO timestamps, inclusive. */
  startDate?: string;
  endDate?: string;
  limit?: number;
  cursor?: string | null;
}

const MAX_PAGE = 1000;

/**
 * One page of a tenant's entries, newest first. Picks the per-user or
 * per-action index when those filters are given; the date range is a key
 * condition on every index. Throws request.invalid_cursor for a bad cursor
 * (malformed, of another filter or another tenant).
 */
export async function list(filter: ListFilter): Promise<{ entries: Entry[]; cursor: string | null }> {
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), MAX_PAGE);
  const start = filter.startDate ?? "0000";
  // "~" sorts after every ISO timestamp, so the end bound includes all of end_date's entries.
  const end = filter.endDate ? `${filter.endDate}~` : "9999";
  const query = filter.userId
    ? AuditEntity.query.byUser({ tenantId: filter.tenantId, userId: filter.userId })
    : filter.action
      ? AuditEntity.query.byAction({ tenantId: filter.tenantId, action: filter.action })
      : AuditEntity.query.byTenant({ tenantId: filter.tenantId });
  let ranged = query.between({ at: start }, { at: end });
  const extra: ((attr: any, op: any) => string)[] = [];
  if (filter.userId && filter.action) extra.push(({ action }, { eq }) => eq(action, filter.action));
  if (filter.resourceType) extra.push(({ resourceType }, { eq }) => eq(resourceType, filter.resourceType));
  if (filter.severity) extra.push(({ severity }, { eq }) => eq(severity, filter.severity));
  for (const clause of extra) ranged = ranged.where(clause);
  const result = await Cursor.page(ranged, { order: "desc", limit, cursor: filter.cursor });
  return { entries: result.data.map(serialize), cursor: result.cursor };
}

/** All entries in the range (paged through internally), capped at `max`. */
export async function exportAll(filter: Omit<ListFilter, "cursor" | "limit">, max = 10_000): Promise<Entry[]> {
  const entries: Entry[] = [];
  let cursor: string | null = null;
  do {
    const page = await list({ ...filter, cursor, limit: MAX_PAGE });
    entries.push(...page.entries);
    cursor = page.cursor;
  } while (cursor && entries.length < max);
  return entries.slice(0, max);
}

const CSV_COLUMNS = [
  "id",
  "timestamp",
  "tenant_id",
  "user_id",
  "username",
  "action",
  "resource_type",
  "resource_id",
  "result",
  "status_code",
  "severity",
  "ip_address",
  "user_agent",
  "request_id",
  "method",
  "path",
] as const;

/** RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with a quote. */
export function toCsv(entries: Entry[]): string {
  const cell = (value: unknown): string => {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [CSV_COLUMNS.join(","), ...entries.map((entry) => CSV_COLUMNS.map((column) => cell(entry[column])).join(","))];
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * Appends the entry for one mutating HTTP request: action `METHOD /route/:pattern`,
 * the resource named by the route (`/datasets/:id` → type "datasets", id
 * from the path), and success for statuses below 400. Never throws.
 */
export async function recordRequest(input: { method: string; path: string; route: string; status: number }): Promise<void> {
  const { resourceType, resourceId } = resourceOf(input.path, input.route);
  // record() never throws either.
  await record({
    action: `${input.method} ${input.route}`,
    result: input.status < 400 ? "success" : "failure",
    severity: input.status >= 500 ? "warning" : "info",
    statusCode: input.status,
    method: input.method,
    path: input.path,
    resourceType,
    resourceId,
  });
}

/**
 * The first `:param` segment of the route names the resource; the segment
 * before it is its type. A segment that does not decode is kept as sent.
 */
export function resourceOf(path: string, route: string): { resourceType?: string; resourceId?: string } {
  const strip = (value: string) => value.replace(/^\/api\/v\d+\//, "").replace(/^\//, "").split("/").filter(Boolean);
  const actual = strip(path);
  const pattern = strip(route);
  const index = pattern.findIndex((segment) => segment.startsWith(":"));
  if (index > 0) return { resourceType: pattern[index - 1], resourceId: actual[index] ? decodeSegment(actual[index]) : undefined };
  return { resourceType: pattern[0] ?? actual[0] };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
