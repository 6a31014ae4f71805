/**
 * Plans, subscriptions, limits and token metering. A tenant with no
 * subscription record is on the Free plan.
 *
 * For other modules:
 * - to create a counted resource: `Billing.takeUnit(tenantId, "datasets", count, write)`, where `write`
 *   runs the create and `UsageCounterEntity`'s conditional +1 in one transaction (see ./usage);
 *   to delete one: `Billing.withCounter(...)` around the delete and its -1;
 * - before uploads: `assertDatasetSize(bytes)`;
 * - before metered work: `Billing.assertTokensAvailable(Billing.trainingTokens({ windows, epochs }))`;
 * - after metered work: `Billing.consumeTokens(tenantId, tokens, { reason, resource_id, idempotency_key })`;
 * - before mutating or training on an existing resource: `Billing.assertWritable(kind, createdAt, position)`.
 */
export * as Billing from "./index";

import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { Audit } from "../audit";
import { Config } from "../config";
import { expiresIn } from "../db";
import { conflict, DomainError, forbidden, invalid, isConditionalFailure, limitReached } from "../error";
import { createId } from "../id";
import { logger } from "../logger";
import { Table } from "../table";
import { SubscriptionEntity, TokenLedgerEntity, TokenUsageEntity, type Subscription } from "./entities";
import { LIMIT_NAMES, PLANS, TIERS, type LimitOverrides, type PlanLimits, type Tier } from "./plans";
import { client, PAID_TIERS, priceFor, upstream, type PaidTier } from "./stripe";
import { effectiveTier, ensure, find, periodOf, type Period } from "./subscription";
import { COUNTER_REFUSED, initCounter, readCounter, TRANSACTION_CONFLICT, type CountedKind } from "./usage";

export { PLANS, TIERS, LIMIT_NAMES, MAX_DIRECT_UPLOAD_BYTES, type PlanLimits, type LimitOverrides, type Tier } from "./plans";
export {
  UsageCounterEntity,
  COUNTER_REFUSED,
  TRANSACTION_CONFLICT,
  COUNTED_KINDS,
  readCounter,
  takeOne,
  giveOne,
  counterExists,
  refusedItem,
  counterOutcome,
  type CountedKind,
  type UsageCounter,
  type TransactionResult,
} from "./usage";
export {
  SubscriptionEntity,
  TokenUsageEntity,
  TokenLedgerEntity,
  StripeEventEntity,
  type Subscription,
} from "./entities";
export { trainingTokens, scoringTokens, WINDOW_EPOCHS_PER_TOKEN, WINDOWS_PER_SCORING_TOKEN } from "./metering";
export { effectiveTier, periodOf, LIVE_STATUSES, type Period } from "./subscription";
export { receive as receiveWebhook, HANDLED_EVENTS, type WebhookResult, type WebhookOutcome } from "./webhook";
export { PAID_TIERS, type PaidTier } from "./stripe";

/** The tier of a tenant (Free when it never subscribed or the subscription is not live). */
export async function tierOf(tenantId: string): Promise<Tier> {
  return effectiveTier(await find(tenantId));
}

export type Limits = PlanLimits & { tier: Tier };

function limitsFrom(subscription: Subscription | null): Limits {
  const tier = effectiveTier(subscription);
  return { tier, ...PLANS[tier], ...definedLimits(subscription?.limitOverrides) };
}

function definedLimits(overrides: LimitOverrides | undefined): LimitOverrides {
  return Object.fromEntries(Object.entries(overrides ?? {}).filter(([, value]) => typeof value === "number"));
}

/** A tenant's limits: its plan's, with any per-tenant override a superadmin set in their place. */
export async function limitsOf(tenantId: string): Promise<Limits> {
  return limitsFrom(await find(tenantId));
}

/** Limits of the calling tenant (its plan's, or its overrides). */
export async function currentLimits(): Promise<Limits> {
  return limitsOf(useTenant());
}

export type CountedLimit = "max_datasets" | "max_models" | "max_deployments" | "max_concurrent_trainings";

