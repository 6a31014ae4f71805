/**
 * Plans and billing: the tenant's subscription and usage, Stripe Checkout and
 * Customer Portal sessions, and the superadmin plan and limit overrides.
 * The Stripe webhook is its own Lambda (stripe-webhook.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Billing } from "../../core/billing";
import { createApp } from "./common";
import { bearer, body, errors, json, openapi } from "./route";

export const app = createApp();

const Subscription = openapi(Billing.Info, "Subscription");
const Usage = openapi(Billing.Usage, "Usage");

app.openapi(
  createRoute({
    method: "get",
    path: "/billing/subscription",
    tags: ["Billing"],
    summary: "The tenant's subscription, billing period and token balance",
    security: bearer,
    responses: { 200: json(Subscription, "Subscription"), ...errors(401) },
  }),
  async (c) => c.json(await Billing.subscription(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/billing/usage",
    tags: ["Billing"],
    summary: "Token usage this period and the plan's limits",
    security: bearer,
    responses: { 200: json(Usage, "Usage"), ...errors(401) },
  }),
  async (c) => c.json(await Billing.usage(), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/billing/checkout",
    tags: ["Billing"],
    summary: "Start a Stripe Checkout session to subscribe to a paid tier (admin)",
    security: bearer,
    request: { body: body(openapi(Billing.CheckoutInput, "CheckoutRequest")) },
    responses: {
      200: json(z.object({ checkout_url: z.string() }).openapi("CheckoutSession"), "Checkout session"),
      ...errors(400, 401, 403, 409, 502, 503),
    },
  }),
  async (c) => c.json(await Billing.checkout(c.req.valid("json")), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/billing/portal",
    tags: ["Billing"],
    summary: "Open a Stripe Customer Portal session to manage the subscription (admin)",
    security: bearer,
    request: { body: body(openapi(Billing.PortalInput, "PortalRequest"), { required: false }) },
    responses: {
      200: json(z.object({ portal_url: z.string() }).openapi("PortalSession"), "Portal session"),
      ...errors(400, 401, 403, 409, 502, 503),
    },
  }),
  async (c) => c.json(await Billing.portal(c.req.valid("json") ?? {}), 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/billing/plan",
    tags: ["Billing"],
    summary: "Set a tenant's plan by hand (platform superadmin)",
    security: bearer,
    request: { body: body(openapi(Billing.SetPlanInput, "SetPlanRequest")) },
    responses: { 200: json(Subscription, "The tenant's subscription after the change"), ...errors(400, 401, 403, 404) },
  }),
  async (c) => c.json(await Billing.setPlan(c.req.valid("json")), 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/billing/limits",
    tags: ["Billing"],
    summary: "Set a tenant's own limits over its plan (platform superadmin); null gives a limit back to the plan",
    security: bearer,
    request: { body: body(openapi(Billing.SetLimitsInput, "SetLimitsRequest")) },
    responses: {
      200: json(openapi(Billing.TenantLimits, "TenantLimits"), "The tenant's limits in force and its overrides"),
      ...errors(400, 401, 403, 404),
    },
  }),
  async (c) => c.json(await Billing.setLimits(c.req.valid("json")), 200),
);

export const handler = handle(app);
