import type { APIGatewayProxyWebsocketEventV2 } from "aws-lambda";

/** API Gateway's WebSocket event; $connect also carries headers and query parameters. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
};
