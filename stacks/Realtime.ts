import { Queue, WebSocketApi, use, type FunctionProps, type StackContext } from "sst/constructs";
import { Duration } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Storage } from "./Storage";
import { access, nodeFunction, secretReadAccess } from "./lib/shared";

/**
 * WebSocket API for live run/deployment events. Clients send
 * {"action":"subscribe"|"unsubscribe", ...}; job functions push to
 * connections (they get execute-api:ManageConnections by binding `realtime`).
 *
 * RealtimeQueue carries the snapshot of a topic subscribed to on $connect:
 * API Gateway accepts no post to a connection until $connect has returned, so
 * WsConnect queues it and WsSnapshot sends it once the connection is open.
 */
export function Realtime({ stack, app }: StackContext) {
  const { table, secrets } = use(Storage);

  const snapshotTimeout = Duration.seconds(10);
  const snapshotDlq = new sqs.Queue(stack, "RealtimeDLQ", {
    queueName: app.logicalPrefixedName("RealtimeDLQ"),
    retentionPeriod: Duration.days(14),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
  const snapshotQueue = new Queue(stack, "RealtimeQueue", {
    cdk: {
      queue: {
        visibilityTimeout: Duration.seconds(snapshotTimeout.toSeconds() * 3),
        // A snapshot is only worth sending while its client waits for it.
        retentionPeriod: Duration.hours(1),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: snapshotDlq, maxReceiveCount: 3 },
      },
    },
  });

  const wsFunction = (id: string, handler: string, bind: NonNullable<FunctionProps["bind"]> = []) =>
    nodeFunction(stack, id, {
      handler,
      timeout: "10 seconds",
      memorySize: 512,
      bind: [access.table(table), secrets.JWT_SIGNING_KEY, ...bind],
      permissions: secretReadAccess([secrets.JWT_SIGNING_KEY]),
    });

  const connect = wsFunction("WsConnect", "functions/ws/connect.handler", [access.producer(snapshotQueue)]);
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

  // A connection still opening gets its snapshot message queued again (a delayed send).
  const snapshot = nodeFunction(stack, "WsSnapshot", {
    handler: "functions/jobs/realtime.handler",
    timeout: snapshotTimeout.toSeconds(),
    memorySize: 512,
    bind: [access.table(table), realtime, access.worker(snapshotQueue)],
  });
  snapshotQueue.addConsumer(stack, {
    cdk: { function: snapshot, eventSource: { batchSize: 10, reportBatchItemFailures: true } },
  });

  stack.addOutputs({
    WebSocketUrl: realtime.url,
    RealtimeQueueUrl: snapshotQueue.queueUrl,
  });

  return { realtime, snapshotQueue };
}
