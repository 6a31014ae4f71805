/**
 * Training-queue consumer (Lambda, the Fargate worker and the local runtime
 * all run this handler). One message either trains a run (`kind: "train"`,
 * the default) or computes a gradient evaluation. Errors worth retrying fail
 * only their record; the queue redelivers it after a short backoff and
 * dead-letters it after maxReceiveCount.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { Evaluation } from "../../core/evaluation";
import { logger } from "../../core/logger";
import { extendVisibility } from "../../core/queue";
import { TrainingRun } from "../../core/training";
import { TrainingWorker } from "../../core/training/worker";
import { parseMessage } from "./message";

const processor = new BatchProcessor(EventType.SQS);

export const Message = z.union([TrainingRun.TrainMessage, Evaluation.GradientMessage]);

/** Seconds before a failed attempt's message is visible again: 2 s, 8 s, 32 s, then 60 s. */
export const retryDelay = (receiveCount: number) => Math.min(60, 2 * 4 ** Math.max(0, receiveCount - 1));

export async function recordHandler(record: SQSRecord): Promise<string> {
  const message = parseMessage(record, Message, "training");
  if (!message) return "malformed";
  logger.info("training message received", { kind: message.kind, messageId: record.messageId, receiveCount: record.attributes.ApproximateReceiveCount });
  if (message.kind === "gradient_evaluation") {
    await Evaluation.runGradient(message);
    return "gradient_evaluation";
  }
  try {
    return await TrainingWorker.runTraining(message, { receiptHandle: record.receiptHandle });
  } catch (error) {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
    await extendVisibility("training", record.receiptHandle, retryDelay(receiveCount)).catch(() => undefined);
    throw error;
  }
}

export const handler = async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context });
