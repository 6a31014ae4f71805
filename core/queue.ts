/**
 * Job queues (SQS). Producers in core call `enqueue`; consumers are the SQS
 * handlers in functions/jobs, driven by Lambda on AWS and by the local
 * runtime's poller locally.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { sqs } from "./aws";
import { Config } from "./config";

export type QueueName = "ingest" | "import" | "training" | "compile" | "webhook" | "realtime";

export function queueUrl(queue: QueueName): string {
  switch (queue) {
    case "ingest":
      return Config.ingestQueueUrl();
    case "import":
      return Config.importQueueUrl();
    case "training":
      return Config.trainingQueueUrl();
    case "compile":
      return Config.compileQueueUrl();
    case "webhook":
      return Config.webhookQueueUrl();
    case "realtime":
      return Config.realtimeQueueUrl();
  }
}

export async function enqueue(queue: QueueName, body: unknown, options: { delaySeconds?: number } = {}): Promise<void> {
  await sqs().send(
    new SendMessageCommand({
      QueueUrl: queueUrl(queue),
      MessageBody: JSON.stringify(body),
      DelaySeconds: options.delaySeconds,
    }),
  );
}

/** Keeps a long job's message invisible while it works (heartbeat). */
export async function extendVisibility(queue: QueueName, receiptHandle: string, seconds: number): Promise<void> {
  await sqs().send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queueUrl(queue),
      ReceiptHandle: receiptHandle,
      VisibilityTimeout: seconds,
    }),
  );
}
