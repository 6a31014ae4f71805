/**
 * Domain errors: a dotted code (`dataset.not_found`), a message safe to show a
 * user, optional details, and a kind that the HTTP layer maps to a status.
 * Core never knows HTTP statuses.
 */
export type ErrorKind =
  | "invalid" // the request is malformed or breaks a rule
  | "unauthorized" // no valid credentials
  | "forbidden" // credentials are fine but the role or plan does not allow it
  | "not_found"
  | "conflict"
  | "too_large"
  | "rate_limited"
  | "unavailable"
  | "upstream" // a third-party service failed
  | "timeout"; // a third-party service did not answer in time

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DomainError";
  }
}

export const invalid = (code: string, message: string, details?: unknown) =>
  new DomainError("invalid", code, message, details);
export const notFound = (resource: string, id?: string) =>
  new DomainError("not_found", `${resource}.not_found`, `${capitalise(resource)} not found`, id ? { id } : undefined);
export const forbidden = (code: string, message: string, details?: unknown) =>
  new DomainError("forbidden", code, message, details);
export const unauthorized = (code = "auth.unauthorized", message = "Authentication required") =>
  new DomainError("unauthorized", code, message);
export const conflict = (code: string, message: string, details?: unknown, cause?: unknown) =>
  new DomainError("conflict", code, message, details, { cause });
export const limitReached = (code: string, message: string, details: { limit: number; used?: number; [k: string]: unknown }) =>
  new DomainError("forbidden", code, message, details);

function capitalise(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1).replace(/_/g, " ");
}

/** True when an AWS SDK error is a failed ConditionExpression (ElectroDB wraps it). */
export function isConditionalFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const e = current as { name?: string; message?: string; cause?: unknown };
    if (e.name === "ConditionalCheckFailedException") return true;
    if (e.name === "TransactionCanceledException" && /ConditionalCheckFailed/.test(e.message ?? "")) return true;
    if (/conditional request failed/i.test(e.message ?? "")) return true;
    current = e.cause;
  }
  return false;
}
