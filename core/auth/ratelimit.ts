/**
 * Fixed-window rate limits with the counters in DynamoDB (Lambdas share no
 * memory). One atomic ADD per hit; TTL removes old windows.
 */
import { DomainError } from "../error";
import { RateLimitEntity } from "./entity";

export { RateLimitEntity } from "./entity";

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Epoch seconds when the window resets. */
  reset: number;
  allowed: boolean;
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    "X-RateLimit-Limit": String(state.limit),
    "X-RateLimit-Remaining": String(state.remaining),
    "X-RateLimit-Reset": String(state.reset),
  };
}

/**
 * Counts one hit for `key` in the current window of `windowSeconds` and
 * throws `code` (kind rate_limited, with Retry-After and X-RateLimit-*
 * headers in the details) once more than `limit` hits were counted.
 */
export async function consume(
  key: string,
  options: { limit: number; windowSeconds: number; code?: string },
): Promise<RateLimitState> {
  const now = Math.floor(Date.now() / 1000);
  const window = Math.floor(now / options.windowSeconds) * options.windowSeconds;
  const reset = window + options.windowSeconds;
  const result = await RateLimitEntity.update({ bucket: key, window })
    .add({ count: 1 })
    .set({ expires_at: reset + 60 })
    .go({ response: "all_new" });
  const count = result.data.count ?? 1;
  const state: RateLimitState = {
    limit: options.limit,
    remaining: Math.max(0, options.limit - count),
    reset,
    allowed: count <= options.limit,
  };
  if (!state.allowed) {
    const retryAfter = Math.max(1, reset - now);
    throw new DomainError("rate_limited", options.code ?? "rate_limit.exceeded", "Too many requests, try again later", {
      retry_after_seconds: retryAfter,
      limit: state.limit,
      headers: rateLimitHeaders(state),
    });
  }
  return state;
}
