/**
 * The Stripe webhook (its own Lambda, no bearer auth). The signature covers
 * the exact bytes Stripe sent, so the body is read raw and nothing parses it
 * before verification; no request body schema is declared for that reason.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Billing } from "../../core/billing";
import { createApp } from "./common";
import { errors, json } from "./route";

export const app = createApp();

const Received = z
  .object({
    received: z.literal(true),
    event_id: z.string(),
    type: z.string(),
    outcome: z.enum(["applied", "ignored", "stale", "duplicate"]),
  })
  .openapi("StripeWebhookReceipt");

app.openapi(
  createRoute({
    method: "post",
    path: "/billing/webhook",
    tags: ["Billing"],
    summary: "Stripe webhook: verifies Stripe-Signature, applies subscription changes once and in order",
    description: `Handled events: ${Billing.HANDLED_EVENTS.join(", ")}. Others are acknowledged and ignored.`,
    request: { headers: z.object({ "stripe-signature": z.string().optional() }) },
    responses: {
      200: json(Received, "Event received"),
      ...errors(400, 503),
    },
  }),
  async (c) => {
    const raw = await c.req.text();
    const result = await Billing.receiveWebhook(raw, c.req.header("stripe-signature"));
    return c.json(result, 200);
  },
);

export const handler = handle(app);
