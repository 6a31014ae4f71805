/**
 * Import-queue consumer: one `{ tenant_id, dataset_id }` message per dataset
 * connected to an external source (core/connector), and `{ kind: "sync",
 * tenant_id, connection_id }` from the sync schedule. Connector.runImport is
 * idempotent; its last attempt fails the dataset instead of retrying. A
 * scheduled sync whose source refuses is recorded on the connection
 * (last_sync_error) and not retried: the schedule tries again next time.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { withActor } from "../../core/actor";
import { Connector } from "../../core/connector";
import { Connections } from "../../core/connector/connections";
import { DomainError } from "../../core/error";
import { logger } from "../../core/logger";
import { parseMessage } from "./message";

const processor = new BatchProcessor(EventType.SQS);

/** Lambda's event source mapping and the local runtime both move a message to the DLQ after 3 receives. */
const MAX_RECEIVES = 3;

const ImportMessage = z.union([
  z.object({ tenant_id: z.string().min(1), dataset_id: z.string().regex(/^ds_[a-z0-9]+$/) }),
  z.object({ kind: z.literal("sync"), tenant_id: z.string().min(1), connection_id: z.string().regex(/^conn_[a-z0-9]+$/) }),
]);

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record, ImportMessage, "import");
  if (!message) return "malformed";
  const receives = Number(record.attributes?.ApproximateReceiveCount ?? "1");
  return withActor({ type: "system", tenantId: message.tenant_id }, async () => {
    if ("dataset_id" in message) return Connector.runImport({ ...message, finalAttempt: receives >= MAX_RECEIVES });
    try {
      const outcome = await Connections.sync(message.connection_id);
      return "up_to_date" in outcome ? "up_to_date" : `synced ${outcome.dataset.id}`;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      logger.warn("scheduled sync refused", { tenantId: message.tenant_id, connectionId: message.connection_id, code: error.code });
      return error.code;
    }
  });
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context, processInParallel: false });
