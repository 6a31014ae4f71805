/**
 * Compile-queue consumer: builds, verifies and packages one deployment per
 * message (batch size 1; a compile can take a while under qemu). The pipeline
 * is idempotent, so a redelivered message resumes or does nothing.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { Pipeline } from "../../core/deployment/pipeline";
import { logger } from "../../core/logger";
import { extendVisibility } from "../../core/queue";

/** The queue's visibility timeout; a long compile keeps its message hidden by renewing it. */
const VISIBILITY_SECONDS = 300;
const RENEW_EVERY_MS = 60_000;

const processor = new BatchProcessor(EventType.SQS);

export const Message = z.object({
  tenantId: z.string().min(1).max(128),
  deploymentId: z.string().regex(/^dep_[a-z0-9]+$/),
});

export function parseMessage(body: string): z.infer<typeof Message> | undefined {
  try {
    const parsed = Message.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record.body);
  if (!message) {
    logger.error("malformed compile message dropped", { messageId: record.messageId });
    return "malformed";
  }
  const started = Date.now();
  const renew = setInterval(() => {
    extendVisibility("compile", record.receiptHandle, VISIBILITY_SECONDS).catch((error: unknown) =>
      logger.warn("could not extend the compile message's visibility", { ...message, error: error as Error }),
    );
  }, RENEW_EVERY_MS);
  try {
    await Pipeline.run(message.tenantId, message.deploymentId);
  } finally {
    clearInterval(renew);
  }
  logger.info("compile job done", { ...message, durationMs: Date.now() - started });
  return "done";
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context, processInParallel: false });
