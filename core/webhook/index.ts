/**
 * Tenant webhooks: an HTTPS endpoint is told when a training run completes or
 * fails. Every delivery is a POST of a JSON body signed with HMAC-SHA256 over
 * `${timestamp}.${body}` using the webhook's secret:
 *
 *   Flint-Signature: t=<unix seconds>,v1=<hex digest>
 *   Flint-Event: training.completed
 *   Flint-Delivery: whd_...
 *
 * Receivers should recompute the digest, compare in constant time, reject
 * timestamps older than a few minutes, and dedupe on Flint-Delivery (delivery
 * is at least once). Failed attempts (non-2xx, timeout, network error) are
 * retried through the webhook queue with growing delays (RETRY_DELAYS_SECONDS);
 * after MAX_ATTEMPTS the delivery is `failed`.
 */
export * as Webhook from "./index";

import { createHmac, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { z } from "zod";
import { assertRole, useActor, useTenant } from "../actor";
import { Config } from "../config";
import { limitReached, notFound } from "../error";
import { fn } from "../fn";
import { createId, createSecret } from "../id";
import { logger } from "../logger";
import { enqueue } from "../queue";
import { DeliveryEntity, type DeliveryItem } from "./delivery-entity";
import { check, WEBHOOK_EVENTS, type PayloadOf, type WebhookEvent, type WebhookEventType } from "../realtime/events";
import { WebhookEntity, type WebhookItem } from "./entity";

/** The webhook events are registry events (core/realtime/events.ts): `TrainingCompletedWebhook`, `TrainingFailedWebhook`. */
export { WEBHOOK_EVENTS, type WebhookEvent, type WebhookEventType } from "../realtime/events";

export const MAX_WEBHOOKS_PER_TENANT = 10;
export const MAX_ATTEMPTS = 6;
/** Delay before attempt 2, 3, ... (SQS caps a delay at 900 s). */
export const RETRY_DELAYS_SECONDS = [2, 10, 60, 300, 900] as const;
export const DELIVERY_TIMEOUT_MS = 10_000;
export const SIGNATURE_HEADER = "Flint-Signature";

/** The webhook-queue message: deliver (the next attempt of) one delivery. */
export const DeliveryMessage = z.object({
  delivery_id: z.string().min(1),
  webhook_id: z.string().min(1),
  tenant_id: z.string().min(1),
});
export type DeliveryMessage = z.infer<typeof DeliveryMessage>;

function isPrivateHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare.endsWith(".localhost") || bare.endsWith(".internal")) return true;
  const version = isIP(bare);
  if (version === 4) {
    const [a, b] = bare.split(".").map(Number) as [number, number];
    return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (version === 6) return bare === "::1" || bare === "::" || bare.startsWith("fc") || bare.startsWith("fd") || bare.startsWith("fe80") || bare.startsWith("::ffff:");
  return false;
}

/**
 * HTTPS URLs to public hosts only; plain http://127.0.0.1 / localhost is
 * accepted on the local runtime (Config.isLocal()) for development and tests.
 */
export const WebhookUrl = z
  .string()
  .max(2048)
  .refine((value) => URL.canParse(value), "url must be an absolute URL")
  .superRefine((value, ctx) => {
    if (!URL.canParse(value)) return;
    const url = new URL(value);
    const localAllowed = Config.isLocal() && ["127.0.0.1", "localhost"].includes(url.hostname);
    if (url.username || url.password) ctx.addIssue({ code: "custom", message: "url must not contain credentials" });
    else if (localAllowed && (url.protocol === "http:" || url.protocol === "https:")) return;
    else if (url.protocol !== "https:") ctx.addIssue({ code: "custom", message: "url must use https" });
    else if (isPrivateHost(url.hostname)) ctx.addIssue({ code: "custom", message: "url must point to a public host" });
  });

export const CreateInput = z.object({
  url: WebhookUrl,
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).default([...WEBHOOK_EVENTS]),
  description: z.string().trim().max(200).optional(),
});
export type CreateInput = z.input<typeof CreateInput>;

export const Info = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  description: z.string().nullable(),
  created_at: z.string(),
});
export type Info = z.infer<typeof Info>;

