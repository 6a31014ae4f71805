import { describe, expect, it } from "vitest";
import { withActor } from "../../core/actor";
import { Billing } from "../../core/billing";
import { SubscriptionEntity, TokenLedgerEntity, TokenUsageEntity } from "../../core/billing/entities";
import type { Tier } from "../../core/billing/plans";
import { asUser, givenTier, newTenantId } from "./support";

const MB = 1024 * 1024;
const COUNTED = [
  ["max_datasets", "plan.dataset_limit_reached"],
  ["max_models", "plan.model_limit_reached"],
  ["max_deployments", "plan.deployment_limit_reached"],
  ["max_concurrent_trainings", "plan.concurrent_training_limit_reached"],
] as const;
const TIERS: Tier[] = ["free", "pro", "enterprise"];

describe("plans", () => {
  it("define the limits of the Free, Pro and Enterprise plans", () => {
    expect(Billing.PLANS).toEqual({
      free: { tokens_per_period: 5_000, max_datasets: 3, max_models: 2, max_deployments: 1, max_concurrent_trainings: 1, max_dataset_size_bytes: 25 * MB },
      pro: { tokens_per_period: 50_000, max_datasets: 50, max_models: 25, max_deployments: 10, max_concurrent_trainings: 5, max_dataset_size_bytes: 250 * MB },
      enterprise: {
        tokens_per_period: 1_000_000,
        max_datasets: 500,
        max_models: 200,
        max_deployments: 100,
        max_concurrent_trainings: 20,
        max_dataset_size_bytes: 50 * 1024 * MB,
      },
    });
  });

  it("puts a tenant without a subscription on Free", async () => {
    const tenantId = newTenantId();
    expect(await Billing.tierOf(tenantId)).toBe("free");
    expect(await asUser(tenantId, () => Billing.currentLimits())).toEqual({ tier: "free", ...Billing.PLANS.free });
  });
});

describe("assertWithinLimit", () => {
  const cases = TIERS.flatMap((tier) => COUNTED.map(([limit, code]) => ({ tier, limit, code })));

  it.each(cases)("lets a $tier tenant create up to $limit and answers 403 $code beyond it", async ({ tier, limit, code }) => {
    const tenantId = newTenantId();
    if (tier !== "free") await givenTier(tenantId, tier);
    const max = Billing.PLANS[tier][limit];

    await expect(asUser(tenantId, () => Billing.assertWithinLimit(limit, max - 1))).resolves.toBeUndefined();
    const error = await asUser(tenantId, () => Billing.assertWithinLimit(limit, max)).catch((e: unknown) => e);

    expect(error).toMatchObject({ kind: "forbidden", code, details: { limit: max, used: max, tier } });
  });

  it("reads the tenant from the actor, so another tenant's plan never applies", async () => {
    const pro = newTenantId();
    const free = newTenantId();
    await givenTier(pro, "pro");

    await expect(asUser(pro, () => Billing.assertWithinLimit("max_models", 2))).resolves.toBeUndefined();
    await expect(asUser(free, () => Billing.assertWithinLimit("max_models", 2))).rejects.toMatchObject({ code: "plan.model_limit_reached" });
  });

  it("treats a canceled subscription as Free", async () => {
    const tenantId = newTenantId();
    await SubscriptionEntity.put({ tenantId, tier: "enterprise", status: "canceled" }).go();

    await expect(asUser(tenantId, () => Billing.assertWithinLimit("max_deployments", 1))).rejects.toMatchObject({
      details: { limit: Billing.PLANS.free.max_deployments, tier: "free" },
    });
  });
});

describe("assertDatasetSize", () => {
  it.each(TIERS)("accepts a %s dataset at the size limit and answers 403 one byte over", async (tier) => {
    const tenantId = newTenantId();
    if (tier !== "free") await givenTier(tenantId, tier);
    const max = Billing.PLANS[tier].max_dataset_size_bytes;

    await expect(asUser(tenantId, () => Billing.assertDatasetSize(max))).resolves.toBeUndefined();
    await expect(asUser(tenantId, () => Billing.assertDatasetSize(max + 1))).rejects.toMatchObject({
      kind: "forbidden",
      code: "plan.dataset_size_limit_reached",
      details: { limit: max, size_bytes: max + 1 },
    });
  });
});

