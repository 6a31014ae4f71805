/**
 * Stripe webhook processing: verify, record, apply.
 *
 * - Verification uses the raw request body and the Stripe-Signature header; a
 *   bad, missing or stale (older than 5 minutes) signature changes nothing.
 * - Idempotent by event id: the event is recorded with a conditional create
 *   before it is applied and marked done afterwards; a replay of a done event
 *   changes nothing, a replay of an event whose apply failed half-way applies
 *   it again (applying is itself idempotent).
 * - Out-of-order safe: every write to the subscription is conditional on the
 *   stored `lastEventAt` not being newer than the event's `created`.
 */
import { DomainError, invalid, isConditionalFailure } from "../error";
import { expiresIn } from "../db";
import { logger } from "../logger";
import { StripeEventEntity, SubscriptionEntity } from "./entities";
import { PAID_TIERS, Stripe, tierForPrice, webhookSecret, type PaidTier } from "./stripe";
import { ensure, LIVE_STATUSES, tenantOfCustomer } from "./subscription";

/** Stripe retries for up to 3 days; keep the record a while longer. */
const EVENT_RECORD_TTL_SECONDS = 30 * 24 * 3600;

export const HANDLED_EVENTS = [
  "checkout.session.completed",
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "invoice.payment_failed",
] as const;

export type WebhookOutcome = "applied" | "ignored" | "stale" | "duplicate";

export interface WebhookResult {
  received: true;
  event_id: string;
  type: string;
  outcome: WebhookOutcome;
}

/**
 * Verifies and processes one Stripe webhook delivery.
 * @param raw the request body exactly as received (not re-serialised JSON)
 * @param signature the Stripe-Signature header
 * @throws 400 billing.invalid_signature when the signature is missing, wrong or too old
 * @throws 503 billing.not_configured when STRIPE_WEBHOOK_SECRET is unset
 */
export async function receive(raw: string, signature: string | undefined): Promise<WebhookResult> {
  const event = await verify(raw, signature);
  const base = { received: true as const, event_id: event.id, type: event.type };

  if (!(await record(event))) return { ...base, outcome: "duplicate" };

  const { outcome, tenantId } = await apply(event);
  await StripeEventEntity.patch({ eventId: event.id })
    .set({ status: outcome === "applied" ? "applied" : "ignored", ...(tenantId ? { tenantId } : {}) })
    .go();
  logger.info("stripe event", { eventId: event.id, type: event.type, outcome, tenantId });
  return { ...base, outcome };
}

async function verify(raw: string, signature: string | undefined): Promise<Stripe.Event> {
  // Checked before the secret is read: a missing or malformed signature is bad input (400) even where billing is not configured (503).
  if (!signature) throw invalid("billing.invalid_signature", "Missing Stripe-Signature header");
  if (!isSignatureHeader(signature)) throw invalid("billing.invalid_signature", "Malformed Stripe-Signature header");
  const secret = await webhookSecret();
  try {
    return Stripe.webhooks.constructEvent(raw, signature, secret);
  } catch (error) {
    throw new DomainError("invalid", "billing.invalid_signature", "Stripe signature verification failed", undefined, { cause: error });
  }
}

/** Stripe's `t=<unix time>,v1=<hex>[,v0=<hex>…]`, in any order. */
function isSignatureHeader(header: string): boolean {
  const parts = header.split(",");
  return parts.some((part) => /^t=\d+$/.test(part)) && parts.some((part) => /^v1=[0-9a-f]+$/.test(part)) && parts.every((part) => /^(t=\d+|v\d+=[0-9a-f]+)$/.test(part));
}

/** Records the event; false when it was already fully processed. */
async function record(event: Stripe.Event): Promise<boolean> {
  try {
    await StripeEventEntity.create({
      eventId: event.id,
      type: event.type,
      created: event.created,
      expiresAt: expiresIn(EVENT_RECORD_TTL_SECONDS),
    }).go();
    return true;
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const seen = await StripeEventEntity.get({ eventId: event.id }).go();
    return seen.data?.status === "received";
  }
}

type Applied = { outcome: "applied" | "ignored" | "stale"; tenantId?: string };

async function apply(event: Stripe.Event): Promise<Applied> {
  switch (event.type) {
    case "checkout.session.completed":
      return checkoutCompleted(event.data.object, event.created);
    case "customer.subscription.created":
    case "customer.subscription.updated":
      return subscriptionChanged(event.data.object, event.created);
    case "customer.subscription.deleted":
      return subscriptionDeleted(event.data.object, event.created);
    case "invoice.payment_failed":
      return paymentFailed(event.data.object, event.created);
    default:
      return { outcome: "ignored" };
  }
}

async function checkoutCompleted(session: Stripe.Checkout.Session, created: number): Promise<Applied> {
  if (session.mode !== "subscription") return { outcome: "ignored" };
  const tenantId = session.client_reference_id ?? session.metadata?.tenant_id;
  const tier = paidTier(session.metadata?.tier);
  const stripeCustomerId = idOf(session.customer);
  const stripeSubscriptionId = idOf(session.subscription);
  if (!tenantId || !tier || !stripeCustomerId || !stripeSubscriptionId) {
    logger.warn("checkout session without tenant, tier, customer or subscription", { sessionId: session.id });
    return { outcome: "ignored" };
  }
  // Delayed payment methods complete the session before the money arrives.
  const status = session.payment_status === "unpaid" ? "incomplete" : "active";
  const outcome = await write(tenantId, created, { tier, status, stripeCustomerId, stripeSubscriptionId }, "takeover");
  return { outcome, tenantId };
}

