/**
 * Ingest-queue consumer. A message is either the S3 ObjectCreated event of an
 * upload (`uploads/<tenant>/<dataset>/source.csv`, sent by the bucket
 * notification on AWS and by the local runtime for s3rver) or a direct
 * `{ dataset_id, tenant_id }` message. Dataset.ingest is idempotent: a
 * redelivery or a second upload to a dataset that is already ingested is
 * ignored. Records are processed one at a time (each may stream a large file).
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { withActor } from "../../core/actor";
import { Dataset } from "../../core/dataset";
import { logger } from "../../core/logger";
import { parseMessage } from "./message";

const processor = new BatchProcessor(EventType.SQS);

/** Lambda's event source mapping and the local runtime both move a message to the DLQ after 3 receives. */
const MAX_RECEIVES = 3;

const S3EventMessage = z.object({
  Records: z
    .array(
      z.object({
        eventName: z.string().optional(),
        s3: z.object({ object: z.object({ key: z.string().min(1) }) }),
      }),
    )
    .min(1),
});

const DirectMessage = z.object({
  dataset_id: z.string().regex(/^ds_[a-z0-9]+$/),
  tenant_id: z.string().min(1),
});

/** S3's test notification, sent once when the notification is configured. */
const TestEvent = z.object({ Event: z.literal("s3:TestEvent") });

const IngestMessage = z.union([S3EventMessage, DirectMessage, TestEvent]);

interface Target {
  tenantId: string;
  datasetId: string;
  key?: string;
}

function targetsOf(message: z.infer<typeof IngestMessage>): Target[] {
  if ("Event" in message) return [];
  if ("dataset_id" in message) return [{ tenantId: message.tenant_id, datasetId: message.dataset_id }];
  return message.Records.flatMap((record) => {
    if (record.eventName && !record.eventName.startsWith("ObjectCreated")) return [];
    // S3 event keys are URL-encoded with '+' for spaces.
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, " "));
    const ids = Dataset.parseSourceKey(key);
    if (!ids) {
      logger.warn("ingest event for a key outside uploads/<tenant>/<dataset>/source.csv ignored", { key });
      return [];
    }
    return [{ ...ids, key }];
  });
}

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record, IngestMessage, "ingest");
  if (!message) return "malformed";
  const receives = Number(record.attributes?.ApproximateReceiveCount ?? "1");
  const outcomes: string[] = [];
  for (const target of targetsOf(message)) {
    const outcome = await withActor({ type: "system", tenantId: target.tenantId }, () =>
      Dataset.ingest({ ...target, finalAttempt: receives >= MAX_RECEIVES }),
    );
    logger.info("ingest", { datasetId: target.datasetId, tenantId: target.tenantId, outcome });
    outcomes.push(outcome);
  }
  return outcomes.join(",") || "ignored";
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context, processInParallel: false });
