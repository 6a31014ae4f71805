import { beforeAll, describe, expect, inject, it } from "vitest";
import { Audit } from "../../core/audit";
import { Auth } from "../../core/auth";
import { Billing } from "../../core/billing";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";

let admin: TestUser;
let viewer: TestUser;
let superadmin: { token: string };

beforeAll(async () => {
  admin = await createUser();
  viewer = await createUser({ tenantId: admin.tenantId, role: "viewer" });
  const login = await Auth.login(inject("admin"));
  if (login.mfaRequired) throw new Error("the seeded superadmin has no MFA");
  superadmin = { token: login.token };
});

const checkoutBody = { tier: "pro", success_url: "https://app.flint.test/ok", cancel_url: "https://app.flint.test/cancel" };

describe("billing over HTTP", () => {
  it("shows a new tenant's Free subscription to any member", async () => {
    const response = await call("GET", "/billing/subscription", { token: viewer.token });

    expect(response.status).toBe(200);
    const body = response.body as Billing.Info;
    expect(body).toMatchObject({
      id: admin.tenantId,
      tenant_id: admin.tenantId,
      tier: "free",
      stripe_customer_id: null,
      stripe_subscription_id: null,
      token_balance: Billing.PLANS.free.tokens_per_period,
      tokens_used_this_period: 0,
    });
    expect(Date.parse(body.current_period_start)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(body.current_period_end)).toBeGreaterThan(Date.now());
    expect(body.created_at).toEqual(expect.any(String));
  });

  it("reports usage against the Free limits", async () => {
    const response = await call("GET", "/billing/usage", { token: viewer.token });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      tier: "free",
      tokens_used: 0,
      tokens_limit: Billing.PLANS.free.tokens_per_period,
      percentage_used: 0,
      max_datasets: Billing.PLANS.free.max_datasets,
      max_models: Billing.PLANS.free.max_models,
      max_deployments: Billing.PLANS.free.max_deployments,
      max_concurrent_trainings: Billing.PLANS.free.max_concurrent_trainings,
      max_dataset_size_bytes: Billing.PLANS.free.max_dataset_size_bytes,
    });
  });

  it("answers 401 without a token", async () => {
    const response = await call("GET", "/billing/usage");
    expect(response.status).toBe(401);
  });

  it.each([
    ["POST", "/billing/checkout", checkoutBody],
    ["POST", "/billing/portal", undefined],
  ])("answers %s %s with 503 billing.not_configured when Stripe is not set up", async (method, path, body) => {
    const response = await call(method, path, { token: admin.token, body });

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: "billing.not_configured" });
  });

  it("answers the webhook with 503 billing.not_configured when no signing secret is set", async () => {
    const response = await call("POST", "/billing/webhook", { rawBody: "{}", headers: { "stripe-signature": "t=1,v1=abc" } });

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: "billing.not_configured" });
  });

  it("answers 403 to a viewer asking for checkout", async () => {
    const response = await call("POST", "/billing/checkout", { token: viewer.token, body: checkoutBody });

    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ code: "auth.forbidden" });
  });

  it.each([
    { tier: "free", success_url: "https://a.test", cancel_url: "https://a.test" },
    { tier: "pro", success_url: "not a url", cancel_url: "https://a.test" },
    { tier: "pro" },
  ])("answers 400 request.invalid for checkout body %j", async (body) => {
    const response = await call("POST", "/billing/checkout", { token: admin.token, body });

    expect(response.status).toBe(400);
    const error = response.body as { details: { issues: unknown[] } };
    expect(error).toMatchObject({ code: "request.invalid", error: expect.any(String) });
    expect(error.details.issues.length).toBeGreaterThan(0);
  });

  it("lets only a superadmin set a plan by hand", async () => {
    const response = await call("PUT", "/billing/plan", { token: admin.token, body: { tenant_id: admin.tenantId, tier: "enterprise" } });

    expect(response.status).toBe(403);
    expect(await Billing.tierOf(admin.tenantId)).toBe("free");
  });

  it("sets a tenant's plan by superadmin override, applies its limits at once and audits it", async () => {
    const owner = await createUser();

    const response = await call("PUT", "/billing/plan", { token: superadmin.token, body: { tenant_id: owner.tenantId, tier: "pro" } });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ tenant_id: owner.tenantId, tier: "pro" });
    const usage = (await call("GET", "/billing/usage", { token: owner.token })).body;
    expect(usage).toMatchObject({ tier: "pro", tokens_limit: Billing.PLANS.pro.tokens_per_period, max_datasets: Billing.PLANS.pro.max_datasets });
    const trail = await Audit.AuditEntity.query.byAction({ tenantId: owner.tenantId, action: "billing.plan_set" }).go();
    expect(trail.data).toHaveLength(1);
    expect(JSON.parse(trail.data[0]!.detailsJson ?? "{}")).toEqual({ tier: "pro", previous_tier: "free" });
  });

  it("answers 404 when the superadmin names an unknown tenant", async () => {
    const response = await call("PUT", "/billing/plan", { token: superadmin.token, body: { tenant_id: "tnt_does_not_exist", tier: "pro" } });

    expect(response.status).toBe(404);
  });
});