const LIMIT_CODES: Record<CountedLimit, string> = {
  max_datasets: "plan.dataset_limit_reached",
  max_models: "plan.model_limit_reached",
  max_deployments: "plan.deployment_limit_reached",
  max_concurrent_trainings: "plan.concurrent_training_limit_reached",
};

/**
 * Throws a 403 `plan.*_limit_reached` error, with the limit in details, when
 * creating one more would exceed the calling tenant's plan.
 * @param used how many the tenant has now (for trainings: how many are running or queued)
 * @example await Billing.assertWithinLimit("max_datasets", await Dataset.count());
 */
export async function assertWithinLimit(limit: CountedLimit, used: number): Promise<void> {
  const limits = await currentLimits();
  if (used >= limits[limit]) throw limitError(limit, limits, used);
}

const KIND_LIMITS: Record<CountedKind, "max_datasets" | "max_models" | "max_deployments"> = {
  datasets: "max_datasets",
  models: "max_models",
  deployments: "max_deployments",
};

/** The 403 for one more of `limit` than `limits` allow, `used` in details. */
export function limitError(limit: CountedLimit, limits: Limits, used: number): DomainError {
  return limitReached(LIMIT_CODES[limit], `Your ${limits.tier} plan allows ${limits[limit]} (${limit.replace("max_", "").replace(/_/g, " ")})`, {
    limit: limits[limit],
    used,
    tier: limits.tier,
  });
}

/** How often a counted write is tried when its counter was missing or a concurrent transaction got in the way. */
const COUNTED_ATTEMPTS = 20;

const pause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * Math.min(attempt, 5)));

/**
 * Creates one counted resource of `tenantId` within its limit. `write` runs the
 * create together with the kind's counter `+1` in one transaction, under the
 * condition that the counter exists and is below `max` (the tenant's limit,
 * passed in); it answers COUNTER_REFUSED when that condition failed and
 * TRANSACTION_CONFLICT when DynamoDB cancelled it for a concurrent one. A
 * missing counter is created from `count()`; then, like after a conflict,
 * the write is tried again.
 * @param count how many the tenant holds now, for a tenant without a counter
 * @returns what `write` returned
 * @throws 403 plan.<kind>_limit_reached with `{ limit, used, tier }` when the counter is at the limit
 * @example
 *   await Billing.takeUnit(tenantId, "datasets", countDatasets, (max) => createWithCounter(max));
 */
export async function takeUnit<T>(
  tenantId: string,
  kind: CountedKind,
  count: () => Promise<number>,
  write: (max: number) => Promise<T | typeof COUNTER_REFUSED | typeof TRANSACTION_CONFLICT>,
): Promise<T> {
  const limits = await limitsOf(tenantId);
  const limit = KIND_LIMITS[kind];
  for (let attempt = 1; ; attempt++) {
    const result = await write(limits[limit]);
    if (result !== COUNTER_REFUSED && result !== TRANSACTION_CONFLICT) return result;
    const used = result === COUNTER_REFUSED ? await readCounter(tenantId, kind) : undefined;
    if (used !== undefined && used >= limits[limit]) throw limitError(limit, limits, used);
    if (attempt >= COUNTED_ATTEMPTS) throw new DomainError("unavailable", "plan.busy", "Too many concurrent changes; try again", { kind });
    if (result === COUNTER_REFUSED && used === undefined) await initCounter(tenantId, kind, count);
    else await pause(attempt);
  }
}

/**
 * Runs `write`, a transaction that changes a counted resource and its counter
 * without taking a unit (a delete and its `-1`), with the counter in place:
 * when `write` answers COUNTER_REFUSED (the counter is missing), the counter
 * is created from `count()` and the write tried again, as after a
 * TRANSACTION_CONFLICT.
 */
export async function withCounter<T>(
  tenantId: string,
  kind: CountedKind,
  count: () => Promise<number>,
  write: () => Promise<T | typeof COUNTER_REFUSED | typeof TRANSACTION_CONFLICT>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const result = await write();
    if (result !== COUNTER_REFUSED && result !== TRANSACTION_CONFLICT) return result;
    if (attempt >= COUNTED_ATTEMPTS) throw new DomainError("unavailable", "plan.busy", "Too many concurrent changes; try again", { kind });
    if (result === COUNTER_REFUSED) await initCounter(tenantId, kind, count);
    else await pause(attempt);
  }
}

