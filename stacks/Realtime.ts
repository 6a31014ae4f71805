import { WebSocketApi, use, type StackContext } from "sst/constructs";
import { Storage } from "./Storage";
import { access, nodeFunction, secretReadAccess } from "./lib/shared";

/**
 * WebSocket API for live run/deployment events. Clients send
 * {"action":"subscribe"|"unsubscribe", ...}; job functions push to
 * connections (they get execute-api:ManageConnections by binding `realtime`).
 */
export function Realtime({ stack }: StackContext) {
  const { table, secrets } = use(Storage);

  const wsFunction = (id: string, handler: string) =>
    nodeFunction(stack, id, {
      handler,
      timeout: "10 seconds",
      memorySize: 512,
      bind: [access.table(table), secrets.JWT_SIGNING_KEY],
      permissions: secretReadAccess([secrets.JWT_SIGNING_KEY]),
    });

  const connect = wsFunction("WsConnect", "functions/ws/connect.handler");
  const disconnect = wsFunction("WsDisconnect", "functions/ws/disconnect.handler");
  const subscribe = wsFunction("WsSubscribe", "functions/ws/subscribe.handler");

  const realtime = new WebSocketApi(stack, "Realtime", {
    cdk: {
      webSocketApi: { routeSelectionExpression: "$request.body.action" },
    },
    routes: {
      $connect: connect,
      $disconnect: disconnect,
      $default: subscribe,
      subscribe,
      unsubscribe: subscribe,
    },
  });

  stack.addOutputs({
    WebSocketUrl: realtime.url,
  });

  return { realtime };
}
