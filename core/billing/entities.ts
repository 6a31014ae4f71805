/**
 * Billing data on the single table: the subscription per tenant, token usage
 * per tenant per period, the token ledger, and the Stripe events already seen.
 */
import { Entity, type EntityItem } from "electrodb";
import { entityConfig, TTL_ATTRIBUTE } from "../db";
import { LIMIT_NAMES, TIERS, type Tier } from "./plans";

export const SubscriptionEntity = new Entity(
  {
    model: { entity: "subscription_plan", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true },
      tier: { type: TIERS as unknown as Tier[], required: true, default: "free" },
      /** Stripe subscription status (active, trialing, past_due, unpaid, canceled, ...) or "active" for Free/manual plans. */
      status: { type: "string", required: true, default: "active" },
      stripeCustomerId: { type: "string" },
      stripeSubscriptionId: { type: "string" },
      currentPeriodStart: { type: "string" },
      currentPeriodEnd: { type: "string" },
      /** Stripe event time (epoch seconds) of the newest event applied; older events never overwrite newer state. */
      lastEventAt: { type: "number", default: 0 },
      /** Set by invoice.payment_failed; the paid tier stays while Stripe retries (past_due). */
      paymentFailedAt: { type: "string" },
      /** "stripe" when the tier came from a Stripe event, "manual" when a superadmin set it. */
      source: { type: ["stripe", "manual", "default"] as const, default: "default" },
      overriddenBy: { type: "string" },
      /** Limits a superadmin set for this tenant; each replaces the plan's, whatever the tier (Stripe events leave them). */
      limitOverrides: {
        type: "map",
        properties: Object.fromEntries(LIMIT_NAMES.map((name) => [name, { type: "number" }])) as Record<(typeof LIMIT_NAMES)[number], { type: "number" }>,
      },
      createdAt: { type: "string", default: () => new Date().toISOString(), readOnly: true },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: [] },
      },
      /** Sparse: only subscriptions that have a Stripe customer. Finds the tenant of a Stripe event. */
      byStripeCustomer: {
        index: "gsi1",
        // Stripe ids are case-sensitive; keep them as they are in the key.
        pk: { field: "gsi1pk", composite: ["stripeCustomerId"], casing: "none" },
        sk: { field: "gsi1sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type Subscription = EntityItem<typeof SubscriptionEntity>;

/** Tokens used by one tenant in one billing period; `used` only ever grows by an atomic ADD. */
export const TokenUsageEntity = new Entity(
  {
    model: { entity: "token_usage", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true },
      /** ISO start of the period; the sort key, so each period is its own counter. */
      periodStart: { type: "string", required: true },
      periodEnd: { type: "string" },
      used: { type: "number", default: 0 },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["periodStart"] },
      },
    },
  },
  entityConfig,
);

export type TokenUsage = EntityItem<typeof TokenUsageEntity>;

/** One consumption of tokens: why, for which resource. Its id doubles as the idempotency key. */
export const TokenLedgerEntity = new Entity(
  {
    model: { entity: "token_ledger", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true },
      entryId: { type: "string", required: true },
      periodStart: { type: "string", required: true },
      amount: { type: "number", required: true },
      reason: { type: "string", required: true },
      resourceId: { type: "string" },
      createdAt: { type: "string", default: () => new Date().toISOString(), readOnly: true },
      expiresAt: { type: "number", field: TTL_ATTRIBUTE },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["entryId"] },
      },
    },
  },
  entityConfig,
);

export type TokenLedgerEntry = EntityItem<typeof TokenLedgerEntity>;

/** A Stripe event already received; the conditional create is what makes webhook delivery idempotent. */
export const StripeEventEntity = new Entity(
  {
    model: { entity: "stripe_event", version: "1", service: "flint" },
    attributes: {
      eventId: { type: "string", required: true },
      type: { type: "string", required: true },
      /** Stripe's `created` (epoch seconds). */
      created: { type: "number", required: true },
      /** received: recorded, not yet applied (a retry applies it again); applied/ignored: done. */
      status: { type: ["received", "applied", "ignored"] as const, required: true, default: "received" },
      tenantId: { type: "string" },
      receivedAt: { type: "string", default: () => new Date().toISOString(), readOnly: true },
      updatedAt: { type: "string", watch: "*", set: () => new Date().toISOString(), default: () => new Date().toISOString() },
      expiresAt: { type: "number", field: TTL_ATTRIBUTE },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["eventId"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export type StripeEventRecord = EntityItem<typeof StripeEventEntity>;

/** What a usage counter counts, one counter per kind and tenant (see ./usage). */
export const COUNTED_KINDS = ["datasets", "models", "deployments"] as const;
export type CountedKind = (typeof COUNTED_KINDS)[number];

export const UsageCounterEntity = new Entity(
  {
    model: { entity: "usage_counter", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true, readOnly: true },
      kind: { type: COUNTED_KINDS, required: true, readOnly: true },
      used: { type: "number", required: true },
    },
    indexes: {
      byTenant: {
        pk: { field: "pk", composite: ["tenantId"] },
        sk: { field: "sk", composite: ["kind"] },
      },
    },
  },
  entityConfig,
);

export type UsageCounter = EntityItem<typeof UsageCounterEntity>;
