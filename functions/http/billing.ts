/**
 * Plans and billing: the tenant's subscription and usage, Stripe Checkout and
 * Customer Portal sessions, and the superadmin plan and limit overrides.
 * The Stripe webhook is its own Lambda (stripe-webhook.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Billing } from "../../core/billing";
import { createApp, ErrorSchemaDoc } from "./common";

export const app = createApp();

const security = [{ bearer: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const Subscription = Billing.Info.openapi("Subscription");
const Usage = Billing.Usage.openapi("Usage");
const Tier = z.enum(["free", "pro", "enterprise"]);
const PaidTier = z.enum(["pro", "enterprise"]);
const HttpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).max(2048);

app.openapi(
  createRoute({
    method: "get",
    path: "/billing/subscription",
    tags: ["Billing"],
    summary: "The tenant's subscription, billing period and token balance",
    security,
    responses: { 200: json(Subscription, "Subscription"), 401: ErrorSchemaDoc },
  }),
  async (c) => c.json(await Billing.subscription(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/billing/usage",
    tags: ["Billing"],
    summary: "Token usage this period and the plan's limits",
    security,
    responses: { 200: json(Usage, "Usage"), 401: ErrorSchemaDoc },
  }),
  async (c) => c.json(await Billing.usage(), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/billing/checkout",
    tags: ["Billing"],
    summary: "Start a Stripe Checkout session to subscribe to a paid tier (admin)",
    security,
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z.object({ tier: PaidTier, success_url: HttpUrl, cancel_url: HttpUrl }).openapi("CheckoutRequest"),
          },
        },
      },
    },
    responses: {
      200: json(z.object({ checkout_url: z.string() }).openapi("CheckoutSession"), "Checkout session"),
      400: ErrorSchemaDoc,
      401: ErrorSchemaDoc,
      403: ErrorSchemaDoc,
      409: ErrorSchemaDoc,
      502: ErrorSchemaDoc,
      503: ErrorSchemaDoc,
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
    security,
    request: {
      body: {
        required: false,
        content: { "application/json": { schema: z.object({ return_url: HttpUrl.optional() }).openapi("PortalRequest") } },
      },
    },
    responses: {
      200: json(z.object({ portal_url: z.string() }).openapi("PortalSession"), "Portal session"),
      400: ErrorSchemaDoc,
      401: ErrorSchemaDoc,
      403: ErrorSchemaDoc,
      409: ErrorSchemaDoc,
      502: ErrorSchemaDoc,
      503: ErrorSchemaDoc,
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
    security,
    request: {
      body: {
        required: true,
        content: {
          "application/json": { schema: z.object({ tenant_id: z.string().min(1).max(128), tier: Tier }).openapi("SetPlanRequest") },
        },
      },
    },
    responses: {
      200: json(Subscription, "The tenant's subscription after the change"),
      400: ErrorSchemaDoc,
      401: ErrorSchemaDoc,
      403: ErrorSchemaDoc,
      404: ErrorSchemaDoc,
    },
  }),
  async (c) => c.json(await Billing.setPlan(c.req.valid("json")), 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/billing/limits",
    tags: ["Billing"],
    summary: "Set a tenant's own limits over its plan (platform superadmin); null gives a limit back to the plan",
    security,
    request: {
      body: { required: true, content: { "application/json": { schema: Billing.SetLimitsInput.openapi("SetLimitsRequest") } } },
    },
    responses: {
      200: json(Billing.TenantLimits.openapi("TenantLimits"), "The tenant's limits in force and its overrides"),
      400: ErrorSchemaDoc,
      401: ErrorSchemaDoc,
      403: ErrorSchemaDoc,
      404: ErrorSchemaDoc,
    },
  }),
  async (c) => c.json(await Billing.setLimits(c.req.valid("json")), 200),
);

export const handler = handle(app);
