/**
 * SQS fixtures for the job handlers: a record as Lambda delivers it, from a
 * body or from a message received off a real local queue, an event of
 * records, and a Lambda context.
 *
 * @example
 * const result = await handler(sqsEvent(sqsRecord({ dataset_id, tenant_id }), sqsRecord("not json")), lambdaContext());
 */
import type { Message } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";

let sequence = 0;

export interface RecordOptions {
  /** ApproximateReceiveCount: how many times SQS has handed the message out. */
  receives?: number;
  messageId?: string;
  /** A real receipt handle lets the handler extend the message's visibility. */
  receiptHandle?: string;
  /** The queue's name in the record's eventSourceARN. */
  queue?: string;
}

/** A record whose body is `body` (a string as it is, anything else as JSON). */
export function sqsRecord(body: unknown, options: RecordOptions = {}): SQSRecord {
  sequence++;
  const now = String(Date.now());
  return {
    messageId: options.messageId ?? `m-${sequence}`,
    receiptHandle: options.receiptHandle ?? `r-${sequence}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(options.receives ?? 1), SentTimestamp: now, SenderId: "test", ApproximateFirstReceiveTimestamp: now },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${options.queue ?? "test"}`,
    awsRegion: "us-east-1",
  };
}

/** The record Lambda would deliver for a message received from a local queue (its id, receipt handle and receive count). */
export function recordOf(message: Message, queue?: string): SQSRecord {
  return sqsRecord(message.Body!, {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    receives: Number(message.Attributes?.ApproximateReceiveCount ?? "1"),
    queue,
  });
}

export const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

/** A Lambda context with `remainingMs` left (all the job handlers read). */
export const lambdaContext = (remainingMs = 60_000): Context => ({ getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;