async function subscriptionChanged(subscription: Stripe.Subscription, created: number): Promise<Applied> {
  const stripeCustomerId = idOf(subscription.customer);
  const tenantId = await tenantFor(subscription.metadata?.tenant_id, stripeCustomerId);
  if (!tenantId || !stripeCustomerId) return { outcome: "ignored" };
  const item = subscription.items?.data?.[0];
  const tier = (await tierForPrice(item?.price?.id)) ?? paidTier(subscription.metadata?.tier);
  if (!tier) {
    logger.warn("subscription for a price we do not sell", { subscriptionId: subscription.id });
    return { outcome: "ignored", tenantId };
  }
  const period = periodOfSubscription(subscription);
  const live = (LIVE_STATUSES as readonly string[]).includes(subscription.status);
  const outcome = await write(
    tenantId,
    created,
    {
      tier,
      status: subscription.status,
      stripeCustomerId,
      stripeSubscriptionId: subscription.id,
      ...(period ? { currentPeriodStart: period.start, currentPeriodEnd: period.end } : {}),
    },
    // A live subscription replaces whatever was stored; a dead one only updates its own record.
    live ? "takeover" : "same-subscription",
  );
  return { outcome, tenantId };
}

async function subscriptionDeleted(subscription: Stripe.Subscription, created: number): Promise<Applied> {
  const stripeCustomerId = idOf(subscription.customer);
  const tenantId = await tenantFor(subscription.metadata?.tenant_id, stripeCustomerId);
  if (!tenantId) return { outcome: "ignored" };
  // Back to Free; no data is touched (over-limit resources become read-only, see assertWritable).
  const outcome = await write(
    tenantId,
    created,
    { tier: "free", status: "canceled", stripeSubscriptionId: subscription.id },
    "same-subscription",
  );
  return { outcome, tenantId };
}

async function paymentFailed(invoice: Stripe.Invoice, created: number): Promise<Applied> {
  const stripeCustomerId = idOf(invoice.customer);
  const tenantId = await tenantFor(invoice.parent?.subscription_details?.metadata?.tenant_id, stripeCustomerId);
  if (!tenantId) return { outcome: "ignored" };
  await ensure(tenantId);
  try {
    await SubscriptionEntity.patch({ tenantId })
      .set({ status: "past_due", paymentFailedAt: new Date(created * 1000).toISOString(), lastEventAt: created })
      .where(
        ({ lastEventAt, status, tier }, { lte, eq, ne }) =>
          `${lte(lastEventAt, created)} AND ${ne(tier, "free")} AND (${eq(status, "active")} OR ${eq(status, "trialing")} OR ${eq(status, "past_due")})`,
      )
      .go();
    return { outcome: "applied", tenantId };
  } catch (error) {
    if (isConditionalFailure(error)) return { outcome: "stale", tenantId };
    throw error;
  }
}

type StateChange = {
  tier: "free" | PaidTier;
  status: string;
  stripeCustomerId?: string;
  stripeSubscriptionId: string;
  currentPeriodStart?: string;
  currentPeriodEnd?: string;
};

/**
 * Writes a subscription change unless a newer event was already applied.
 * "same-subscription" additionally requires the stored subscription to be the
 * event's one (or none), so a late event about an old subscription cannot
 * cancel a newer one.
 */
async function write(tenantId: string, created: number, change: StateChange, rule: "takeover" | "same-subscription") {
  await ensure(tenantId);
  const subscriptionId = change.stripeSubscriptionId;
  try {
    const update = SubscriptionEntity.patch({ tenantId }).set({ ...change, source: "stripe", lastEventAt: created });
    const guarded =
      rule === "takeover"
        ? update.where(({ lastEventAt }, { lte }) => lte(lastEventAt, created))
        : update.where(
            ({ lastEventAt, stripeSubscriptionId }, { lte, eq, notExists }) =>
              `${lte(lastEventAt, created)} AND (${notExists(stripeSubscriptionId)} OR ${eq(stripeSubscriptionId, subscriptionId)})`,
          );
    await guarded.go();
    return "applied" as const;
  } catch (error) {
    if (isConditionalFailure(error)) return "stale" as const;
    throw error;
  }
}

async function tenantFor(fromMetadata: string | undefined, stripeCustomerId: string | undefined) {
  if (fromMetadata) return fromMetadata;
  if (!stripeCustomerId) return undefined;
  return tenantOfCustomer(stripeCustomerId);
}

function paidTier(value: string | undefined): PaidTier | undefined {
  return PAID_TIERS.find((tier) => tier === value);
}

function idOf(value: string | { id: string } | null | undefined): string | undefined {
  if (!value) return undefined;
  return typeof value === "string" ? value : value.id;
}

/** Stripe moved the period from the subscription to its items (API 2025-03-31); read both. */
function periodOfSubscription(subscription: Stripe.Subscription): { start: string; end: string } | undefined {
  const item = subscription.items?.data?.[0];
  const legacy = subscription as unknown as { current_period_start?: number; current_period_end?: number };
  const start = item?.current_period_start ?? legacy.current_period_start;
  const end = item?.current_period_end ?? legacy.current_period_end;
  if (!start || !end) return undefined;
  return { start: new Date(start * 1000).toISOString(), end: new Date(end * 1000).toISOString() };
}