/**
 * Throws 403 `plan.dataset_size_limit_reached` (limit in bytes in details)
 * when a dataset of `bytes` is larger than the calling tenant's plan allows.
 */
export async function assertDatasetSize(bytes: number): Promise<void> {
  const limits = await currentLimits();
  if (bytes > limits.max_dataset_size_bytes) {
    throw limitReached(
      "plan.dataset_size_limit_reached",
      `Your ${limits.tier} plan allows datasets up to ${formatBytes(limits.max_dataset_size_bytes)}`,
      { limit: limits.max_dataset_size_bytes, size_bytes: bytes, tier: limits.tier },
    );
  }
}

export type ResourceKind = "datasets" | "models" | "deployments";

/**
 * Downgrades and cancellations never delete data. Instead, when a tenant has
 * more resources of a kind than its plan allows, the oldest `max_<kind>` stay
 * writable and the newer ones become read-only (readable, listable,
 * deletable, but not mutable or usable for training/deploying) until the
 * tenant is back under the limit, by upgrading or deleting some.
 *
 * Call it before mutating, training on or deploying an existing resource.
 * @param kind which plan limit applies
 * @param resourceCreatedAt the resource's createdAt (reported in details)
 * @param countOlderOrEqual the resource's 1-based position among the tenant's
 *   resources of this kind ordered oldest first, i.e. how many of them were
 *   created at or before it. Break createdAt ties by id (ids are ULIDs, so
 *   ordering by id alone is also correct).
 * @throws 403 `plan.resource_read_only` with `{ kind, limit, position, tier, created_at }`
 * @example
 *   const position = (await Dataset.listIds()).indexOf(dataset.id) + 1; // oldest first
 *   await Billing.assertWritable("datasets", dataset.createdAt, position);
 */
export async function assertWritable(kind: ResourceKind, resourceCreatedAt: string, countOlderOrEqual: number): Promise<void> {
  const limits = await currentLimits();
  const limit = limits[`max_${kind}`];
  if (countOlderOrEqual > limit) {
    throw forbidden(
      "plan.resource_read_only",
      `This resource is read-only: your ${limits.tier} plan allows ${limit} ${kind}; upgrade or delete newer ${kind} to edit it`,
      { kind, limit, position: countOlderOrEqual, tier: limits.tier, created_at: resourceCreatedAt },
    );
  }
}

// ---------------------------------------------------------------- tokens

/** Ledger entries are kept for a little over a year. */
const LEDGER_TTL_SECONDS = 400 * 24 * 3600;

async function tokensUsed(tenantId: string, period: Period): Promise<number> {
  const result = await TokenUsageEntity.get({ tenantId, periodStart: period.start }).go();
  return result.data?.used ?? 0;
}

export interface TokenState {
  tier: Tier;
  limit: number;
  used: number;
  balance: number;
  period: Period;
}

async function tokenState(tenantId: string, subscription?: Subscription | null): Promise<TokenState> {
  const record = subscription === undefined ? await find(tenantId) : subscription;
  const { tier, tokens_per_period: limit } = limitsFrom(record);
  const period = periodOf(record);
  const used = await tokensUsed(tenantId, period);
  return { tier, limit, used, balance: Math.max(0, limit - used), period };
}

export const ConsumeOptions = z.object({
  /** What the tokens paid for: "training", "scoring", ... */
  reason: z.string().min(1).max(64),
  resource_id: z.string().min(1).max(128).optional(),
  /** Same key twice consumes once (job retries). Defaults to a fresh id. */
  idempotency_key: z.string().min(1).max(200).optional(),
});
export type ConsumeOptions = z.infer<typeof ConsumeOptions>;

