/**
 * The live channel: WebSocket connections (API Gateway WebSocket API on AWS,
 * the local runtime's socket server locally), their subscriptions, and
 * publishing events to them through the API Gateway Management API.
 */
export * as Realtime from "./index";

import { Entity, type EntityItem } from "electrodb";
import {
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { z } from "zod";
import { websocketManagement } from "../aws";
import { entityConfig, expiresIn } from "../db";
import { logger } from "../logger";
import { message, type PayloadOf, type RealtimeEventDefinition, type Topic } from "./events";

export { Topic, EventPayloadError } from "./events";
export * as Events from "./events";

/** Connections older than this are dropped even if $disconnect never came (API Gateway caps them at 2 h). */
const CONNECTION_TTL_SECONDS = 3 * 60 * 60;

export const ConnectionEntity = new Entity(
  {
    model: { entity: "connection", version: "1", service: "flint" },
    attributes: {
      connectionId: { type: "string", required: true },
      tenantId: { type: "string", required: true },
      userId: { type: "string", required: true },
      connectedAt: { type: "number", default: () => Date.now(), readOnly: true },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byId: {
        pk: { field: "pk", composite: ["connectionId"] },
        sk: { field: "sk", composite: [] },
      },
    },
  },
  entityConfig,
);

export const SubscriptionEntity = new Entity(
  {
    model: { entity: "subscription", version: "1", service: "flint" },
    attributes: {
      tenantId: { type: "string", required: true },
      topic: { type: "string", required: true },
      connectionId: { type: "string", required: true },
      expires_at: { type: "number", required: true },
    },
    indexes: {
      byTopic: {
        pk: { field: "pk", composite: ["tenantId", "topic"] },
        sk: { field: "sk", composite: ["connectionId"] },
      },
      byConnection: {
        index: "gsi1",
        pk: { field: "gsi1pk", composite: ["connectionId"] },
        sk: { field: "gsi1sk", composite: ["topic"] },
      },
    },
  },
  entityConfig,
);

export type Connection = EntityItem<typeof ConnectionEntity>;

/**
 * A topic name a client subscribes to: `tenant` (everything of its tenant),
 * or `run:<id>`, `dataset:<id>`, `deployment:<id>`, `service:<id>` (publishers build theirs
 * with `Topic.run(tenantId, id)` etc.).
 */
export const TopicName = z
  .string()
  .max(100)
  .regex(/^(tenant|(run|dataset|deployment|service):[a-z0-9_]+)$/, "topic must be 'tenant' or '<run|dataset|deployment|service>:<id>'");

/** The topic of one event type within a tenant (seed 001's `{"type":"subscribe","event":"worker.online"}`). */
export const eventTopic = (type: string) => `event:${type}`;

export async function connect(input: { connectionId: string; tenantId: string; userId: string }): Promise<void> {
  await ConnectionEntity.put({ ...input, expires_at: expiresIn(CONNECTION_TTL_SECONDS) }).go();
}

export async function getConnection(connectionId: string): Promise<Connection | undefined> {
  const result = await ConnectionEntity.get({ connectionId }).go();
  return result.data ?? undefined;
}

export async function subscribe(connection: Connection, topic: string): Promise<void> {
  await SubscriptionEntity.put({
    tenantId: connection.tenantId,
    topic,
    connectionId: connection.connectionId,
    expires_at: expiresIn(CONNECTION_TTL_SECONDS),
  }).go();
}

export async function unsubscribe(connection: Connection, topic: string): Promise<void> {
  await SubscriptionEntity.delete({ tenantId: connection.tenantId, topic, connectionId: connection.connectionId }).go();
}

/** Removes a connection and all its subscriptions ($disconnect, or 410 Gone). */
export async function disconnect(connectionId: string): Promise<void> {
  const subscriptions = await SubscriptionEntity.query.byConnection({ connectionId }).go({ pages: "all" });
  if (subscriptions.data.length > 0) {
    await SubscriptionEntity.delete(
      subscriptions.data.map(({ tenantId, topic, connectionId: id }) => ({ tenantId, topic, connectionId: id })),
    ).go();
  }
  await ConnectionEntity.delete({ connectionId }).go();
}

/** A message as it goes out on a socket: a registry event (`Events.message`) or a snapshot header. */
export interface RealtimeEvent {
  type: string;
  [field: string]: unknown;
}

/**
 * Sends a registry event to every connection of the topic's tenant subscribed
 * to `topic`, to the event's type or to the whole tenant. Connections that are gone (410) are
 * removed. A push is best effort and must not fail the job that sends it, so
 * delivery failures are logged, not thrown.
 *
 * @throws EventPayloadError on the local runtime when `payload` breaks the event's schema (a publisher bug)
 * @example await Realtime.publish(Events.DatasetReady, Topic.dataset(tenantId, id), { dataset_id: id, row_count, columns })
 */
export async function publish<D extends RealtimeEventDefinition>(definition: D, topic: Topic<D["topic"]>, payload: PayloadOf<D>): Promise<number> {
  return broadcast(topic.tenantId, [topic.name], message(definition, payload) as RealtimeEvent);
}

/**
 * The transport under `publish`: sends `event` as it is to every connection
 * of `tenantId` subscribed to one of `topics`, to the event's type or to the
 * whole tenant, and removes connections that are gone (410). Never throws.
 */
export async function broadcast(tenantId: string, topics: string[], event: RealtimeEvent): Promise<number> {
  try {
    const all = [...new Set(["tenant", eventTopic(event.type), ...topics])];
    // Strongly consistent: a subscriber that read its snapshot before this event's write must be found here.
    const pages = await Promise.all(
      all.map((topic) => SubscriptionEntity.query.byTopic({ tenantId, topic }).go({ pages: "all", consistent: true })),
    );
    const connectionIds = [...new Set(pages.flatMap((page) => page.data.map((item) => item.connectionId)))];
    const data = new TextEncoder().encode(JSON.stringify(event));
    const results = await Promise.all(connectionIds.map((connectionId) => send(connectionId, data)));
    return results.filter(Boolean).length;
  } catch (error) {
    logger.warn("realtime publish failed", { tenantId, type: event.type, error: error as Error });
    return 0;
  }
}

/** Sends to one connection; false (and cleanup) when it is gone. */
export async function send(connectionId: string, data: Uint8Array): Promise<boolean> {
  if (await post(connectionId, data)) return true;
  await disconnect(connectionId);
  return false;
}

/**
 * Posts to one connection through the Management API; false when the gateway
 * answers 410, which is also its answer while the connection's $connect is
 * still running. Leaves the stored connection alone (see `send`).
 */
export async function post(connectionId: string, data: Uint8Array): Promise<boolean> {
  try {
    await websocketManagement().send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    return true;
  } catch (error) {
    if (error instanceof GoneException || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 410) return false;
    throw error;
  }
}

/** Closes a connection from the server side (e.g. after a failed late authentication). */
export async function close(connectionId: string): Promise<void> {
  try {
    await websocketManagement().send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  } catch (error) {
    if (!(error instanceof GoneException)) throw error;
  }
  await disconnect(connectionId);
}
