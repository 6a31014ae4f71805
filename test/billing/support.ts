/**
 * Factories for billing tests: tenant actors, signed Stripe events and a tiny
 * stand-in for the Stripe API that records what the platform sends.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { withActor, type Actor, type Role } from "../../core/actor";
import { SubscriptionEntity } from "../../core/billing/entities";
import type { Tier } from "../../core/billing/plans";
import { createId } from "../../core/id";

export function newTenantId(): string {
  return createId("tnt");
}

export function userActor(tenantId: string, role: Role = "admin", superadmin = false): Actor {
  return { type: "user", userId: createId("usr"), username: `user-${role}`, tenantId, role, superadmin, sessionId: createId("ses") };
}

/** Runs `run` as a user of `tenantId`. */
export function asUser<T>(tenantId: string, run: () => Promise<T>, role: Role = "admin"): Promise<T> {
  return withActor(userActor(tenantId, role), run);
}

/** Puts a tenant on a tier directly (fixture; the product path is Stripe or setPlan). */
export async function givenTier(tenantId: string, tier: Tier, extra: { stripeCustomerId?: string; stripeSubscriptionId?: string } = {}) {
  await SubscriptionEntity.put({ tenantId, tier, status: "active", ...extra }).go();
}

export interface StripeEventInput {
  type: string;
  object: Record<string, unknown>;
  /** Epoch seconds; defaults to now. */
  created?: number;
  id?: string;
}

export function stripeEvent(input: StripeEventInput): { id: string; payload: string } {
  const id = input.id ?? `evt_${createId("t")}`;
  const payload = JSON.stringify({
    id,
    object: "event",
    api_version: "2025-10-29.clover",
    created: input.created ?? Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: input.type,
    data: { object: input.object },
  });
  return { id, payload };
}

export function sign(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
}

export function subscriptionObject(input: {
  id: string;
  customer: string;
  status: string;
  price: string;
  tenantId?: string;
  periodStart?: number;
  periodEnd?: number;
}): Record<string, unknown> {
  const start = input.periodStart ?? Math.floor(Date.now() / 1000) - 3600;
  const end = input.periodEnd ?? start + 30 * 24 * 3600;
  return {
    id: input.id,
    object: "subscription",
    customer: input.customer,
    status: input.status,
    metadata: input.tenantId ? { tenant_id: input.tenantId } : {},
    items: {
      object: "list",
      data: [{ id: `si_${input.id}`, object: "subscription_item", price: { id: input.price, object: "price" }, current_period_start: start, current_period_end: end }],
    },
  };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  form: URLSearchParams;
}

/** A local HTTP server answering like the few Stripe endpoints billing calls. */
export async function startStripeStandIn() {
  const requests: RecordedRequest[] = [];
  let failNext: { status: number; body: unknown } | undefined;
  let customers = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0] ?? "";
      requests.push({ method: req.method ?? "", path, headers: req.headers, form: new URLSearchParams(body) });
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json", "request-id": `req_${requests.length}` });
        res.end(JSON.stringify(value));
      };
      if (failNext) {
        const failure = failNext;
        failNext = undefined;
        return reply(failure.status, failure.body);
      }
      if (req.method === "POST" && path === "/v1/customers") {
        customers += 1;
        return reply(200, { id: `cus_standin${customers}`, object: "customer" });
      }
      if (req.method === "POST" && path === "/v1/checkout/sessions") {
        const id = `cs_test_${requests.length}`;
        return reply(200, { id, object: "checkout.session", url: `https://checkout.stripe.test/c/pay/${id}` });
      }
      if (req.method === "POST" && path === "/v1/billing_portal/sessions") {
        const id = `bps_${requests.length}`;
        return reply(200, { id, object: "billing_portal.session", url: `https://billing.stripe.test/p/session/${id}` });
      }
      reply(404, { error: { type: "invalid_request_error", message: `Unrecognized request URL (${req.method}: ${path})` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNextWith(status: number, body: unknown) {
      failNext = { status, body };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
