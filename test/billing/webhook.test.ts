import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Billing } from "../../core/billing";
import { StripeEventEntity, SubscriptionEntity } from "../../core/billing/entities";
import { asUser, givenTier, newTenantId, sign, stripeEvent, subscriptionObject } from "./support";

const SECRET = "whsec_test_flint_billing";
const PRICE_PRO = "price_test_pro";
const PRICE_ENTERPRISE = "price_test_enterprise";

let app: typeof import("../../functions/http/stripe-webhook").app;

beforeAll(async () => {
  // Set before anything reads the secrets (they are cached per process).
  process.env.STRIPE_WEBHOOK_SECRET = SECRET;
  process.env.STRIPE_PRICE_PRO = PRICE_PRO;
  process.env.STRIPE_PRICE_ENTERPRISE = PRICE_ENTERPRISE;
  ({ app } = await import("../../functions/http/stripe-webhook"));
});

afterAll(() => {
  delete process.env.STRIPE_WEBHOOK_SECRET;
  delete process.env.STRIPE_PRICE_PRO;
  delete process.env.STRIPE_PRICE_ENTERPRISE;
});

async function deliver(payload: string, signature: string | undefined) {
  const response = await app.request("/api/v1/billing/webhook", {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature ? { "stripe-signature": signature } : {}) },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function checkoutCompleted(tenantId: string, tier: "pro" | "enterprise", created?: number) {
  return stripeEvent({
    type: "checkout.session.completed",
    created,
    object: {
      id: `cs_${tenantId}`,
      object: "checkout.session",
      mode: "subscription",
      payment_status: "paid",
      status: "complete",
      client_reference_id: tenantId,
      customer: `cus_${tenantId}`,
      subscription: `sub_${tenantId}`,
      metadata: { tenant_id: tenantId, tier },
    },
  });
}

const stored = async (tenantId: string) => (await SubscriptionEntity.get({ tenantId }).go()).data;

describe("Stripe webhook", () => {
  it("upgrades the tenant on checkout.session.completed and the new limits apply at once", async () => {
    const tenantId = newTenantId();
    await expect(asUser(tenantId, () => Billing.assertWithinLimit("max_datasets", 3))).rejects.toMatchObject({
      code: "plan.dataset_limit_reached",
    });

    const event = checkoutCompleted(tenantId, "pro");
    const { status, body } = await deliver(event.payload, sign(event.payload, SECRET));

    expect(status).toBe(200);
    expect(body).toMatchObject({ received: true, event_id: event.id, outcome: "applied" });
    expect(await Billing.tierOf(tenantId)).toBe("pro");
    await expect(asUser(tenantId, () => Billing.assertWithinLimit("max_datasets", 3))).resolves.toBeUndefined();
    const usage = await asUser(tenantId, () => Billing.usage());
    expect(usage).toMatchObject({
      tier: "pro",
      tokens_limit: Billing.PLANS.pro.tokens_per_period,
      max_datasets: Billing.PLANS.pro.max_datasets,
      max_concurrent_trainings: Billing.PLANS.pro.max_concurrent_trainings,
    });
    const subscription = await stored(tenantId);
    expect(subscription).toMatchObject({ stripeCustomerId: `cus_${tenantId}`, stripeSubscriptionId: `sub_${tenantId}`, source: "stripe" });
  });

  it.each([
    ["a tampered body", (payload: string) => ({ body: payload.replace('"pro"', '"enterprise"'), signature: sign(payload, SECRET) })],
    ["a signature made with another secret", (payload: string) => ({ body: payload, signature: sign(payload, "whsec_someone_else") })],
    ["a signature older than the tolerance", (payload: string) => ({ body: payload, signature: sign(payload, SECRET, Math.floor(Date.now() / 1000) - 600) })],
    ["no signature", (payload: string) => ({ body: payload, signature: undefined })],
  ])("answers 400 billing.invalid_signature for %s and changes nothing", async (_name, tamper) => {
    const tenantId = newTenantId();
    const event = checkoutCompleted(tenantId, "pro");
    const { body: sent, signature } = tamper(event.payload);

    const { status, body } = await deliver(sent, signature);

    expect(status).toBe(400);
    expect(body).toMatchObject({ code: "billing.invalid_signature" });
    expect(await stored(tenantId)).toBeNull();
    expect((await StripeEventEntity.get({ eventId: event.id }).go()).data).toBeNull();
    expect(await Billing.tierOf(tenantId)).toBe("free");
  });

  it("applies the same event only once", async () => {
    const tenantId = newTenantId();
    const event = checkoutCompleted(tenantId, "pro", Math.floor(Date.now() / 1000) - 60);
    const signature = sign(event.payload, SECRET);

    const first = await deliver(event.payload, signature);
    const afterFirst = await stored(tenantId);
    // A superadmin changes the plan between the two deliveries; the replay must not undo it.
    await SubscriptionEntity.patch({ tenantId }).set({ tier: "enterprise" }).go();
    const second = await deliver(event.payload, signature);

    expect(first.body.outcome).toBe("applied");
    expect(second.status).toBe(200);
    expect(second.body.outcome).toBe("duplicate");
    expect(afterFirst?.tier).toBe("pro");
    expect(await Billing.tierOf(tenantId)).toBe("enterprise");
  });

  it("keeps the newer state when an older event arrives after a newer one", async () => {
    const tenantId = newTenantId();
    const now = Math.floor(Date.now() / 1000);
    const customer = `cus_${tenantId}`;
    const newer = stripeEvent({
      type: "customer.subscription.updated",
      created: now,
      object: subscriptionObject({ id: `sub_${tenantId}`, customer, status: "active", price: PRICE_ENTERPRISE, tenantId }),
    });
    const older = stripeEvent({
      type: "customer.subscription.updated",
      created: now - 120,
      object: subscriptionObject({ id: `sub_${tenantId}`, customer, status: "active", price: PRICE_PRO, tenantId }),
    });

    const first = await deliver(newer.payload, sign(newer.payload, SECRET));
    const second = await deliver(older.payload, sign(older.payload, SECRET));

    expect(first.body.outcome).toBe("applied");
    expect(second.status).toBe(200);
    expect(second.body.outcome).toBe("stale");
    expect(await Billing.tierOf(tenantId)).toBe("enterprise");
    expect((await stored(tenantId))?.lastEventAt).toBe(now);
  });

  it("records the Stripe billing period and finds the tenant by customer when metadata is missing", async () => {
    const tenantId = newTenantId();
    const customer = `cus_${tenantId}`;
    await givenTier(tenantId, "free", { stripeCustomerId: customer });
    const start = Math.floor(Date.now() / 1000) - 86_400;
    const end = start + 30 * 86_400;
    const event = stripeEvent({
      type: "customer.subscription.updated",
      object: subscriptionObject({ id: `sub_${tenantId}`, customer, status: "active", price: PRICE_PRO, periodStart: start, periodEnd: end }),
    });

    const { body } = await deliver(event.payload, sign(event.payload, SECRET));

    expect(body.outcome).toBe("applied");
    const view = await asUser(tenantId, () => Billing.subscription());
    expect(view).toMatchObject({
      tier: "pro",
      stripe_subscription_id: `sub_${tenantId}`,
      current_period_start: new Date(start * 1000).toISOString(),
      current_period_end: new Date(end * 1000).toISOString(),
    });
  });

  it("returns the tenant to Free on customer.subscription.deleted and keeps its data", async () => {
    const tenantId = newTenantId();
    const customer = `cus_${tenantId}`;
    const subscriptionId = `sub_${tenantId}`;
    await givenTier(tenantId, "pro", { stripeCustomerId: customer, stripeSubscriptionId: subscriptionId });
    await Billing.consumeTokens(tenantId, 42, { reason: "training", resource_id: "run_1" });
    const event = stripeEvent({
      type: "customer.subscription.deleted",
      object: subscriptionObject({ id: subscriptionId, customer, status: "canceled", price: PRICE_PRO, tenantId }),
    });

    const { status, body } = await deliver(event.payload, sign(event.payload, SECRET));

    expect(status).toBe(200);
    expect(body.outcome).toBe("applied");
    expect(await Billing.tierOf(tenantId)).toBe("free");
    const view = await asUser(tenantId, () => Billing.subscription());
    expect(view).toMatchObject({ tier: "free", status: "canceled", stripe_customer_id: customer, tokens_used_this_period: 42 });
    // Nothing is deleted: the oldest resources stay writable, newer ones beyond the Free limit turn read-only.
    const free = Billing.PLANS.free.max_datasets;
    await expect(asUser(tenantId, () => Billing.assertWritable("datasets", "2026-01-01T00:00:00.000Z", free))).resolves.toBeUndefined();
    await expect(asUser(tenantId, () => Billing.assertWritable("datasets", "2026-01-02T00:00:00.000Z", free + 1))).rejects.toMatchObject({
      code: "plan.resource_read_only",
      details: { limit: free, kind: "datasets" },
    });
  });

  it("ignores the deletion of an old subscription once a newer one is stored", async () => {
    const tenantId = newTenantId();
    const customer = `cus_${tenantId}`;
    await givenTier(tenantId, "enterprise", { stripeCustomerId: customer, stripeSubscriptionId: `sub_new_${tenantId}` });
    const event = stripeEvent({
      type: "customer.subscription.deleted",
      object: subscriptionObject({ id: `sub_old_${tenantId}`, customer, status: "canceled", price: PRICE_PRO, tenantId }),
    });

    const { body } = await deliver(event.payload, sign(event.payload, SECRET));

    expect(body.outcome).toBe("stale");
    expect(await Billing.tierOf(tenantId)).toBe("enterprise");
  });

  it("marks the subscription past_due on invoice.payment_failed and keeps the paid tier while Stripe retries", async () => {
    const tenantId = newTenantId();
    const customer = `cus_${tenantId}`;
    await givenTier(tenantId, "pro", { stripeCustomerId: customer, stripeSubscriptionId: `sub_${tenantId}` });
    const event = stripeEvent({
      type: "invoice.payment_failed",
      object: { id: `in_${tenantId}`, object: "invoice", customer, parent: null },
    });

    const { body } = await deliver(event.payload, sign(event.payload, SECRET));

    expect(body.outcome).toBe("applied");
    const subscription = await stored(tenantId);
    expect(subscription?.status).toBe("past_due");
    expect(subscription?.paymentFailedAt).toBeDefined();
    expect(await Billing.tierOf(tenantId)).toBe("pro");
  });

  it("drops to Free when Stripe reports the subscription unpaid", async () => {
    const tenantId = newTenantId();
    const customer = `cus_${tenantId}`;
    await givenTier(tenantId, "pro", { stripeCustomerId: customer, stripeSubscriptionId: `sub_${tenantId}` });
    const event = stripeEvent({
      type: "customer.subscription.updated",
      object: subscriptionObject({ id: `sub_${tenantId}`, customer, status: "unpaid", price: PRICE_PRO, tenantId }),
    });

    await deliver(event.payload, sign(event.payload, SECRET));

    expect(await Billing.tierOf(tenantId)).toBe("free");
    expect((await stored(tenantId))?.status).toBe("unpaid");
  });

  it("keeps a tenant on Free when checkout completes before a delayed payment arrives", async () => {
    const tenantId = newTenantId();
    const event = checkoutCompleted(tenantId, "pro");
    const unpaid = event.payload.replace('"payment_status":"paid"', '"payment_status":"unpaid"');

    const { body } = await deliver(unpaid, sign(unpaid, SECRET));

    expect(body.outcome).toBe("applied");
    expect((await stored(tenantId))?.status).toBe("incomplete");
    expect(await Billing.tierOf(tenantId)).toBe("free");
  });

  it("acknowledges and ignores event types it does not handle", async () => {
    const event = stripeEvent({ type: "charge.succeeded", object: { id: "ch_1", object: "charge" } });

    const { status, body } = await deliver(event.payload, sign(event.payload, SECRET));

    expect(status).toBe(200);
    expect(body.outcome).toBe("ignored");
    expect((await StripeEventEntity.get({ eventId: event.id }).go()).data?.status).toBe("ignored");
  });
});
