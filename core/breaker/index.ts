/**
 * Circuit breakers for outbound dependencies, with their state in the table
 * so all Lambdas share it: closed → open after FAILURES failures within
 * WINDOW → after the cool-down one caller probes (half-open): success closes
 * the breaker, failure opens it again. An open breaker fails fast with 503
 * `<code>` and Retry-After, never a hang on a dead host.
 */
export * as Breaker from "./index";

import { Config } from "../config";
import { DomainError, isConditionalFailure } from "../error";
import { BreakerEntity, type BreakerItem } from "./entity";

export const FAILURES = 5;
export const WINDOW_MS = 60_000;
/** A probe that never reports back frees the half-open state after this long. */
const PROBE_MS = 60_000;

export interface GuardOptions {
  /** Which errors count against the dependency (a caller's own mistake does not). */
  isFailure: (error: unknown) => boolean;
  /** The error code of a fast failure, e.g. connector.circuit_open. */
  code: string;
  /** What the dependency is, for the error's message (never a credential). */
  label: string;
}

async function read(name: string): Promise<BreakerItem | undefined> {
  return (await BreakerEntity.get({ name }).go({ consistent: true })).data ?? undefined;
}

/** Writes `next` if the item is still at `current`'s revision; false when someone else changed it first. */
async function write(current: BreakerItem | undefined, next: Omit<BreakerItem, "revision" | "name">, name: string): Promise<boolean> {
  try {
    const item = { ...next, name, revision: (current?.revision ?? 0) + 1 };
    if (current) await BreakerEntity.put(item).where((attr, op) => op.eq(attr.revision, current.revision)).go();
    else await BreakerEntity.create(item).go();
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

const openError = (options: GuardOptions, until: number, now: number) =>
  new DomainError("unavailable", options.code, `${options.label} failed repeatedly; not calling it again for a while`, {
    retry_after_seconds: Math.max(1, Math.ceil((until - now) / 1000)),
  });

/**
 * Lets the call through, or throws the fast failure; claims the probe when the cool-down is over.
 * @returns how the call was let through, and whether the breaker had failures to forget on success
 */
async function admit(name: string, options: GuardOptions): Promise<{ admitted: "closed" | "probe"; clean: boolean }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = Date.now();
    const item = await read(name);
    if (!item || item.state === "closed") return { admitted: "closed", clean: !item || item.failures === 0 };
    if (now < (item.until ?? 0)) throw openError(options, item.until ?? now, now);
    // Open and cooled down, or a half-open probe that never reported: this caller probes.
    if (await write(item, { state: "half_open", failures: item.failures, windowStart: item.windowStart, until: now + PROBE_MS, lastError: item.lastError }, name)) {
      return { admitted: "probe", clean: false };
    }
  }
  throw openError(options, Date.now() + 1000, Date.now());
}

async function succeeded(name: string, admitted: "closed" | "probe"): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const item = await read(name);
    if (!item || (item.state === "closed" && item.failures === 0)) return;
    if (admitted === "closed" && item.state !== "closed") return;
    if (await write(item, { state: "closed", failures: 0, windowStart: Date.now() }, name)) return;
  }
}

async function failed(name: string, error: unknown): Promise<void> {
  const reason = error instanceof DomainError ? error.code : (error as Error)?.name ?? "error";
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = Date.now();
    const item = await read(name);
    const inWindow = item && now - item.windowStart < WINDOW_MS;
    const failures = (inWindow ? item.failures : 0) + 1;
    const windowStart = inWindow ? item.windowStart : now;
    const opens = item?.state === "half_open" || failures >= FAILURES;
    const next = opens
      ? { state: "open" as const, failures, windowStart, until: now + Config.breakerCooldownMs(), lastError: reason }
      : { state: item?.state ?? ("closed" as const), failures, windowStart, until: item?.until, lastError: reason };
    if (await write(item, next, name)) return;
  }
}

/**
 * Runs `call` through the breaker `name`.
 * @throws `options.code` (unavailable, 503, `details.retry_after_seconds`) while the breaker is open; else what `call` throws
 */
export async function guard<T>(name: string, options: GuardOptions, call: () => Promise<T>): Promise<T> {
  const { admitted, clean } = await admit(name, options);
  let result: T;
  try {
    result = await call();
  } catch (error) {
    if (options.isFailure(error)) await failed(name, error);
    else if (admitted === "probe") await succeeded(name, admitted);
    throw error;
  }
  // A breaker that had nothing to forget needs no second read.
  if (!clean) await succeeded(name, admitted);
  return result;
}

/** A breaker's state as operators see it (closed when it never failed). */
export async function state(name: string): Promise<{ state: BreakerItem["state"]; failures: number; until: number | null }> {
  const item = await read(name);
  return { state: item?.state ?? "closed", failures: item?.failures ?? 0, until: item?.until ?? null };
}
