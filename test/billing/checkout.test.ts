import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Billing } from "../../core/billing";
import { SubscriptionEntity } from "../../core/billing/entities";
import { asUser, givenTier, newTenantId, startStripeStandIn } from "./support";

const PRICE_PRO = "price_standin_pro";
const PRICE_ENTERPRISE = "price_standin_enterprise";
const SECRET_KEY = "sk_test_standin_key";

let stripe: Awaited<ReturnType<typeof startStripeStandIn>>;

beforeAll(async () => {
  stripe = await startStripeStandIn();
  // Set before anything reads config: secrets and the API base are read once per process.
  Object.assign(process.env, {
    STRIPE_SECRET_KEY: SECRET_KEY,
    STRIPE_PRICE_PRO: PRICE_PRO,
    STRIPE_PRICE_ENTERPRISE: PRICE_ENTERPRISE,
    FLINT_STRIPE_API_BASE: stripe.url,
  });
});

afterAll(async () => {
  for (const name of ["STRIPE_SECRET_KEY", "STRIPE_PRICE_PRO", "STRIPE_PRICE_ENTERPRISE", "FLINT_STRIPE_API_BASE"]) delete process.env[name];
  await stripe.close();
});

beforeEach(() => {
  stripe.requests.length = 0;
});

const urls = { success_url: "https://app.flint.test/billing?success=true", cancel_url: "https://app.flint.test/billing" };

describe("checkout", () => {
  it("creates a customer for the tenant and a subscription Checkout session for the tier's price", async () => {
    const tenantId = newTenantId();

    const result = await asUser(tenantId, () => Billing.checkout({ tier: "pro", ...urls }));

    expect(stripe.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v1/customers", "POST /v1/checkout/sessions"]);
    const [customer, session] = stripe.requests;
    expect(customer!.headers.authorization).toBe(`Bearer ${SECRET_KEY}`);
    expect(customer!.headers["idempotency-key"]).toBe(`flint-customer-${tenantId}`);
    expect(customer!.form.get("metadata[tenant_id]")).toBe(tenantId);
    const storedCustomer = (await SubscriptionEntity.get({ tenantId }).go()).data?.stripeCustomerId;
    expect(storedCustomer).toMatch(/^cus_standin/);
    expect(Object.fromEntries(session!.form)).toMatchObject({
      mode: "subscription",
      customer: storedCustomer,
      client_reference_id: tenantId,
      "line_items[0][price]": PRICE_PRO,
      "line_items[0][quantity]": "1",
      success_url: urls.success_url,
      cancel_url: urls.cancel_url,
      "metadata[tenant_id]": tenantId,
      "metadata[tier]": "pro",
      "subscription_data[metadata][tenant_id]": tenantId,
      "subscription_data[metadata][tier]": "pro",
    });
    expect(result.checkout_url).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
  });

  it("reuses the tenant's customer and uses the Enterprise price for Enterprise", async () => {
    const tenantId = newTenantId();
    await givenTier(tenantId, "free", { stripeCustomerId: "cus_existing" });

    await asUser(tenantId, () => Billing.checkout({ tier: "enterprise", ...urls }));

    expect(stripe.requests.map((r) => r.path)).toEqual(["/v1/checkout/sessions"]);
    expect(stripe.requests[0]!.form.get("customer")).toBe("cus_existing");
    expect(stripe.requests[0]!.form.get("line_items[0][price]")).toBe(PRICE_ENTERPRISE);
  });

  it.each(["operator", "viewer"] as const)("answers 403 to an %s and calls Stripe not at all", async (role) => {
    await expect(asUser(newTenantId(), () => Billing.checkout({ tier: "pro", ...urls }), role)).rejects.toMatchObject({
      kind: "forbidden",
      code: "auth.forbidden",
    });
    expect(stripe.requests).toHaveLength(0);
  });

  it.each([
    { tier: "free", ...urls },
    { tier: "pro", success_url: "javascript:alert(1)", cancel_url: urls.cancel_url },
    { tier: "pro", success_url: urls.success_url },
  ])("answers 400 for an invalid request %# and calls Stripe not at all", async (input) => {
    await expect(asUser(newTenantId(), () => Billing.checkout(input as Billing.CheckoutInput))).rejects.toMatchObject({
      kind: "invalid",
      code: "request.invalid",
    });
    expect(stripe.requests).toHaveLength(0);
  });

  it("answers 409 billing.already_subscribed while a paid subscription is live", async () => {
    const tenantId = newTenantId();
    await givenTier(tenantId, "pro", { stripeCustomerId: "cus_paid", stripeSubscriptionId: "sub_paid" });

    await expect(asUser(tenantId, () => Billing.checkout({ tier: "enterprise", ...urls }))).rejects.toMatchObject({
      kind: "conflict",
      code: "billing.already_subscribed",
    });
    expect(stripe.requests).toHaveLength(0);
  });

  it("answers 502 billing.stripe_error when Stripe refuses, without Stripe's message", async () => {
    const tenantId = newTenantId();
    await givenTier(tenantId, "free", { stripeCustomerId: "cus_existing" });
    stripe.failNextWith(400, { error: { type: "invalid_request_error", code: "resource_missing", message: "No such price: 'secret-ish'" } });

    const error = await asUser(tenantId, () => Billing.checkout({ tier: "pro", ...urls })).catch((e: unknown) => e);

    expect(error).toMatchObject({ kind: "upstream", code: "billing.stripe_error", details: { stripe_error_code: "resource_missing" } });
    expect((error as Error).message).not.toContain("secret-ish");
  });
});

describe("portal", () => {
  it("opens a Customer Portal session for the tenant's customer", async () => {
    const tenantId = newTenantId();
    await givenTier(tenantId, "pro", { stripeCustomerId: "cus_portal", stripeSubscriptionId: "sub_portal" });

    const result = await asUser(tenantId, () => Billing.portal({ return_url: "https://app.flint.test/settings" }));

    expect(stripe.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v1/billing_portal/sessions"]);
    expect(Object.fromEntries(stripe.requests[0]!.form)).toEqual({ customer: "cus_portal", return_url: "https://app.flint.test/settings" });
    expect(result.portal_url).toMatch(/^https:\/\/billing\.stripe\.test\/p\/session\//);
  });

  it("answers 409 billing.no_customer before the first checkout", async () => {
    await expect(asUser(newTenantId(), () => Billing.portal())).rejects.toMatchObject({ kind: "conflict", code: "billing.no_customer" });
    expect(stripe.requests).toHaveLength(0);
  });

  it("answers 403 to a viewer", async () => {
    const tenantId = newTenantId();
    await givenTier(tenantId, "pro", { stripeCustomerId: "cus_viewer" });

    await expect(asUser(tenantId, () => Billing.portal(), "viewer")).rejects.toMatchObject({ code: "auth.forbidden" });
  });
});
