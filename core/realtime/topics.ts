/**
 * Which topics the calling actor may subscribe to (its whole tenant, or one
 * of its own runs, datasets or deployments; another tenant's id is "not
 * found"), and the snapshot a new subscriber gets of a resource topic, so a
 * client that subscribes late sees where the resource stands instead of
 * waiting for its next event.
 *
 * A snapshot is sent after the subscription is stored, so nothing published
 * meanwhile is lost; an event can then arrive both live and in the snapshot,
 * and live events can arrive between snapshot messages (clients order and
 * dedupe epochs by `current_epoch`).
 */
import { z } from "zod";
import { withActor } from "../actor";
import { DomainError, notFound } from "../error";
import { logger } from "../logger";
import { enqueue } from "../queue";
import type { TopicKind as AnyTopicKind } from "./events";
import { getConnection, post, send, disconnect, type RealtimeEvent } from "./index";

/** The topics that name one resource and have a snapshot. */
type TopicKind = Exclude<AnyTopicKind, "tenant">;

/** Where a resource stands: a few fields of its GET representation, and the events that bring a client up to date. */
export interface Snapshot {
  state: Record<string, unknown>;
  /** The resource's registry events (built with `Events.message`) as the live channel publishes them, oldest first. */
  events: RealtimeEvent[];
}

export interface TopicSource {
  /** Resolves when `id` is the calling tenant's; throws `<kind>.not_found` otherwise. */
  find(id: string): Promise<unknown>;
  /** The resource's snapshot, read after the subscription is stored; throws `<kind>.not_found` like `find`. */
  snapshot(id: string): Promise<Snapshot>;
}

const sources: Partial<Record<TopicKind, TopicSource>> = {};

/** Domain modules register how to look up their resources and build their snapshots (tenant-scoped). */
export function registerTopic(kind: TopicKind, source: TopicSource): void {
  sources[kind] = source;
}

function sourceOf(topic: string): { source: TopicSource; id: string } | undefined {
  if (topic === "tenant") return undefined;
  const [kind, id] = topic.split(":") as [TopicKind, string];
  const source = sources[kind];
  if (!source) throw notFound(kind, id);
  return { source, id };
}

/** Throws `<kind>.not_found` unless the topic names a resource of the calling tenant. */
export async function assertTopicVisible(topic: string): Promise<void> {
  const found = sourceOf(topic);
  if (found) await found.source.find(found.id);
}

/**
 * The messages that bring a new subscriber of `topic` up to date: first
 * `{"type":"snapshot","topic","state","events":<count>}`, then `events`
 * events, each the resource's usual event marked `"snapshot": true`. The
 * `tenant` topic has no snapshot (an empty list).
 *
 * @throws <kind>.not_found for another tenant's resource (calling tenant from the actor context)
 */
export async function snapshotMessages(topic: string): Promise<RealtimeEvent[]> {
  const found = sourceOf(topic);
  if (!found) return [];
  const { state, events } = await found.source.snapshot(found.id);
  return [
    { type: "snapshot", topic, state, events: events.length },
    ...events.map((event) => ({ ...event, snapshot: true })),
  ];
}

const encode = (event: RealtimeEvent) => new TextEncoder().encode(JSON.stringify(event));

/**
 * Sends `topic`'s snapshot to an open connection, one message at a time and
 * in order, through the Management API. Stops early when the connection is gone.
 *
 * @throws <kind>.not_found for another tenant's resource
 */
export async function sendSnapshot(connectionId: string, topic: string): Promise<void> {
  for (const message of await snapshotMessages(topic)) {
    if (!(await send(connectionId, encode(message)))) return;
  }
}

/** The realtime queue's message: send `topic`'s snapshot to a connection once it is open. */
export const SnapshotMessage = z.object({
  kind: z.literal("snapshot"),
  connection_id: z.string().min(1),
  topic: z.string().min(1),
  attempt: z.number().int().min(1).default(1),
});
export type SnapshotMessage = z.infer<typeof SnapshotMessage>;

/** How long after $connect a 410 may still mean "not open yet" rather than "gone". */
const OPENING_GRACE_MS = 10_000;
const MAX_ATTEMPTS = 5;

/**
 * Queues the snapshot of a topic subscribed to on connect. API Gateway
 * accepts no post to a connection before its $connect handler has returned,
 * so the $connect handler cannot send it itself; the realtime queue's
 * consumer does, moments later (`deliverDeferredSnapshot`).
 */
export async function deferSnapshot(connectionId: string, topic: string): Promise<void> {
  await enqueue("realtime", { kind: "snapshot", connection_id: connectionId, topic, attempt: 1 } satisfies SnapshotMessage);
}

/**
 * Sends a deferred snapshot as the connection's tenant. A connection that
 * answers 410 within OPENING_GRACE_MS of connecting is taken to be still
 * opening: the message is queued again a second later (at most MAX_ATTEMPTS
 * times) and the connection is kept. A connection that disconnected meanwhile
 * (or whose resource was deleted) is skipped. Returns what happened.
 */
export async function deliverDeferredSnapshot(message: SnapshotMessage): Promise<"sent" | "retrying" | "gone"> {
  const connection = await getConnection(message.connection_id);
  if (!connection) return "gone";
  const actor = { type: "system" as const, tenantId: connection.tenantId };
  let messages: RealtimeEvent[];
  try {
    messages = await withActor(actor, () => snapshotMessages(message.topic));
  } catch (error) {
    // The resource was deleted since $connect checked it: nothing left to show.
    if (error instanceof DomainError) return "gone";
    throw error;
  }
  const [first, ...rest] = messages;
  if (!first) return "sent";
  if (!(await post(connection.connectionId, encode(first)))) {
    const opening = Date.now() - (connection.connectedAt ?? 0) < OPENING_GRACE_MS;
    if (opening && message.attempt < MAX_ATTEMPTS) {
      await enqueue("realtime", { ...message, attempt: message.attempt + 1 } satisfies SnapshotMessage, { delaySeconds: 1 });
      return "retrying";
    }
    logger.info("deferred snapshot dropped: connection gone", { topic: message.topic, attempt: message.attempt });
    await disconnect(connection.connectionId);
    return "gone";
  }
  for (const event of rest) {
    if (!(await send(connection.connectionId, encode(event)))) return "gone";
  }
  return "sent";
}