export const DeliveryInfo = z.object({
  id: z.string(),
  webhook_id: z.string(),
  event: z.enum(WEBHOOK_EVENTS),
  status: z.enum(["pending", "retrying", "succeeded", "failed"]),
  attempts: z.number(),
  last_status_code: z.number().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
  created_at: z.string(),
  payload: z.record(z.string(), z.unknown()),
});
export type DeliveryInfo = z.infer<typeof DeliveryInfo>;

export function serialize(item: WebhookItem): Info {
  return {
    id: item.webhookId,
    url: item.url,
    events: [...(item.events ?? [])].sort() as WebhookEventType[],
    description: item.description ?? null,
    created_at: item.createdAt,
  };
}

export function serializeDelivery(item: DeliveryItem): DeliveryInfo {
  return {
    id: item.deliveryId,
    webhook_id: item.webhookId,
    event: item.event,
    status: item.status,
    attempts: item.attempts ?? 0,
    last_status_code: item.lastStatusCode ?? null,
    last_error: item.lastError ?? null,
    next_attempt_at: item.nextAttemptAt ?? null,
    delivered_at: item.deliveredAt ?? null,
    created_at: item.createdAt,
    payload: JSON.parse(item.payload) as Record<string, unknown>,
  };
}

/**
 * Registers a webhook for the calling tenant. The answer carries the signing
 * secret; it is never shown again.
 * @throws request.invalid (bad URL or events), plan.webhook_limit_reached, auth.forbidden (admins only)
 */
export const create = fn(CreateInput, async (parsed): Promise<Info & { secret: string }> => {
  assertRole("admin");
  const tenantId = useTenant();
  const existing = await WebhookEntity.query.byTenant({ tenantId }).go({ pages: "all", attributes: ["webhookId"] });
  if (existing.data.length >= MAX_WEBHOOKS_PER_TENANT) {
    throw limitReached("webhook.limit_reached", `A tenant can register at most ${MAX_WEBHOOKS_PER_TENANT} webhooks`, {
      limit: MAX_WEBHOOKS_PER_TENANT,
      used: existing.data.length,
    });
  }
  const actor = useActor();
  const secret = `whsec_${createSecret(32)}`;
  const created = await WebhookEntity.create({
    tenantId,
    webhookId: createId("wh"),
    url: parsed.url,
    events: [...new Set(parsed.events)],
    description: parsed.description,
    secret,
    createdBy: actor.type === "user" ? actor.userId : undefined,
  }).go();
  return { ...serialize(created.data as WebhookItem), secret };
});

export async function list(): Promise<Info[]> {
  const result = await WebhookEntity.query.byTenant({ tenantId: useTenant() }).go({ pages: "all" });
  return result.data.map(serialize);
}

async function find(tenantId: string, webhookId: string): Promise<WebhookItem | undefined> {
  const result = await WebhookEntity.get({ tenantId, webhookId }).go({ consistent: true });
  return result.data ?? undefined;
}

/** A webhook of the calling tenant; another tenant's id is not found. */
export async function get(webhookId: string): Promise<Info> {
  const item = await find(useTenant(), webhookId);
  if (!item) throw notFound("webhook", webhookId);
  return serialize(item);
}

export async function remove(webhookId: string): Promise<void> {
  assertRole("admin");
  const tenantId = useTenant();
  if (!(await find(tenantId, webhookId))) throw notFound("webhook", webhookId);
  await WebhookEntity.delete({ tenantId, webhookId }).go();
}

/** Deliveries of one webhook, newest first. */
export async function deliveries(webhookId: string, options: { limit?: number } = {}): Promise<DeliveryInfo[]> {
  const tenantId = useTenant();
  if (!(await find(tenantId, webhookId))) throw notFound("webhook", webhookId);
  const result = await DeliveryEntity.query.byWebhook({ tenantId, webhookId }).go({ order: "desc", limit: options.limit ?? 100 });
  return result.data.map(serializeDelivery);
}

