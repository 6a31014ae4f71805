/**
 * The whole platform on one machine: local AWS-compatible services, every
 * HTTP endpoint group and the dashboard on one port, the WebSocket gateway,
 * the SQS consumers and the retention schedule, all running the same
 * handlers as on AWS.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { ScheduledEvent } from "aws-lambda";
import { fork, type ChildProcess } from "node:child_process";
import { startServices, freePort, type LocalServices } from "./services";
import type { ConsumerSpec } from "./consumer";
import { serveWeb, webBuildToServe } from "./web";
import { createWebSocketGateway } from "./websocket";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Each job queue, its consumer and its dead-letter policy (the same numbers as stacks/Jobs.ts). */
export const JOB_QUEUES = [
  { name: "ingest", env: "FLINT_INGEST_QUEUE_URL", handler: "functions/jobs/ingest.ts", deadLetterHandler: undefined, batchSize: 5, concurrency: 1, visibilityTimeout: 120, maxReceiveCount: 3 },
  { name: "training", env: "FLINT_TRAINING_QUEUE_URL", handler: "functions/jobs/train.ts", deadLetterHandler: "functions/jobs/training-dead-letter.ts", batchSize: 1, concurrency: 2, visibilityTimeout: 60, maxReceiveCount: 2 },
  { name: "compile", env: "FLINT_COMPILE_QUEUE_URL", handler: "functions/jobs/compile.ts", deadLetterHandler: "functions/jobs/compile-dead-letter.ts", batchSize: 1, concurrency: 1, visibilityTimeout: 300, maxReceiveCount: 3 },
  { name: "import", env: "FLINT_IMPORT_QUEUE_URL", handler: "functions/jobs/import.ts", deadLetterHandler: undefined, batchSize: 1, concurrency: 1, visibilityTimeout: 120, maxReceiveCount: 3 },
  { name: "webhook", env: "FLINT_WEBHOOK_QUEUE_URL", handler: "functions/jobs/webhooks.ts", deadLetterHandler: undefined, batchSize: 10, concurrency: 1, visibilityTimeout: 30, maxReceiveCount: 3 },
  { name: "realtime", env: "FLINT_REALTIME_QUEUE_URL", handler: "functions/jobs/realtime.ts", deadLetterHandler: undefined, batchSize: 10, concurrency: 1, visibilityTimeout: 30, maxReceiveCount: 3 },
] as const;

export interface RuntimeOptions {
  port?: number;
  host?: string;
  dataDir: string;
  s3Port?: number;
  /** Seeded superadmin; a password is generated when none is given. */
  admin?: { username: string; password?: string; email?: string };
  /** Milliseconds between retention runs (EventBridge schedule stand-in). */
  retentionIntervalMs?: number;
  /** Milliseconds between runs of the connection sync schedule (every 5 minutes on AWS). */
  syncIntervalMs?: number;
  /** Milliseconds between runs of the fleet's offline sweep (every minute on AWS). */
  fleetSweepIntervalMs?: number;
  /** Extra environment (e.g. Stripe settings) applied before anything reads config. */
  env?: Record<string, string>;
  quiet?: boolean;
}

export interface Runtime {
  url: string;
  wsUrl: string;
  env: Record<string, string>;
  admin?: { username: string; password: string; generated: boolean };
  stop(): Promise<void>;
}

export class RuntimeAlreadyRunning extends Error {}

