/**
 * Fargate entry point for long trainings: polls the training queue with the
 * same handler Lambda runs (functions/jobs/train.ts), one message at a time,
 * until SIGTERM, then lets the current message finish (its lease and
 * checkpoint make a cut-off run resumable anyway).
 */
import { Config } from "../../core/config";
import { logger } from "../../core/logger";
import { pollQueue } from "./poller";
import { handler } from "./train";

async function main(): Promise<void> {
  const abort = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.info("training worker stopping", { signal });
      abort.abort();
    });
  }
  logger.info("training worker started", { queueUrl: Config.trainingQueueUrl() });
  await pollQueue({
    queueUrl: Config.trainingQueueUrl(),
    handler,
    batchSize: 1,
    concurrency: 1,
    waitSeconds: 20,
    timeoutSeconds: 4 * 60 * 60,
    signal: abort.signal,
  });
  logger.info("training worker stopped");
  // Idle keep-alive sockets must not hold the task open after SIGTERM.
  process.exit(0);
}

main().catch((error: unknown) => {
  logger.error("training worker crashed", { error: error as Error });
  process.exit(1);
});