describe("assertWritable", () => {
  it.each(["datasets", "models", "deployments"] as const)(
    "keeps the oldest %s up to the limit writable and makes newer ones read-only",
    async (kind) => {
      const tenantId = newTenantId();
      const limit = Billing.PLANS.free[`max_${kind}`];

      await expect(asUser(tenantId, () => Billing.assertWritable(kind, "2026-01-01T00:00:00.000Z", limit))).resolves.toBeUndefined();
      await expect(asUser(tenantId, () => Billing.assertWritable(kind, "2026-02-01T00:00:00.000Z", limit + 1))).rejects.toMatchObject({
        kind: "forbidden",
        code: "plan.resource_read_only",
        details: { kind, limit, position: limit + 1, tier: "free", created_at: "2026-02-01T00:00:00.000Z" },
      });
    },
  );

  it("makes read-only resources writable again after an upgrade", async () => {
    const tenantId = newTenantId();
    const position = Billing.PLANS.free.max_models + 1;
    await expect(asUser(tenantId, () => Billing.assertWritable("models", "2026-01-01T00:00:00.000Z", position))).rejects.toThrow();

    await givenTier(tenantId, "pro");

    await expect(asUser(tenantId, () => Billing.assertWritable("models", "2026-01-01T00:00:00.000Z", position))).resolves.toBeUndefined();
  });
});

describe("metering", () => {
  it.each([
    { windows: 50_000, epochs: 20, tokens: 1_000 },
    { windows: 200, epochs: 20, tokens: 20 },
    { windows: 1_500, epochs: 1, tokens: 2 },
    { windows: 10, epochs: 0, tokens: 0 },
  ])("charges $tokens tokens for training $windows windows for $epochs epochs", ({ windows, epochs, tokens }) => {
    expect(Billing.trainingTokens({ windows, epochs })).toBe(tokens);
  });

  it.each([
    { windows: 0, tokens: 1 },
    { windows: 10_000, tokens: 1 },
    { windows: 25_000, tokens: 3 },
  ])("charges $tokens tokens for scoring $windows windows", ({ windows, tokens }) => {
    expect(Billing.scoringTokens({ windows })).toBe(tokens);
  });

  it("rejects negative work", () => {
    expect(() => Billing.trainingTokens({ windows: -1, epochs: 1 })).toThrow(RangeError);
  });
});

