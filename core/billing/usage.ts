/**
 * Usage counters: how many datasets, models and deployments a tenant holds
 * against its plan. A counter changes only inside the same DynamoDB
 * transaction as the resource it counts, under a condition (`used < limit`
 * to take a unit, the counter's existence always), so concurrent creates can
 * never overshoot a limit and a failed create leaves no trace in the count.
 *
 * A tenant that predates its counter has none: the first write that needs it
 * finds it missing, the counter is created from a count of the resources,
 * and the write runs again. Every counted write requires the counter to
 * exist, so nothing counted changes while it is missing and the count is
 * exact; the create is conditional, so concurrent first writes agree.
 */
import { Table } from "../table";
import { isConditionalFailure } from "../error";
import { UsageCounterEntity, type CountedKind } from "./entities";

export { COUNTED_KINDS, UsageCounterEntity, type CountedKind, type UsageCounter } from "./entities";

/** What a counted write answers when the counter's condition refused it (missing, or at the limit). */
export const COUNTER_REFUSED = Symbol("counter refused");

/** What a counted write answers when DynamoDB cancelled its transaction for a concurrent one (try again). */
export const TRANSACTION_CONFLICT = Symbol("transaction conflict");

/** ElectroDB's answer to a write transaction. */
export interface TransactionResult {
  canceled: boolean;
  data: { rejected?: boolean; code?: string }[];
}

/**
 * Why a transaction did not go through: the index of the first item whose
 * condition failed, TRANSACTION_CONFLICT when DynamoDB cancelled it for a
 * concurrent transaction, undefined when it went through.
 */
export function refusedItem(result: TransactionResult): number | typeof TRANSACTION_CONFLICT | undefined {
  if (!result.canceled) return undefined;
  const failed = result.data.findIndex((item) => item.code === "ConditionalCheckFailed");
  if (failed >= 0) return failed;
  return TRANSACTION_CONFLICT;
}

/**
 * The outcome of a transaction whose item `counterAt` is the usage counter:
 * true when it went through, COUNTER_REFUSED when the counter's condition
 * failed (missing, or at the limit), TRANSACTION_CONFLICT when a concurrent
 * transaction cancelled it, false when another item's condition failed.
 */
export function counterOutcome(result: TransactionResult, counterAt: number): boolean | typeof COUNTER_REFUSED | typeof TRANSACTION_CONFLICT {
  const refused = refusedItem(result);
  if (refused === counterAt) return COUNTER_REFUSED;
  if (refused === TRANSACTION_CONFLICT) return refused;
  return refused === undefined;
}

/** The counter's value (strongly consistent), or undefined when the tenant has none yet. */
export async function readCounter(tenantId: string, kind: CountedKind): Promise<number | undefined> {
  const result = await UsageCounterEntity.get({ tenantId, kind }).go({ consistent: true });
  return result.data?.used;
}

/** Creates the tenant's counter from `count()` unless it exists; concurrent callers agree on one. */
export async function initCounter(tenantId: string, kind: CountedKind, count: () => Promise<number>): Promise<void> {
  if ((await readCounter(tenantId, kind)) !== undefined) return;
  const used = await count();
  try {
    await UsageCounterEntity.create({ tenantId, kind, used }).go();
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}

/** The counter entity as a Service's `transaction.write` callback receives it. */
export type CounterInTransaction = Parameters<Parameters<typeof Table.transaction.write>[0]>[0]["usage"];

/** The transaction item that takes one unit: `+1` if the counter exists and is below `max`. */
export function takeOne(usage: CounterInTransaction, tenantId: string, kind: CountedKind, max: number) {
  return usage
    .update({ tenantId, kind })
    .add({ used: 1 })
    .where((a, op) => `${op.exists(a.used)} AND ${op.lt(a.used, max)}`)
    .commit();
}

/** The transaction item that gives one unit back: `-1` if the counter exists. */
export function giveOne(usage: CounterInTransaction, tenantId: string, kind: CountedKind) {
  return usage
    .update({ tenantId, kind })
    .add({ used: -1 })
    .where((a, op) => op.exists(a.used))
    .commit();
}

/** The transaction item that only requires the counter to exist (a change that takes or gives nothing). */
export function counterExists(usage: CounterInTransaction, tenantId: string, kind: CountedKind) {
  return usage
    .check({ tenantId, kind })
    .where((a, op) => op.exists(a.used))
    .commit();
}