/**
 * Records `amount` tokens of metered work done for `tenantId` in its current
 * period: an atomic ADD on the period counter and one ledger entry (why, for
 * which resource). With an `idempotency_key` both go in one transaction whose
 * ledger create makes the key count once (retried when a concurrent
 * transaction on the counter cancels it); without one, the ADD stands alone,
 * so many concurrent scorings of a tenant never conflict, and the ledger entry
 * follows it. Work already done is always recorded, even past the limit; gate
 * new work with `assertTokensAvailable`.
 *
 * Takes the tenant explicitly because jobs run as the system actor.
 * @returns `duplicate: true` when `idempotency_key` was already consumed (nothing changes)
 * @throws 400 billing.invalid_amount when amount is not a non-negative integer (billing.invalid_tenant without a tenant)
 * @example
 *   await Billing.consumeTokens(run.tenantId, Billing.trainingTokens({ windows, epochs }), {
 *     reason: "training", resource_id: run.id, idempotency_key: `training:${run.id}`,
 *   });
 */
export async function consumeTokens(
  tenantId: string,
  amount: number,
  options: ConsumeOptions,
): Promise<{ consumed: number; duplicate: boolean; period_start: string; period_end: string }> {
  if (!tenantId) throw invalid("billing.invalid_tenant", "A tenant is required to consume tokens");
  if (!Number.isInteger(amount) || amount < 0) {
    throw invalid("billing.invalid_amount", "Token amount must be a non-negative integer", { amount });
  }
  const opts = parse(ConsumeOptions, options);
  const period = periodOf(await find(tenantId));
  const result = { consumed: amount, duplicate: false, period_start: period.start, period_end: period.end };
  if (amount === 0) return result;

  const ledgerEntry = {
    tenantId,
    entryId: opts.idempotency_key ?? createId("tku"),
    periodStart: period.start,
    amount,
    reason: opts.reason,
    resourceId: opts.resource_id,
    expiresAt: expiresIn(LEDGER_TTL_SECONDS),
  };
  if (!opts.idempotency_key) {
    await TokenUsageEntity.update({ tenantId, periodStart: period.start }).add({ used: amount }).set({ periodEnd: period.end }).go();
    await TokenLedgerEntity.create(ledgerEntry).go();
    return result;
  }
  for (let attempt = 1; ; attempt++) {
    const transaction = await Table.transaction
      .write(({ tokenLedger, tokenUsage }) => [
        tokenLedger.create(ledgerEntry).commit(),
        tokenUsage.update({ tenantId, periodStart: period.start }).add({ used: amount }).set({ periodEnd: period.end }).commit(),
      ])
      .go();
    if (!transaction.canceled) break;
    // The ledger entry exists: this idempotency key was consumed before.
    if (transaction.data[0]?.code === "ConditionalCheckFailed") return { ...result, consumed: 0, duplicate: true };
    const conflicted = transaction.data.some((item) => item.code === "TransactionConflict");
    if (!conflicted || attempt >= COUNTED_ATTEMPTS) {
      throw conflict("billing.consume_conflict", "Tokens could not be recorded, try again", { reasons: transaction.data.map((item) => item.code) });
    }
    await pause(attempt);
  }
  return result;
}

/**
 * Throws 403 `plan.token_limit_reached` when the calling tenant cannot afford
 * `estimate` more tokens this period (or, without an estimate, has none left).
 * Details carry `{ limit, used, balance, estimate, tier, period_end }`.
 * @returns the tenant's token state, for callers that want to show it
 */
export async function assertTokensAvailable(estimate?: number): Promise<TokenState> {
  if (estimate !== undefined && (!Number.isFinite(estimate) || estimate < 0)) {
    throw invalid("billing.invalid_amount", "Token estimate must be a non-negative number", { estimate });
  }
  const state = await tokenState(useTenant());
  const short = estimate === undefined ? state.balance <= 0 : state.used + estimate > state.limit;
  if (short) {
    throw limitReached("plan.token_limit_reached", `Your ${state.tier} plan's ${state.limit} tokens for this period are not enough`, {
      limit: state.limit,
      used: state.used,
      balance: state.balance,
      estimate: estimate ?? null,
      tier: state.tier,
      period_end: state.period.end,
    });
  }
  return state;
}