describe("tokens", () => {
  it("adds concurrent consumptions atomically", async () => {
    const tenantId = newTenantId();

    await Promise.all(Array.from({ length: 20 }, (_, i) => Billing.consumeTokens(tenantId, 7, { reason: "scoring", resource_id: `ev_${i}` })));

    const usage = await asUser(tenantId, () => Billing.usage());
    expect(usage.tokens_used).toBe(140);
    expect(usage.token_balance).toBe(Billing.PLANS.free.tokens_per_period - 140);
    expect(usage.percentage_used).toBeCloseTo((140 / Billing.PLANS.free.tokens_per_period) * 100, 1);
  });

  it("consumes once for a repeated idempotency key", async () => {
    const tenantId = newTenantId();
    const options = { reason: "training", resource_id: "run_1", idempotency_key: "training:run_1" };

    const first = await Billing.consumeTokens(tenantId, 30, options);
    const second = await Billing.consumeTokens(tenantId, 30, options);

    expect(first.duplicate).toBe(false);
    expect(second).toMatchObject({ duplicate: true, consumed: 0 });
    expect((await asUser(tenantId, () => Billing.usage())).tokens_used).toBe(30);
  });

  it("records what the tokens paid for in the ledger", async () => {
    const tenantId = newTenantId();

    await Billing.consumeTokens(tenantId, 5, { reason: "training", resource_id: "run_9", idempotency_key: "training:run_9" });

    const entry = await TokenLedgerEntity.get({ tenantId, entryId: "training:run_9" }).go();
    expect(entry.data).toMatchObject({ amount: 5, reason: "training", resourceId: "run_9" });
  });

  it("answers 403 plan.token_limit_reached when an estimate does not fit the balance", async () => {
    const tenantId = newTenantId();
    const limit = Billing.PLANS.free.tokens_per_period;
    await Billing.consumeTokens(tenantId, limit - 10, { reason: "training" });

    await expect(asUser(tenantId, () => Billing.assertTokensAvailable(10))).resolves.toMatchObject({ balance: 10 });
    await expect(asUser(tenantId, () => Billing.assertTokensAvailable(11))).rejects.toMatchObject({
      kind: "forbidden",
      code: "plan.token_limit_reached",
      details: { limit, used: limit - 10, balance: 10, estimate: 11 },
    });
  });

  it("answers 403 without an estimate once the balance is used up, and records work past the limit", async () => {
    const tenantId = newTenantId();
    const limit = Billing.PLANS.free.tokens_per_period;
    await Billing.consumeTokens(tenantId, limit + 5, { reason: "training" });

    await expect(asUser(tenantId, () => Billing.assertTokensAvailable())).rejects.toMatchObject({ code: "plan.token_limit_reached" });
    const usage = await asUser(tenantId, () => Billing.usage());
    expect(usage).toMatchObject({ tokens_used: limit + 5, token_balance: 0 });
  });

  it("counts tokens in the Stripe billing period of a paid tenant", async () => {
    const tenantId = newTenantId();
    const start = new Date(Date.now() - 86_400_000).toISOString();
    const end = new Date(Date.now() + 29 * 86_400_000).toISOString();
    await SubscriptionEntity.put({ tenantId, tier: "pro", status: "active", currentPeriodStart: start, currentPeriodEnd: end }).go();

    const result = await Billing.consumeTokens(tenantId, 12, { reason: "scoring" });

    expect(result).toMatchObject({ period_start: start, period_end: end });
    expect((await TokenUsageEntity.get({ tenantId, periodStart: start }).go()).data?.used).toBe(12);
    expect(await asUser(tenantId, () => Billing.usage())).toMatchObject({ tokens_used: 12, tokens_limit: Billing.PLANS.pro.tokens_per_period });
  });

  it.each([-1, 1.5, Number.NaN])("rejects %s tokens with 400", async (amount) => {
    await expect(Billing.consumeTokens(newTenantId(), amount, { reason: "training" })).rejects.toMatchObject({
      kind: "invalid",
      code: "billing.invalid_amount",
    });
  });

  it("needs a tenant in the actor to check the balance", async () => {
    await expect(withActor({ type: "public" }, () => Billing.assertTokensAvailable(1))).rejects.toMatchObject({ kind: "unauthorized" });
  });
});

describe("billing period", () => {
  it("is the calendar month for Free tenants", () => {
    expect(Billing.periodOf(null, new Date("2026-03-15T10:00:00Z"))).toEqual({
      start: "2026-03-01T00:00:00.000Z",
      end: "2026-04-01T00:00:00.000Z",
    });
  });

  it("falls back to the calendar month when the stored Stripe period has ended", () => {
    const subscription = {
      tenantId: "t",
      tier: "pro" as const,
      status: "active",
      currentPeriodStart: "2026-01-10T00:00:00.000Z",
      currentPeriodEnd: "2026-02-10T00:00:00.000Z",
    };
    expect(Billing.periodOf(subscription, new Date("2026-02-20T00:00:00Z")).start).toBe("2026-02-01T00:00:00.000Z");
    expect(Billing.periodOf(subscription, new Date("2026-01-20T00:00:00Z")).start).toBe("2026-01-10T00:00:00.000Z");
  });
});
