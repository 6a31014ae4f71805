/**
 * Realtime-queue consumer: sends the snapshot of a topic a client subscribed
 * to on connect, once its connection is open (API Gateway refuses posts
 * during $connect). A connection still opening queues the message again.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { deliverDeferredSnapshot, SnapshotMessage } from "../../core/realtime/topics";
import "../ws/topics";
import { parseMessage } from "./message";

const processor = new BatchProcessor(EventType.SQS);

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record, SnapshotMessage, "realtime");
  if (!message) return "malformed";
  return deliverDeferredSnapshot(message);
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context });
