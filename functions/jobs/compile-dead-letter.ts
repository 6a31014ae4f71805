/**
 * Consumer of the compile queue's dead-letter queue: a deployment whose
 * compile job kept failing (infrastructure errors, timeouts) is marked failed
 * with a readable reason instead of staying "compiling" forever.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { Deployment } from "../../core/deployment";
import { logger } from "../../core/logger";
import { parseMessage } from "./compile";

const processor = new BatchProcessor(EventType.SQS);

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record.body);
  if (!message) {
    logger.error("malformed compile dead letter dropped", { messageId: record.messageId });
    return "malformed";
  }
  const receives = record.attributes.ApproximateReceiveCount ?? "?";
  const failed = await Deployment.fail(message.tenantId, message.deploymentId, `the compile job failed ${receives} times and was abandoned`);
  return failed ? "failed" : "already_finished";
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context });
