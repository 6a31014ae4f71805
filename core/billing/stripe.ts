/**
 * The Stripe client and the mapping between our tiers and Stripe prices.
 * Secrets come from config (SSM on AWS, env locally); without a secret key the
 * paid flows answer 503 billing.not_configured and everything runs on Free.
 */
import Stripe from "stripe";
import { Config, secret } from "../config";
import { DomainError } from "../error";
import type { Tier } from "./plans";

export type PaidTier = Exclude<Tier, "free">;
export const PAID_TIERS: readonly PaidTier[] = ["pro", "enterprise"] as const;

const notConfigured = (what: string) =>
  new DomainError("unavailable", "billing.not_configured", "Billing is not configured on this installation", { missing: what });

let cached: { key: string; client: Stripe } | undefined;

/**
 * The Stripe API client. `FLINT_STRIPE_API_BASE` points it at a local
 * stand-in (tests); on AWS it talks to api.stripe.com.
 * @throws 503 billing.not_configured when STRIPE_SECRET_KEY is unset.
 */
export async function client(): Promise<Stripe> {
  const key = await secret("STRIPE_SECRET_KEY");
  if (!key) throw notConfigured("STRIPE_SECRET_KEY");
  if (cached?.key === key) return cached.client;
  const base = Config.stripeApiBase();
  const endpoint = base ? new URL(base) : undefined;
  const client = new Stripe(key, {
    maxNetworkRetries: 2,
    timeout: 10_000,
    ...(endpoint
      ? {
          host: endpoint.hostname,
          port: endpoint.port || (endpoint.protocol === "http:" ? 80 : 443),
          protocol: endpoint.protocol === "http:" ? "http" : "https",
        }
      : {}),
  });
  cached = { key, client };
  return client;
}

/**
 * The Stripe price id of a paid tier.
 * @throws 503 billing.not_configured when the tier's price is unset.
 */
export async function priceFor(tier: PaidTier): Promise<string> {
  const name = tier === "pro" ? "STRIPE_PRICE_PRO" : "STRIPE_PRICE_ENTERPRISE";
  const price = await secret(name);
  if (!price) throw notConfigured(name);
  return price;
}

/** The tier a Stripe price id stands for, or undefined for a price we do not sell. */
export async function tierForPrice(priceId: string | undefined): Promise<PaidTier | undefined> {
  if (!priceId) return undefined;
  for (const tier of PAID_TIERS) {
    const name = tier === "pro" ? "STRIPE_PRICE_PRO" : "STRIPE_PRICE_ENTERPRISE";
    if ((await secret(name)) === priceId) return tier;
  }
  return undefined;
}

/** The webhook signing secret. @throws 503 billing.not_configured when unset. */
export async function webhookSecret(): Promise<string> {
  const value = await secret("STRIPE_WEBHOOK_SECRET");
  if (!value) throw notConfigured("STRIPE_WEBHOOK_SECRET");
  return value;
}

/** Wraps a Stripe API failure as a 502 without leaking Stripe's raw message. */
export function upstream(error: unknown): DomainError {
  const e = error as { type?: string; code?: string; statusCode?: number };
  return new DomainError(
    "upstream",
    "billing.stripe_error",
    "The payment provider could not complete the request",
    { stripe_error_type: e.type, stripe_error_code: e.code, stripe_status: e.statusCode },
    { cause: error },
  );
}

export { Stripe };
