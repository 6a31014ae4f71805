/**
 * The local stand-in for API Gateway's WebSocket API: sockets on the HTTP
 * port (/ws, and /ws/training/:id which subscribes to that run), driving the
 * same $connect/$disconnect/subscribe handlers with API Gateway's event shape,
 * and the Management API (POST/GET/DELETE /@connections/{id}) that jobs call
 * through @aws-sdk/client-apigatewaymanagementapi.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { WebSocketServer, type WebSocket } from "ws";
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { logger } from "../core/logger";
import type { WebSocketEvent } from "../functions/ws/event";

type WsHandler = (event: WebSocketEvent) => Promise<APIGatewayProxyResultV2>;

export interface WebSocketHandlers {
  connect: WsHandler;
  disconnect: WsHandler;
  message: WsHandler;
}

export function createWebSocketGateway(handlers: WebSocketHandlers) {
  const sockets = new Map<string, { socket: WebSocket; connectedAt: number; sourceIp: string }>();
  const wss = new WebSocketServer({ noServer: true });

  function event(connectionId: string, routeKey: string, extra: Partial<WebSocketEvent> = {}): WebSocketEvent {
    return {
      requestContext: {
        routeKey,
        eventType: routeKey === "$connect" ? "CONNECT" : routeKey === "$disconnect" ? "DISCONNECT" : "MESSAGE",
        connectionId,
        messageId: randomBytes(8).toString("base64"),
        extendedRequestId: randomBytes(8).toString("hex"),
        requestTime: new Date().toISOString(),
        messageDirection: "IN",
        stage: "local",
        connectedAt: sockets.get(connectionId)?.connectedAt ?? Date.now(),
        requestTimeEpoch: Date.now(),
        requestId: randomBytes(8).toString("hex"),
        domainName: "localhost",
        apiId: "local",
      },
      isBase64Encoded: false,
      ...extra,
    } as WebSocketEvent;
  }

  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const alias = /^\/ws\/training\/([A-Za-z0-9_]+)$/.exec(url.pathname);
    if (url.pathname !== "/ws" && !alias) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    const query = Object.fromEntries(url.searchParams);
    if (alias?.[1]) query.run = alias[1];
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([key, value]) => [key, Array.isArray(value) ? value.join(",") : value]),
    ) as Record<string, string>;
    // API Gateway connection ids are opaque base64 strings.
    const connectionId = randomBytes(12).toString("base64url") + "=";
    const result = await handlers
      .connect(event(connectionId, "$connect", { headers, queryStringParameters: query }))
      .catch((error: Error) => {
        logger.error("local $connect failed", { error });
        return { statusCode: 500 };
      });
    const status = typeof result === "object" && result.statusCode ? result.statusCode : 200;
    if (status !== 200) {
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : "Refused"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.set(connectionId, { socket: ws, connectedAt: Date.now(), sourceIp: request.socket.remoteAddress ?? "" });
      ws.on("message", (data) => {
        void handlers.message(event(connectionId, "subscribe", { body: data.toString() })).catch((error: Error) =>
          logger.error("local websocket message failed", { error }),
        );
      });
      ws.on("close", () => {
        sockets.delete(connectionId);
        void handlers.disconnect(event(connectionId, "$disconnect")).catch((error: Error) =>
          logger.error("local $disconnect failed", { error }),
        );
      });
    });
  }

  /** The Management API, reachable only from this machine. */
  const management = new Hono();
  management.use("/@connections/*", async (c, next) => {
    const remote = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress ?? "";
    if (!["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(remote)) return c.json({ message: "Forbidden" }, 403);
    await next();
  });
  management.post("/@connections/:id", async (c) => {
    const entry = sockets.get(decodeURIComponent(c.req.param("id")));
    if (!entry || entry.socket.readyState !== entry.socket.OPEN) return c.json({ message: "Gone" }, 410);
    const data = Buffer.from(await c.req.arrayBuffer());
    await new Promise<void>((resolve, reject) => entry.socket.send(data.toString("utf8"), (error) => (error ? reject(error) : resolve())));
    return c.body(null, 200);
  });
  management.get("/@connections/:id", (c) => {
    const entry = sockets.get(decodeURIComponent(c.req.param("id")));
    if (!entry) return c.json({ message: "Gone" }, 410);
    return c.json({ ConnectedAt: new Date(entry.connectedAt).toISOString(), Identity: { SourceIp: entry.sourceIp } });
  });
  management.delete("/@connections/:id", (c) => {
    const entry = sockets.get(decodeURIComponent(c.req.param("id")));
    if (!entry) return c.json({ message: "Gone" }, 410);
    entry.socket.close(1000, "Closed by server");
    return c.body(null, 204);
  });

  return {
    management,
    attach(server: Server) {
      server.on("upgrade", (request, socket, head) => void upgrade(request, socket, head));
    },
    close() {
      for (const { socket } of sockets.values()) socket.terminate();
      sockets.clear();
      wss.close();
    },
  };
}
