/** What the sources share: deadlines, the errors every source answers with, and reading a driver's row stream. */
import { DomainError } from "../../error";
import type { Value } from "../rows";

/** An uploaded SQLite file's connection string: `upload:<bucket key>`. */
export const UPLOADED = "upload:";

export interface OpenOptions {
  /** Connecting (and an HTTP source's first answer) may take this long. */
  connectTimeoutMs: number;
  /** The query may run this long. */
  statementTimeoutMs: number;
}

/** 502: the source could not be reached or refused us; `reason` names what failed, never a credential. */
export const connectionFailed = (host: string, reason: string) =>
  new DomainError("upstream", "connector.cannot_connect", `Cannot connect to ${host}: ${reason}`, { host, reason });

/** 504: the source took longer than its deadline. */
export const timedOut = (host: string) =>
  new DomainError("timeout", "connector.timeout", `${host} did not answer in time`, { host });

/** Node's socket error codes, in words. */
export function socketReason(code: string | undefined): string {
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ECONNRESET":
      return "connection reset";
    case "ETIMEDOUT":
      return "connection timed out";
    default:
      return code ?? "connection failed";
  }
}

/**
 * A driver's row stream as the import reads it: the first row is read now,
 * so a query that fails says so before anything is created; the rest on
 * demand, with the driver's errors mapped and `finish` run at the end.
 */
export async function streamedRows(
  iterator: AsyncIterator<Value[]>,
  mapError: (error: unknown) => DomainError,
  finish: () => Promise<void>,
): Promise<AsyncGenerator<Value[]>> {
  let first: IteratorResult<Value[]>;
  try {
    first = await iterator.next();
  } catch (error) {
    await finish();
    throw mapError(error);
  }
  async function* rows(): AsyncGenerator<Value[]> {
    try {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } catch (error) {
      throw mapError(error);
    } finally {
      await finish();
    }
  }
  return rows();
}
