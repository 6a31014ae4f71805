/**
 * $connect: the socket is accepted only with a valid access token, given as
 * `?token=` or as the `Sec-WebSocket-Protocol` value `bearer, <token>`.
 * `?topic=run:<id>` (or `?run=<id>`) subscribes at once; that topic's
 * snapshot follows right after the connection opens (see deferSnapshot).
 */
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { withActor } from "../../core/actor";
import { Auth } from "../../core/auth";
import { DomainError } from "../../core/error";
import { logger } from "../../core/logger";
import { Realtime } from "../../core/realtime";
import { assertTopicVisible, deferSnapshot } from "../../core/realtime/topics";
import "./topics";
import type { WebSocketEvent } from "./event";

export async function handler(event: WebSocketEvent): Promise<APIGatewayProxyResultV2> {
  const connectionId = event.requestContext.connectionId;
  const query = event.queryStringParameters ?? {};
  const protocol = headerValue(event, "sec-websocket-protocol");
  const token = query.token ?? bearerFromProtocol(protocol);
  if (!token) return { statusCode: 401, body: "Missing access token" };
  try {
    const actor = await Auth.authenticate(token);
    return await withActor(actor, async () => {
      const topic = query.topic ?? (query.run ? `run:${query.run}` : undefined);
      if (topic) {
        const parsed = Realtime.TopicName.safeParse(topic);
        if (!parsed.success) return { statusCode: 400, body: "Invalid topic" };
        await assertTopicVisible(parsed.data);
      }
      const connection = { connectionId, tenantId: actor.tenantId, userId: actor.userId };
      await Realtime.connect(connection);
      if (topic) {
        const stored = await Realtime.getConnection(connectionId);
        if (stored) {
          await Realtime.subscribe(stored, topic);
          // The gateway accepts no post before $connect returns: the realtime queue's consumer sends the snapshot.
          await deferSnapshot(connectionId, topic).catch((error: Error) =>
            logger.warn("snapshot of a topic subscribed on connect not queued", { topic, error }),
          );
        }
      }
      return {
        statusCode: 200,
        headers: protocol ? { "Sec-WebSocket-Protocol": "bearer" } : undefined,
      };
    });
  } catch (error) {
    if (error instanceof DomainError) {
      return { statusCode: error.kind === "not_found" ? 404 : 401, body: error.message };
    }
    logger.error("websocket connect failed", { error: error as Error });
    return { statusCode: 500, body: "Internal error" };
  }
}

function headerValue(event: WebSocketEvent, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

function bearerFromProtocol(protocol: string | undefined): string | undefined {
  if (!protocol) return undefined;
  const parts = protocol.split(",").map((part) => part.trim());
  return parts[0]?.toLowerCase() === "bearer" ? parts[1] : undefined;
}
