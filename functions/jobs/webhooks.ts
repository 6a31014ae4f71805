/**
 * Webhook-queue consumer: one delivery attempt per message. A failed attempt
 * queues its own retry with a delay (core/webhook), so the record itself
 * succeeds; only infrastructure errors (DynamoDB, SQS) fail the record.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { logger } from "../../core/logger";
import { Webhook } from "../../core/webhook";

const processor = new BatchProcessor(EventType.SQS);

async function recordHandler(record: SQSRecord): Promise<string> {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const parsed = Webhook.DeliveryMessage.safeParse(body);
  if (!parsed.success) {
    logger.error("malformed webhook message dropped", { messageId: record.messageId });
    return "malformed";
  }
  return Webhook.deliver(parsed.data);
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context });