// ---------------------------------------------------------------- read models

export const Info = z.object({
  id: z.string(),
  tenant_id: z.string(),
  tier: z.enum(TIERS as unknown as [Tier, ...Tier[]]),
  status: z.string(),
  stripe_customer_id: z.string().nullable(),
  stripe_subscription_id: z.string().nullable(),
  current_period_start: z.string(),
  current_period_end: z.string(),
  token_balance: z.number().int(),
  tokens_used_this_period: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Info = z.infer<typeof Info>;

async function view(tenantId: string): Promise<Info> {
  const subscription = await ensure(tenantId);
  const tokens = await tokenState(tenantId, subscription);
  return {
    id: tenantId,
    tenant_id: tenantId,
    tier: tokens.tier,
    status: subscription.status,
    stripe_customer_id: subscription.stripeCustomerId ?? null,
    stripe_subscription_id: subscription.stripeSubscriptionId ?? null,
    current_period_start: tokens.period.start,
    current_period_end: tokens.period.end,
    token_balance: tokens.balance,
    tokens_used_this_period: tokens.used,
    created_at: subscription.createdAt ?? subscription.updatedAt ?? new Date().toISOString(),
    updated_at: subscription.updatedAt ?? new Date().toISOString(),
  };
}

/** The calling tenant's subscription (a Free record is created on first read). */
export async function subscription(): Promise<Info> {
  return view(useTenant());
}

/** Creates the Free subscription record of a new tenant (signup); a no-op when it exists. */
export async function createFree(tenantId: string): Promise<void> {
  await ensure(tenantId);
}

export const Usage = z.object({
  tier: z.enum(TIERS as unknown as [Tier, ...Tier[]]),
  token_balance: z.number().int(),
  tokens_used: z.number().int(),
  tokens_limit: z.number().int(),
  percentage_used: z.number(),
  max_concurrent_trainings: z.number().int(),
  max_datasets: z.number().int(),
  max_models: z.number().int(),
  max_deployments: z.number().int(),
  max_dataset_size_bytes: z.number().int(),
  period_start: z.string(),
  period_end: z.string(),
});
export type Usage = z.infer<typeof Usage>;

/** Token usage and plan limits of the calling tenant. */
export async function usage(): Promise<Usage> {
  const subscription = await find(useTenant());
  const tokens = await tokenState(useTenant(), subscription);
  const plan = limitsFrom(subscription);
  return {
    tier: tokens.tier,
    token_balance: tokens.balance,
    tokens_used: tokens.used,
    tokens_limit: tokens.limit,
    percentage_used: Math.round((tokens.used / tokens.limit) * 1000) / 10,
    max_concurrent_trainings: plan.max_concurrent_trainings,
    max_datasets: plan.max_datasets,
    max_models: plan.max_models,
    max_deployments: plan.max_deployments,
    max_dataset_size_bytes: plan.max_dataset_size_bytes,
    period_start: tokens.period.start,
    period_end: tokens.period.end,
  };
}

// ---------------------------------------------------------------- Stripe flows

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).max(2048);

export const CheckoutInput = z.object({
  tier: z.enum(PAID_TIERS as unknown as [PaidTier, ...PaidTier[]]),
  success_url: httpUrl,
  cancel_url: httpUrl,
});
export type CheckoutInput = z.infer<typeof CheckoutInput>;

/**
 * Starts a Stripe Checkout session (subscription mode) for a paid tier. The
 * tenant's Stripe customer is created once and reused; the session and the
 * subscription carry `tenant_id` and `tier` metadata so webhooks find the
 * tenant. Admin role.
 * @throws 503 billing.not_configured without Stripe secrets
 * @throws 409 billing.already_subscribed when a paid subscription is live (use the portal)
 * @throws 502 billing.stripe_error when Stripe fails
 */
export async function checkout(input: CheckoutInput): Promise<{ checkout_url: string }> {
  assertRole("admin");
  const { tier, success_url, cancel_url } = parse(CheckoutInput, input);
  const tenantId = useTenant();
  const stripe = await client();
  const price = await priceFor(tier);
  const current = await ensure(tenantId);
  if (current.stripeSubscriptionId && effectiveTier(current) !== "free") {
    throw conflict("billing.already_subscribed", "A paid subscription is active: change it in the billing portal", {
      tier: current.tier,
    });
  }
  const customer = await customerOf(tenantId, current);
  try {
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      customer,
      client_reference_id: tenantId,
      line_items: [{ price, quantity: 1 }],
      success_url,
      cancel_url,
      metadata: { tenant_id: tenantId, tier },
      subscription_data: { metadata: { tenant_id: tenantId, tier } },
    });
    if (!session.url) throw new Error("Checkout session has no url");
    return { checkout_url: session.url };
  } catch (error) {
    throw upstream(error);
  }
}

