/**
 * Drives an SQS handler the way Lambda's event source mapping does: long-poll,
 * hand the batch over as an SQS event, delete what succeeded, leave failures
 * to reappear after the visibility timeout (and reach the DLQ after the
 * queue's maxReceiveCount). Used by the local runtime and by the Fargate
 * training worker, so both run the exact handlers Lambda runs.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { sqs } from "../../core/aws";
import { Config } from "../../core/config";
import { logger } from "../../core/logger";

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollOptions {
  queueUrl: string;
  handler: SqsHandler;
  /** Messages per batch (Lambda's BatchSize). */
  batchSize?: number;
  /** Batches processed at the same time. */
  concurrency?: number;
  /** Seconds a receive call waits for messages. */
  waitSeconds?: number;
  /** Seconds the handler may run; sets the context's remaining time. */
  timeoutSeconds?: number;
  signal: AbortSignal;
}

export async function pollQueue(options: PollOptions): Promise<void> {
  const arn = await queueArn(options.queueUrl);
  const loops = Array.from({ length: options.concurrency ?? 1 }, () => pollLoop(options, arn));
  await Promise.all(loops);
}

async function queueArn(queueUrl: string): Promise<string> {
  const attributes = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }));
  return attributes.Attributes?.QueueArn ?? queueUrl;
}

async function pollLoop(options: PollOptions, arn: string): Promise<void> {
  while (!options.signal.aborted) {
    let messages: Message[] = [];
    try {
      const received = await sqs().send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: options.batchSize ?? 10,
          WaitTimeSeconds: options.waitSeconds ?? 1,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
        { abortSignal: options.signal },
      );
      messages = received.Messages ?? [];
    } catch (error) {
      if (options.signal.aborted) return;
      logger.warn("queue receive failed", { queueUrl: options.queueUrl, error: error as Error });
      await sleep(1000, options.signal);
      continue;
    }
    if (messages.length === 0) continue;
    await runBatch(options, arn, messages);
  }
}

async function runBatch(options: PollOptions, arn: string, messages: Message[]): Promise<void> {
  const event: SQSEvent = { Records: messages.map((message) => toRecord(message, arn)) };
  const deadline = Date.now() + (options.timeoutSeconds ?? 900) * 1000;
  let failed = new Set<string>();
  try {
    const response = await options.handler(event, lambdaContext(arn, deadline));
    failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
  } catch (error) {
    // A thrown handler fails the whole batch, as on Lambda.
    logger.error("queue handler failed", { queueUrl: options.queueUrl, error: error as Error });
    return;
  }
  const done = messages.filter((message) => message.MessageId && !failed.has(message.MessageId));
  if (done.length === 0) return;
  await sqs().send(
    new DeleteMessageBatchCommand({
      QueueUrl: options.queueUrl,
      Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
    }),
  );
}

function toRecord(message: Message, arn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: arn,
    awsRegion: Config.region(),
  };
}

function lambdaContext(arn: string, deadline: number): Context {
  const name = arn.split(":").pop() ?? "queue";
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `local-${name}`,
    functionVersion: "$LATEST",
    invokedFunctionArn: arn,
    memoryLimitInMB: "2048",
    awsRequestId: crypto.randomUUID(),
    logGroupName: "local",
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
