/**
 * Import-queue consumer: one `{ tenant_id, dataset_id }` message per dataset
 * connected to an external source (core/connector). Connector.runImport is
 * idempotent; its last attempt fails the dataset instead of retrying.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { withActor } from "../../core/actor";
import { Connector } from "../../core/connector";
import { parseMessage } from "./message";

const processor = new BatchProcessor(EventType.SQS);

/** Lambda's event source mapping and the local runtime both move a message to the DLQ after 3 receives. */
const MAX_RECEIVES = 3;

const ImportMessage = z.object({ tenant_id: z.string().min(1), dataset_id: z.string().regex(/^ds_[a-z0-9]+$/) });

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record, ImportMessage, "import");
  if (!message) return "malformed";
  const receives = Number(record.attributes?.ApproximateReceiveCount ?? "1");
  return withActor({ type: "system", tenantId: message.tenant_id }, () => Connector.runImport({ ...message, finalAttempt: receives >= MAX_RECEIVES }));
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context, processInParallel: false });