async function customerOf(tenantId: string, current: Subscription): Promise<string> {
  if (current.stripeCustomerId) return current.stripeCustomerId;
  const stripe = await client();
  let customerId: string;
  try {
    // The idempotency key makes concurrent first checkouts share one customer.
    const customer = await stripe.customers.create(
      { name: tenantId, metadata: { tenant_id: tenantId } },
      { idempotencyKey: `flint-customer-${tenantId}` },
    );
    customerId = customer.id;
  } catch (error) {
    throw upstream(error);
  }
  try {
    await SubscriptionEntity.patch({ tenantId })
      .set({ stripeCustomerId: customerId })
      .where(({ stripeCustomerId }, { notExists }) => notExists(stripeCustomerId))
      .go();
    return customerId;
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const stored = (await find(tenantId))?.stripeCustomerId;
    if (!stored) throw error;
    return stored;
  }
}

export const PortalInput = z.object({ return_url: httpUrl.optional() });
export type PortalInput = z.infer<typeof PortalInput>;

/**
 * Opens a Stripe Customer Portal session for the tenant's customer. Admin role.
 * @throws 503 billing.not_configured without Stripe secrets
 * @throws 409 billing.no_customer before the tenant's first checkout
 * @throws 502 billing.stripe_error when Stripe fails
 */
export async function portal(input: PortalInput = {}): Promise<{ portal_url: string }> {
  assertRole("admin");
  const { return_url } = parse(PortalInput, input);
  const tenantId = useTenant();
  const stripe = await client();
  const customer = (await find(tenantId))?.stripeCustomerId;
  if (!customer) throw conflict("billing.no_customer", "There is no billing account yet: subscribe through checkout first");
  try {
    const session = await stripe.billingPortal.sessions.create({ customer, return_url: return_url ?? Config.publicUrl() });
    return { portal_url: session.url };
  } catch (error) {
    throw upstream(error);
  }
}

export const SetPlanInput = z.object({ tenant_id: z.string().min(1).max(128), tier: z.enum(TIERS as unknown as [Tier, ...Tier[]]) });
export type SetPlanInput = z.infer<typeof SetPlanInput>;

/**
 * Sets a tenant's tier by hand (support, trials, contracts). Platform
 * superadmins only. The plan stays until the next Stripe event for the
 * tenant's subscription, which wins.
 * @throws 403 auth.forbidden for anyone but a superadmin
 * @throws 404 tenant.not_found for an unknown tenant
 */
export async function setPlan(input: SetPlanInput): Promise<Info> {
  const actor = useActor();
  if (actor.type !== "system" && !(actor.type === "user" && actor.superadmin)) {
    throw forbidden("auth.forbidden", "Only a platform superadmin can set a plan by hand");
  }
  const { tenant_id: tenantId, tier } = parse(SetPlanInput, input);
  // Loaded lazily: tenant/user modules may depend on billing (signup creates the Free record).
  const { Tenant } = await import("../tenant");
  await Tenant.get(tenantId);
  const before = await ensure(tenantId);
  await SubscriptionEntity.patch({ tenantId })
    .set({ tier, status: "active", source: "manual", ...(actor.type === "user" ? { overriddenBy: actor.userId } : {}) })
    .go();
  // Recorded in the affected tenant's trail (the request middleware records it in the caller's).
  await Audit.record({
    tenantId,
    action: "billing.plan_set",
    result: "success",
    resourceType: "subscription",
    resourceId: tenantId,
    details: { tier, previous_tier: effectiveTier(before) },
  });
  logger.info("plan set by hand", { tenantId, tier, by: actor.type === "user" ? actor.userId : "system" });
  return view(tenantId);
}