/** `t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` */
export function sign(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const digest = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${digest}`;
}

/** Checks a Flint-Signature header (for receivers and tests): right digest, not older than `toleranceSeconds`. */
export function verify(secret: string, body: string, header: string, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(",").map((part) => part.split("=", 2) as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || !parts.v1) return false;
  if (Math.abs(Date.now() / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, body, timestamp).split("v1=")[1]!, "hex");
  const given = Buffer.from(parts.v1, "hex");
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Queues a registry webhook event for every webhook of the tenant subscribed
 * to it; `data` is the delivery's `data`. Jobs call it with the tenant
 * explicitly. Delivery failures are logged, not thrown: a webhook must not
 * fail the training job that triggers it. `key` makes the delivery id
 * deterministic so a retried job does not notify twice.
 *
 * @throws EventPayloadError on the local runtime when `data` breaks the event's schema (a publisher bug)
 * @example await Webhook.emit(TrainingCompletedWebhook, run.tenantId, TrainingRun.serialize(run), key)
 */
export async function emit<D extends WebhookEvent>(definition: D, tenantId: string, data: PayloadOf<D>, key: string): Promise<number> {
  check(definition, data);
  const event = definition.type;
  try {
    const hooks = await WebhookEntity.query.byTenant({ tenantId }).go({ pages: "all" });
    let queued = 0;
    for (const hook of hooks.data) {
      if (!hook.events?.includes(event)) continue;
      const deliveryId = `whd_${key}_${hook.webhookId.replace(/^wh_/, "")}`.slice(0, 120);
      const payload = JSON.stringify({ id: deliveryId, type: event, created_at: new Date().toISOString(), data });
      try {
        await DeliveryEntity.create({ tenantId, webhookId: hook.webhookId, deliveryId, event, payload }).go();
      } catch (error) {
        // Already queued by an earlier attempt of the same job.
        if (/conditional/i.test((error as Error).message)) continue;
        throw error;
      }
      await enqueue("webhook", { delivery_id: deliveryId, webhook_id: hook.webhookId, tenant_id: tenantId } satisfies DeliveryMessage);
      queued++;
    }
    return queued;
  } catch (error) {
    logger.error("webhook emit failed", { tenantId, event, error: error as Error });
    return 0;
  }
}

/**
 * One delivery attempt (the webhook-queue consumer). Success or a final
 * failure is recorded; otherwise the next attempt is queued with a delay.
 * A finished delivery is left alone, so duplicate messages are harmless.
 */
export async function deliver(message: DeliveryMessage): Promise<DeliveryItem["status"] | "missing"> {
  const { tenant_id: tenantId, webhook_id: webhookId, delivery_id: deliveryId } = message;
  const found = await DeliveryEntity.get({ tenantId, webhookId, deliveryId }).go({ consistent: true });
  const delivery = found.data;
  if (!delivery) return "missing";
  if (delivery.status === "succeeded" || delivery.status === "failed") return delivery.status;
  const hook = await find(tenantId, webhookId);
  const attempts = (delivery.attempts ?? 0) + 1;
  if (!hook) {
    await DeliveryEntity.patch({ tenantId, webhookId, deliveryId }).set({ status: "failed", attempts, lastError: "The webhook was deleted" }).go();
    return "failed";
  }
  let statusCode: number | undefined;
  let error: string | undefined;
  try {
    const response = await fetch(hook.url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "Flint-Webhooks/1.0",
        [SIGNATURE_HEADER]: sign(hook.secret, delivery.payload),
        "Flint-Event": delivery.event,
        "Flint-Delivery": deliveryId,
      },
      body: delivery.payload,
    });
    statusCode = response.status;
    await response.body?.cancel().catch(() => undefined);
    if (!response.ok) error = `Endpoint answered ${response.status}`;
  } catch (cause) {
    error = (cause as Error).name === "TimeoutError" ? `No answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : `Request failed: ${(cause as Error).message}`;
  }
  if (!error) {
    await DeliveryEntity.patch({ tenantId, webhookId, deliveryId })
      .set({ status: "succeeded", attempts, lastStatusCode: statusCode, deliveredAt: new Date().toISOString() })
      .remove(["nextAttemptAt", "lastError"])
      .go();
    return "succeeded";
  }
  if (attempts >= MAX_ATTEMPTS) {
    await DeliveryEntity.patch({ tenantId, webhookId, deliveryId }).set({ status: "failed", attempts, lastStatusCode: statusCode, lastError: error }).go();
    return "failed";
  }
  const delay = RETRY_DELAYS_SECONDS[Math.min(attempts - 1, RETRY_DELAYS_SECONDS.length - 1)]!;
  await DeliveryEntity.patch({ tenantId, webhookId, deliveryId })
    .set({ status: "retrying", attempts, lastStatusCode: statusCode, lastError: error, nextAttemptAt: new Date(Date.now() + delay * 1000).toISOString() })
    .go();
  await enqueue("webhook", message, { delaySeconds: delay });
  return "retrying";
}
