import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { Realtime } from "../../core/realtime";
import type { WebSocketEvent } from "./event";

export async function handler(event: WebSocketEvent): Promise<APIGatewayProxyResultV2> {
  await Realtime.disconnect(event.requestContext.connectionId);
  return { statusCode: 200 };
}
