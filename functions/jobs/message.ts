/**
 * Reads an SQS record's JSON body against its schema. A malformed message
 * never becomes valid, so callers acknowledge it (logged, not retried into the DLQ).
 */
import type { SQSRecord } from "aws-lambda";
import type { z } from "zod";
import { logger } from "../../core/logger";

export function parseMessage<T extends z.ZodType>(record: SQSRecord, schema: T, queue: string): z.infer<T> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  logger.error(`malformed ${queue} message dropped`, {
    messageId: record.messageId,
    issues: parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  });
  return undefined;
}
