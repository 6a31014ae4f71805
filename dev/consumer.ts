/**
 * A job-consumer process of the local runtime. Like a Lambda behind an SQS
 * event source, it runs apart from the HTTP server, so a CPU-heavy job
 * (ingest, training, compiling) never stalls API requests or WebSocket pushes.
 * It exits when the runtime that forked it goes away.
 */
import { pollQueue, type SqsHandler } from "../functions/jobs/poller";

export interface ConsumerSpec {
  queueUrl: string;
  handlerFile: string;
  batchSize: number;
  concurrency: number;
  timeoutSeconds: number;
}

const specs = JSON.parse(process.env.FLINT_CONSUMERS ?? "[]") as ConsumerSpec[];
const abort = new AbortController();

const stop = () => abort.abort();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// The IPC channel closes when the parent exits, however it exits.
process.on("disconnect", stop);

const handlers = await Promise.all(
  specs.map(async (spec) => ((await import(spec.handlerFile)) as { handler: SqsHandler }).handler),
).catch((error: Error) => {
  process.stderr.write(`consumer failed to start: ${error.message}\n`);
  process.exit(1);
});
process.send?.("ready");

await Promise.all(
  specs.map((spec, index) =>
    pollQueue({
      queueUrl: spec.queueUrl,
      handler: handlers[index]!,
      batchSize: spec.batchSize,
      concurrency: spec.concurrency,
      timeoutSeconds: spec.timeoutSeconds,
      signal: abort.signal,
    }),
  ),
);
process.exit(0);
