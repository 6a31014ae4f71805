/**
 * The one cursor codec for every list. A cursor is what ElectroDB hands out:
 * base64url of the JSON of DynamoDB's LastEvaluatedKey. Before a cursor
 * reaches DynamoDB it is decoded and checked against the query it is given
 * to: exactly the key attributes of the query's index (and the table's), all
 * strings, in the query's partition and inside its sort-key condition. Anything
 * else answers request.invalid_cursor (400), so a cursor of another list, of
 * another tenant or of no list at all never becomes a 500 or a peek elsewhere.
 */
export * as Cursor from "./cursor";

import { z } from "zod";
import { TABLE_INDEXES } from "./db";
import { DomainError } from "./error";

export const MAX_LENGTH = 2048;

/** The `cursor` query parameter, as every list route declares it. */
export const Param = z.string().min(1).max(MAX_LENGTH);

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_KEY_VALUE_LENGTH = 1024;

const invalidCursor = (reason: string, cause?: unknown) =>
  new DomainError("invalid", "request.invalid_cursor", "The cursor is not valid for this list", { reason }, { cause });

/**
 * For a list that always fits one page (so it never hands out a cursor): any
 * cursor given is not its own.
 * @throws request.invalid_cursor when `cursor` is given
 */
export function assertNone(cursor: string | null | undefined): void {
  if (cursor) throw invalidCursor("this list has one page");
}

/** What `page` needs of an ElectroDB query: its DynamoDB parameters and its terminal. */
interface Pageable {
  params(options?: object): object;
  go(options: { cursor: string | null; limit?: number; order?: "asc" | "desc" }): Promise<unknown>;
}

interface QueryParams {
  IndexName?: string;
  KeyConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * One page of `query`, starting after `options.cursor` (from the first item
 * when it is absent).
 * @throws request.invalid_cursor (invalid) for a cursor that is malformed or
 *   does not belong to this query
 * @example
 * const page = await Cursor.page(DatasetEntity.query.byTenant({ tenantId }), { cursor, limit: 50, order: "desc" });
 */
export async function page<Q extends Pageable>(
  query: Q,
  options: { cursor?: string | null; limit?: number; order?: "asc" | "desc" },
): Promise<Awaited<ReturnType<Q["go"]>>> {
  const cursor = options.cursor ? check(options.cursor, query.params() as QueryParams) : null;
  try {
    return (await query.go({ ...options, cursor })) as Awaited<ReturnType<Q["go"]>>;
  } catch (error) {
    // The checks above mirror DynamoDB's; should a condition they do not model refuse the start key, it is still the cursor's fault.
    if (cursor && isStartKeyRejection(error)) throw invalidCursor("refused by the database", error);
    throw error;
  }
}

/**
 * Decodes `cursor` and checks it against the query's parameters; returns it
 * unchanged for ElectroDB.
 * @throws request.invalid_cursor
 */
export function check(cursor: string, params: QueryParams): string {
  if (cursor.length > MAX_LENGTH || !BASE64URL.test(cursor)) throw invalidCursor("not base64url");
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (error) {
    throw invalidCursor("not a key", error);
  }
  if (typeof key !== "object" || key === null || Array.isArray(key)) throw invalidCursor("not a key");

  const index = params.IndexName ? TABLE_INDEXES[params.IndexName as keyof typeof TABLE_INDEXES] : TABLE_INDEXES.primary;
  if (!index) throw new Error(`Cursor.check: unknown index ${params.IndexName}`);
  const expected = new Set<string>([TABLE_INDEXES.primary.pk, TABLE_INDEXES.primary.sk, index.pk, index.sk]);
  const entries = Object.entries(key);
  const shaped =
    entries.length === expected.size &&
    entries.every(([name, value]) => expected.has(name) && typeof value === "string" && value.length > 0 && value.length <= MAX_KEY_VALUE_LENGTH);
  if (!shaped) throw invalidCursor("not a key of this list");

  const fields = key as Record<string, string>;
  const condition = keyCondition(params);
  if (condition.partition !== undefined && fields[index.pk] !== condition.partition) throw invalidCursor("another list's key");
  const sort = fields[index.sk]!;
  if (condition.prefix !== undefined && !sort.startsWith(condition.prefix)) throw invalidCursor("another list's key");
  if (condition.between && (sort < condition.between[0] || sort > condition.between[1])) throw invalidCursor("outside this list's range");
  return cursor;
}

/** The partition value and the sort-key condition (begins_with or BETWEEN) of ElectroDB's key condition. */
function keyCondition(params: QueryParams): { partition?: string; prefix?: string; between?: [string, string] } {
  const expression = params.KeyConditionExpression ?? "";
  const values = params.ExpressionAttributeValues ?? {};
  const value = (name: string | undefined) => (name !== undefined && typeof values[name] === "string" ? (values[name] as string) : undefined);
  const partition = /#pk = (:\w+)/.exec(expression)?.[1];
  const prefix = /begins_with\(#sk1, (:\w+)\)/.exec(expression)?.[1];
  const between = /#sk1 BETWEEN (:\w+) AND (:\w+)/.exec(expression);
  const low = value(between?.[1]);
  const high = value(between?.[2]);
  return {
    partition: value(partition),
    prefix: value(prefix),
    between: low !== undefined && high !== undefined ? [low, high] : undefined,
  };
}

/** DynamoDB's ValidationException for an ExclusiveStartKey (ElectroDB keeps it as the cause). */
function isStartKeyRejection(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const message = (current as { message?: string }).message ?? "";
    if (/starting key|ExclusiveStartKey|exclusive start key/i.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