const LimitValue = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

export const SetLimitsInput = z.object({
  tenant_id: z.string().min(1).max(128),
  /** A number replaces the plan's limit for this tenant; null gives the plan's back; an absent limit stays as it is. */
  limits: z.object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, LimitValue.optional()])) as Record<(typeof LIMIT_NAMES)[number], z.ZodOptional<typeof LimitValue>>).strict(),
});
export type SetLimitsInput = z.input<typeof SetLimitsInput>;

export const TenantLimits = z.object({
  tenant_id: z.string(),
  tier: z.enum(TIERS as unknown as [Tier, ...Tier[]]),
  /** The limits in force: the plan's, with the overrides in their place. */
  limits: z.object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, z.number().int()])) as Record<(typeof LIMIT_NAMES)[number], z.ZodNumber>),
  /** This tenant's own limits (the rest follow its plan). */
  overrides: z.object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, z.number().int().optional()])) as Record<(typeof LIMIT_NAMES)[number], z.ZodOptional<z.ZodNumber>>),
});
export type TenantLimits = z.infer<typeof TenantLimits>;

/**
 * Sets per-tenant limits over the tenant's plan (contracts, trials, support).
 * Platform superadmins only. Overrides stay through plan changes and Stripe
 * events until a superadmin gives them back (null). Lowering a limit below
 * what the tenant holds deletes nothing: the newer resources become read-only,
 * as after a downgrade.
 * @throws 403 auth.forbidden for anyone but a superadmin
 * @throws 404 tenant.not_found for an unknown tenant
 * @example await Billing.setLimits({ tenant_id, limits: { max_datasets: 3, max_models: null } });
 */
export async function setLimits(input: SetLimitsInput): Promise<TenantLimits> {
  const actor = useActor();
  if (actor.type !== "system" && !(actor.type === "user" && actor.superadmin)) {
    throw forbidden("auth.forbidden", "Only a platform superadmin can set a tenant's limits");
  }
  const { tenant_id: tenantId, limits } = parse(SetLimitsInput, input);
  const { Tenant } = await import("../tenant");
  await Tenant.get(tenantId);
  const before = await ensure(tenantId);
  const overrides: LimitOverrides = { ...definedLimits(before.limitOverrides) };
  for (const name of LIMIT_NAMES) {
    const value = limits[name];
    if (value === null) delete overrides[name];
    else if (value !== undefined) overrides[name] = value;
  }
  const update = SubscriptionEntity.patch({ tenantId });
  await (Object.keys(overrides).length > 0 ? update.set({ limitOverrides: overrides }) : update.remove(["limitOverrides"])).go();
  await Audit.record({
    tenantId,
    action: "billing.limits_set",
    result: "success",
    resourceType: "subscription",
    resourceId: tenantId,
    details: Object.fromEntries(LIMIT_NAMES.map((name) => [name, overrides[name] ?? null])),
  });
  logger.info("limits set by hand", { tenantId, overrides, by: actor.type === "user" ? actor.userId : "system" });
  return limitsView(tenantId);
}

async function limitsView(tenantId: string): Promise<TenantLimits> {
  const subscription = await find(tenantId);
  const { tier, ...limits } = limitsFrom(subscription);
  return { tenant_id: tenantId, tier, limits, overrides: definedLimits(subscription?.limitOverrides) };
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new DomainError("invalid", "request.invalid", "Request validation failed", {
    issues: result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
  });
}

function formatBytes(bytes: number): string {
  const GB = 1024 ** 3;
  const MB = 1024 ** 2;
  return bytes >= GB ? `${bytes / GB} GB` : `${bytes / MB} MB`;
}
