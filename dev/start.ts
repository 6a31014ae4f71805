/**
 * `npm start`: the whole platform locally. Ctrl-C stops everything it started.
 */
import { RuntimeAlreadyRunning, startRuntime } from "./runtime";

// This machine's Node 20 is supported; the SDK's upgrade notice would only repeat in every process.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const dataDir = process.env.FLINT_DATA_DIR ?? ".flint";
const port = Number(process.env.PORT ?? 3030);

try {
  const runtime = await startRuntime({
    port,
    host: process.env.FLINT_HOST ?? "127.0.0.1",
    dataDir,
    s3Port: Number(process.env.FLINT_S3_PORT ?? 4569),
    admin: {
      username: process.env.FLINT_ADMIN_USERNAME ?? "admin",
      password: process.env.FLINT_ADMIN_PASSWORD,
    },
    retentionIntervalMs: process.env.FLINT_RETENTION_INTERVAL_MS ? Number(process.env.FLINT_RETENTION_INTERVAL_MS) : undefined,
    syncIntervalMs: process.env.FLINT_SYNC_INTERVAL_MS ? Number(process.env.FLINT_SYNC_INTERVAL_MS) : undefined,
    fleetSweepIntervalMs: process.env.FLINT_FLEET_SWEEP_INTERVAL_MS ? Number(process.env.FLINT_FLEET_SWEEP_INTERVAL_MS) : undefined,
  });
  const lines = [
    "",
    "Flint is running locally",
    `  Dashboard  ${runtime.url}/`,
    `  API        ${runtime.url}/api/v1   (health: ${runtime.url}/health)`,
    `  Docs       ${runtime.url}/docs/   (OpenAPI: ${runtime.url}/api/v1/openapi.json)`,
    `  WebSocket  ${runtime.wsUrl}?token=<access token>`,
    `  S3         ${runtime.env.FLINT_S3_ENDPOINT}   SQS ${runtime.env.FLINT_SQS_ENDPOINT}   DynamoDB ${runtime.env.FLINT_DYNAMO_ENDPOINT}`,
    `  Data       ${runtime.env.FLINT_DATA_DIR}`,
  ];
  if (runtime.admin?.password) {
    lines.push(
      `  Admin      ${runtime.admin.username} / ${runtime.admin.generated ? `${runtime.admin.password}   (generated; shown once)` : "(FLINT_ADMIN_PASSWORD)"}`,
    );
  } else if (runtime.admin) {
    lines.push(`  Admin      ${runtime.admin.username} (already exists; password unchanged)`);
  }
  lines.push("", "Press Ctrl-C to stop.", "");
  if (process.send) {
    // Started by the test harness: report where everything is instead of printing it.
    process.send({ type: "ready", url: runtime.url, wsUrl: runtime.wsUrl, env: runtime.env });
    process.on("disconnect", () => void shutdown("disconnect"));
  } else {
    process.stdout.write(lines.join("\n"));
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping Flint...\n`);
    await runtime.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
} catch (error) {
  if (error instanceof RuntimeAlreadyRunning) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Flint failed to start: ${(error as Error).message}\n`);
  process.exit(1);
}
