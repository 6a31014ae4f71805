/**
 * Webhook-queue consumer: one delivery attempt per message. A failed attempt
 * queues its own retry with a delay (core/webhook), so the record itself
 * succeeds; only infrastructure errors (DynamoDB, SQS) fail the record.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { Webhook } from "../../core/webhook";
import { parseMessage } from "./message";

const processor = new BatchProcessor(EventType.SQS);

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record, Webhook.DeliveryMessage, "webhook");
  if (!message) return "malformed";
  return Webhook.deliver(message);
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context });