function lock(dataDir: string, port: number): () => void {
  const file = path.join(dataDir, "runtime.pid");
  if (existsSync(file)) {
    const [pid, otherPort] = readFileSync(file, "utf8").trim().split(":");
    if (pid && isAlive(Number(pid))) {
      throw new RuntimeAlreadyRunning(
        `Flint is already running (pid ${pid}, http://localhost:${otherPort}) with data in ${dataDir}. Stop it first (Ctrl-C), or use another FLINT_DATA_DIR.`,
      );
    }
  }
  writeFileSync(file, `${process.pid}:${port}`);
  return () => rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? 3030;
  const host = options.host ?? "127.0.0.1";
  const unlock = lock(dataDir, port);
  const cleanups: (() => Promise<void> | void)[] = [unlock];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    return await start(options, dataDir, port, host, cleanups, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function start(
  options: RuntimeOptions,
  dataDir: string,
  requestedPort: number,
  host: string,
  cleanups: (() => Promise<void> | void)[],
  stop: () => Promise<void>,
): Promise<Runtime> {
  // Built before anything else starts: Vite changes the process's environment while it builds.
  const webDist = await webBuildToServe();

  const services: LocalServices = await startServices({ dataDir, s3Port: options.s3Port });
  cleanups.push(() => services.stop());

  const port = requestedPort === 0 ? await freePort() : requestedPort;
  const url = `http://${host === "0.0.0.0" ? "localhost" : host}:${port}`;
  const env: Record<string, string> = {
    FLINT_LOCAL: "1",
    FLINT_STAGE: "local",
    FLINT_DATA_DIR: dataDir,
    FLINT_TABLE_NAME: "flint-local",
    FLINT_BUCKET_NAME: "flint-local",
    FLINT_DYNAMO_ENDPOINT: services.dynamoEndpoint,
    FLINT_SQS_ENDPOINT: services.sqsEndpoint,
    FLINT_S3_ENDPOINT: services.s3Endpoint,
    FLINT_WS_MANAGEMENT_ENDPOINT: url,
    FLINT_PUBLIC_URL: url,
    // Databases on this machine may be imported from; cloud metadata and link-local stay refused.
    FLINT_OUTBOUND_ALLOW: "127.0.0.0/8,::1",
    FLINT_SQLITE_IMPORT_DIR: path.join(dataDir, "imports"),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    ...(options.quiet ? { FLINT_LOG_LEVEL: "WARN" } : {}),
    ...options.env,
  };

  // Queues and their DLQs, with the same redrive policy as on AWS.
  const { sqs } = await import("../core/aws");
  const deadLetterUrls: Record<string, string> = {};
  // Created directly: config is not applied to process.env until the queues exist.
  const client = new SQSClient({ region: "us-east-1", endpoint: services.sqsEndpoint, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  for (const queue of JOB_QUEUES) {
    const dlq = await client.send(new CreateQueueCommand({ QueueName: `flint-${queue.name}-dlq` }));
    const dlqArn = (
      await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes!.QueueArn!;
    const created = await client.send(
      new CreateQueueCommand({
        QueueName: `flint-${queue.name}`,
        Attributes: {
          VisibilityTimeout: String(queue.visibilityTimeout),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: queue.maxReceiveCount }),
        },
      }),
    );
    env[queue.env] = created.QueueUrl!;
    env[`${queue.env.replace("_URL", "_DLQ_URL")}`] = dlq.QueueUrl!;
    deadLetterUrls[queue.name] = dlq.QueueUrl!;
  }
  Object.assign(process.env, env);

  const { ensureTable } = await import("../core/db");
  const { ensureBucket } = await import("../core/storage");
  await ensureTable();
  await ensureBucket();

  // S3 ObjectCreated notifications for uploads/ go to the ingest queue, as the bucket notification does on AWS.
  services.onObjectCreated((event) => {
    const records = event.Records.filter((record) => record.eventName.startsWith("ObjectCreated") && record.s3.object.key.startsWith("uploads/"));
    if (records.length === 0) return;
    void sqs()
      .send(new SendMessageCommand({ QueueUrl: env.FLINT_INGEST_QUEUE_URL, MessageBody: JSON.stringify({ ...event, Records: records }) }))
      .catch(() => undefined);
  });

  // /health answers 503 "starting" until the admin is seeded and every consumer runs.
  const { Health } = await import("../core/health");
  Health.markStarting();

  // HTTP: dispatch each route to its endpoint group's app, exactly as API Gateway routes to Lambdas.
  const { compileRoutes, matchRoute, endpointGroupRoutes } = await import("../functions/http/routes");
  const { errorBody } = await import("../functions/http/common");
  const matchers = compileRoutes();
  const apps = new Map<string, { fetch: (request: Request, env?: unknown) => Response | Promise<Response> }>();
  for (const group of endpointGroupRoutes) {
    const file = path.join(root, "functions/http", `${group.name}.ts`);
    if (!existsSync(file)) continue;
    const module = (await import(file)) as { app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> } };
    apps.set(group.name, module.app);
  }

  const ws = await import("../functions/ws/connect").then(async (connect) => ({
    connect: connect.handler,
    disconnect: (await import("../functions/ws/disconnect")).handler,
    message: (await import("../functions/ws/subscribe")).handler,
  }));
  const gateway = createWebSocketGateway(ws);
  const server = new Hono();
  server.route("/", gateway.management);
  const wsOrigin = url.replace(/^http/, "ws");
  // The dashboard's pages may talk to the live channel and PUT large files to presigned S3 URLs.
  const connectSources = [wsOrigin, new URL(services.s3Endpoint).origin];
  server.all("*", async (c) => {
    const group = matchRoute(matchers, c.req.method, c.req.path);
    const app = group ? apps.get(group) : undefined;
    if (app) return app.fetch(c.req.raw, c.env);
    // Everything else a browser GETs is the dashboard (CloudFront's default behaviour on AWS).
    const isPageRequest = (c.req.method === "GET" || c.req.method === "HEAD") && !c.req.path.startsWith("/api/");
    const page = webDist && isPageRequest ? await serveWeb(webDist, c.req.raw, connectSources) : undefined;
    return page ?? c.json(errorBody("Route not found", "route.not_found", { method: c.req.method, path: c.req.path }), 404);
  });

  const http = await new Promise<Server>((resolve, reject) => {
    const instance = serve({ fetch: server.fetch, port, hostname: host }, () => resolve(instance as Server));
    instance.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new Error(`Port ${port} is already in use. Set PORT to another port.`) : error),
    );
  });
  gateway.attach(http);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        gateway.close();
        http.closeAllConnections?.();
        http.close(() => resolve());
      }),
  );

  // Job consumers: one process per queue, driving the handler with Lambda's SQS event shape.
  const consumers = JOB_QUEUES.map((queue) => {
    const specs: ConsumerSpec[] = [];
    const handlerFile = path.join(root, queue.handler);
    if (existsSync(handlerFile)) {
      specs.push({
        queueUrl: env[queue.env]!,
        handlerFile,
        batchSize: queue.batchSize,
        concurrency: queue.concurrency,
        timeoutSeconds: queue.visibilityTimeout,
      });
    }
    // Dead letters of runs and deployments mark them failed with a readable reason.
    const deadLetterFile = queue.deadLetterHandler ? path.join(root, queue.deadLetterHandler) : undefined;
    if (deadLetterFile && existsSync(deadLetterFile)) {
      specs.push({ queueUrl: deadLetterUrls[queue.name]!, handlerFile: deadLetterFile, batchSize: 10, concurrency: 1, timeoutSeconds: 60 });
    }
    return { name: queue.name, specs };
  });
  const started = await Promise.allSettled(
    consumers.filter((consumer) => consumer.specs.length > 0).map((consumer) => startConsumer(consumer.name, consumer.specs)),
  );
  for (const result of started) if (result.status === "fulfilled") cleanups.push(() => stopConsumer(result.value));
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;

  // The retention schedule (an EventBridge rule on AWS).
  const retentionFile = path.join(root, "functions/jobs/retention.ts");
  if (existsSync(retentionFile)) {
    const { handler } = (await import(retentionFile)) as { handler: (event: ScheduledEvent) => Promise<unknown> };
    const interval = options.retentionIntervalMs ?? 60 * 60 * 1000;
    const timer = setInterval(() => {
      void handler(scheduledEvent()).catch(() => undefined);
    }, interval);
    timer.unref();
    cleanups.push(() => clearInterval(timer));
  }

  // The connection sync schedule (an EventBridge rule every 5 minutes on AWS).
  const { handler: syncSchedule } = (await import(path.join(root, "functions/jobs/sync-schedule.ts"))) as { handler: (event: ScheduledEvent) => Promise<unknown> };
  const syncTimer = setInterval(() => {
    void syncSchedule(scheduledEvent()).catch(() => undefined);
  }, options.syncIntervalMs ?? 60_000);
  syncTimer.unref();
  cleanups.push(() => clearInterval(syncTimer));

  // The fleet's offline sweep (an EventBridge rule every minute on AWS).
  const { handler: fleetSweep } = (await import(path.join(root, "functions/jobs/fleet-sweep.ts"))) as { handler: (event: ScheduledEvent) => Promise<unknown> };
  const fleetTimer = setInterval(() => {
    void fleetSweep(scheduledEvent()).catch(() => undefined);
  }, options.fleetSweepIntervalMs ?? 30_000);
  fleetTimer.unref();
  cleanups.push(() => clearInterval(fleetTimer));

  let admin: Runtime["admin"];
  if (options.admin) {
    const { Auth } = await import("../core/auth");
    const generated = !options.admin.password;
    const password = options.admin.password ?? (await import("../core/id")).createSecret(12);
    const seeded = await Auth.seedAdmin({
      username: options.admin.username,
      email: options.admin.email ?? `${options.admin.username}@flint.local`,
      password,
    });
    admin = { username: options.admin.username, password: seeded.created ? password : "", generated: generated && seeded.created };
  }

  Health.markReady();

  return { url, wsUrl: `${wsOrigin}/ws`, env, admin, stop };
}


async function startConsumer(name: string, specs: ConsumerSpec[]): Promise<ChildProcess> {
  const child = fork(path.join(root, "dev/consumer.ts"), [name], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, FLINT_CONSUMERS: JSON.stringify(specs) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`The ${name} job consumer exited during start (code ${code})`)));
  });
  child.removeAllListeners("exit");
  return child;
}

async function stopConsumer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

function scheduledEvent(): ScheduledEvent {
  return {
    version: "0",
    id: crypto.randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: ["arn:aws:events:us-east-1:000000000000:rule/flint-local-retention"],
    detail: {},
  };
}
