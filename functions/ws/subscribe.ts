/**
 * Messages from clients: {"action":"subscribe","topic":"run:tr_..."} and
 * {"action":"unsubscribe","topic":...}. Answers are pushed back on the socket:
 * {"type":"subscribed","topic"} followed by the topic's snapshot
 * ({"type":"snapshot","topic","state","events"} and that many events marked
 * "snapshot": true), or {"type":"error","code","error"}.
 *
 * Seed 001's protocol works too: {"type":"ping"} answers {"type":"pong","at"};
 * {"type":"subscribe"|"unsubscribe","event":"worker.online"} follows one event
 * type across the tenant, answered {"type":"subscribed"|"unsubscribed","event"}.
 */
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { z } from "zod";
import { withActor } from "../../core/actor";
import { DomainError } from "../../core/error";
import { Realtime } from "../../core/realtime";
import { REALTIME_EVENT_TYPES } from "../../core/realtime/events";
import { assertTopicVisible, sendSnapshot } from "../../core/realtime/topics";
import "./topics";
import type { WebSocketEvent } from "./event";

const Message = z.object({ action: z.enum(["subscribe", "unsubscribe"]), topic: Realtime.TopicName });
const Ping = z.object({ type: z.literal("ping") });
const EventSubscription = z.object({ type: z.enum(["subscribe", "unsubscribe"]), event: z.string().max(100) });
const USAGE =
  'Expected {"action":"subscribe"|"unsubscribe","topic":"tenant"|"run:<id>"|"dataset:<id>"|"deployment:<id>"|"service:<id>"}, ' +
  '{"type":"subscribe"|"unsubscribe","event":"<event type>"} or {"type":"ping"}';

export async function handler(event: WebSocketEvent): Promise<APIGatewayProxyResultV2> {
  const connectionId = event.requestContext.connectionId;
  const reply = (body: Record<string, unknown>) =>
    Realtime.send(connectionId, new TextEncoder().encode(JSON.stringify(body)));
  const connection = await Realtime.getConnection(connectionId);
  if (!connection) {
    await reply({ type: "error", code: "auth.unauthorized", error: "Connection is not authenticated" });
    return { statusCode: 401 };
  }
  let body: unknown;
  try {
    body = JSON.parse(event.body ?? "");
  } catch {
    body = undefined;
  }
  if (Ping.safeParse(body).success) {
    await reply({ type: "pong", at: new Date().toISOString() });
    return { statusCode: 200 };
  }
  const byEvent = EventSubscription.safeParse(body);
  if (byEvent.success) return followEventType(connection, byEvent.data.type, byEvent.data.event, reply);
  const parsed = Message.safeParse(body);
  if (!parsed.success) {
    await reply({ type: "error", code: "request.invalid", error: USAGE });
    return { statusCode: 400 };
  }
  const { action, topic } = parsed.data;
  const actor = { type: "system" as const, tenantId: connection.tenantId };
  try {
    await withActor(actor, () => assertTopicVisible(topic));
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    await reply({ type: "error", code: error.code, error: error.message, topic });
    return { statusCode: 404 };
  }
  if (action === "unsubscribe") {
    await Realtime.unsubscribe(connection, topic);
    await reply({ type: "unsubscribed", topic });
    return { statusCode: 200 };
  }
  // Subscribed before the snapshot is read, so an event published in between still arrives (maybe twice).
  await Realtime.subscribe(connection, topic);
  await reply({ type: "subscribed", topic });
  try {
    await withActor(actor, () => sendSnapshot(connectionId, topic));
  } catch (error) {
    // Only a resource deleted since the check above gets here.
    if (!(error instanceof DomainError)) throw error;
    await reply({ type: "error", code: error.code, error: error.message, topic });
  }
  return { statusCode: 200 };
}

/** Seed 001's subscription to one event type across the tenant (no snapshot: an event type has no state). */
async function followEventType(
  connection: Realtime.Connection,
  action: "subscribe" | "unsubscribe",
  event: string,
  reply: (body: Record<string, unknown>) => Promise<boolean>,
): Promise<APIGatewayProxyResultV2> {
  if (!REALTIME_EVENT_TYPES.includes(event)) {
    await reply({ type: "error", code: "realtime.unknown_event", error: `No live event is called ${JSON.stringify(event)}`, event, events: REALTIME_EVENT_TYPES });
    return { statusCode: 400 };
  }
  if (action === "subscribe") await Realtime.subscribe(connection, Realtime.eventTopic(event));
  else await Realtime.unsubscribe(connection, Realtime.eventTopic(event));
  await reply({ type: action === "subscribe" ? "subscribed" : "unsubscribed", event });
  return { statusCode: 200 };
}
