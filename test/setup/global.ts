/**
 * Starts the local runtime once for the whole test run, exactly as `npm start`
 * does (its own process: real DynamoDB Local, fauxqs SQS, s3rver S3, the HTTP
 * apps, the WebSocket gateway, the job consumers), on free ports with a
 * throw-away data directory.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    wsUrl: string;
    runtimeEnv: Record<string, string>;
    admin: { username: string; password: string };
  }
}

interface Ready {
  type: "ready";
  url: string;
  wsUrl: string;
  env: Record<string, string>;
}

export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "flint-test-"));
  const adminPassword = `Admin-${Math.random().toString(36).slice(2)}-pass`;
  const child = fork(path.resolve("dev/start.ts"), [], {
    execArgv: ["--import", "tsx"],
    env: {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      PORT: "0",
      FLINT_S3_PORT: "0",
      FLINT_DATA_DIR: dataDir,
      FLINT_ADMIN_USERNAME: "admin",
      FLINT_ADMIN_PASSWORD: adminPassword,
      FLINT_LOG_LEVEL: process.env.FLINT_LOG_LEVEL ?? "WARN",
      FLINT_RETENTION_INTERVAL_MS: String(24 * 60 * 60 * 1000),
      FLINT_TRAINING_CAPACITY: "8",
      // A query that sleeps past it answers 504 without making the test wait 15 s.
      FLINT_CONNECTOR_PROBE_TIMEOUT_MS: "3000",
      // An open circuit breaker probes again after 2 s instead of 30 s.
      FLINT_BREAKER_COOLDOWN_MS: "2000",
      // A silent worker goes offline after 8 s, found by a sweep every second.
      FLINT_WORKER_OFFLINE_AFTER_MS: "8000",
      FLINT_FLEET_SWEEP_INTERVAL_MS: "1000",
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once("message", (message) => resolve(message as Ready));
    child.once("exit", (code) => reject(new Error(`local runtime exited during start (code ${code})`)));
  });
  child.removeAllListeners("exit");
  project.provide("baseUrl", ready.url);
  project.provide("wsUrl", ready.wsUrl);
  project.provide("runtimeEnv", ready.env);
  project.provide("admin", { username: "admin", password: adminPassword });
  return async () => {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  };
}
