/**
 * Reading and writing the subscription record of a tenant, and the two rules
 * derived from it: the effective tier and the current billing period.
 */
import { isConditionalFailure } from "../error";
import { SubscriptionEntity, type Subscription } from "./entities";
import type { Tier } from "./plans";

/**
 * Stripe statuses in which the paid tier is granted. `past_due` keeps the tier
 * while Stripe retries the payment; `unpaid`, `incomplete`,
 * `incomplete_expired`, `paused` and `canceled` fall back to Free.
 */
export const LIVE_STATUSES = ["active", "trialing", "past_due"] as const;

/** The tier a subscription grants right now (Free when there is none or it is not live). */
export function effectiveTier(subscription: Subscription | null | undefined): Tier {
  if (!subscription) return "free";
  return (LIVE_STATUSES as readonly string[]).includes(subscription.status) ? subscription.tier : "free";
}

export interface Period {
  start: string;
  end: string;
}

/**
 * The billing period tokens are counted in: the Stripe subscription's current
 * period while a paid tier is live and `now` falls inside it, otherwise the
 * calendar month (UTC). Usage is keyed by the period start, so a new period
 * (renewal, upgrade, downgrade) starts a fresh allowance.
 */
export function periodOf(subscription: Subscription | null | undefined, now = new Date()): Period {
  if (subscription && effectiveTier(subscription) !== "free") {
    const { currentPeriodStart: start, currentPeriodEnd: end } = subscription;
    if (start && end && Date.parse(start) <= now.getTime() && now.getTime() < Date.parse(end)) return { start, end };
  }
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start: start.toISOString(), end: end.toISOString() };
}

export async function find(tenantId: string): Promise<Subscription | null> {
  const result = await SubscriptionEntity.get({ tenantId }).go();
  return result.data;
}

/**
 * The tenant's subscription record, created on the Free plan when missing.
 * Safe to call concurrently: the create is conditional and a lost race reads
 * the winner's record.
 */
export async function ensure(tenantId: string): Promise<Subscription> {
  const existing = await find(tenantId);
  if (existing) return existing;
  try {
    const created = await SubscriptionEntity.create({ tenantId }).go();
    return created.data;
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const winner = await find(tenantId);
    if (!winner) throw error;
    return winner;
  }
}

/** The tenant owning a Stripe customer, if any. */
export async function tenantOfCustomer(stripeCustomerId: string): Promise<string | undefined> {
  const result = await SubscriptionEntity.query.byStripeCustomer({ stripeCustomerId }).go({ limit: 1 });
  return result.data[0]?.tenantId;
}
