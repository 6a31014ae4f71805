/**
 * Consumer of the training queue's dead-letter queue: a run whose message
 * kept failing is marked failed with a readable reason (its slot freed, its
 * subscribers and webhooks told); a gradient evaluation is marked failed.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { Evaluation } from "../../core/evaluation";
import { TrainingWorker } from "../../core/training/worker";
import { Message } from "./train";
import { parseMessage } from "./message";

const processor = new BatchProcessor(EventType.SQS);

async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record, Message, "dead-letter");
  if (!message) return "malformed";
  if (message.kind === "gradient_evaluation") {
    await Evaluation.markGradientFailed(message.tenant_id, message.evaluation_id, "The gradient evaluation kept failing and was abandoned");
    return "gradient_failed";
  }
  const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "0");
  return TrainingWorker.deadLetter(message, receiveCount);
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context });
