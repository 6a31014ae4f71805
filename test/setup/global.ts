/**
 * Starts the local runtime once for the whole test run: real DynamoDB Local,
 * fauxqs SQS, s3rver S3, the HTTP apps, the WebSocket gateway and the job
 * consumers, on free ports with a throw-away data directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startRuntime } from "../../dev/runtime";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    wsUrl: string;
    runtimeEnv: Record<string, string>;
    admin: { username: string; password: string };
  }
}

export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "flint-test-"));
  const adminPassword = `Admin-${Math.random().toString(36).slice(2)}-pass`;
  const runtime = await startRuntime({
    port: 0,
    dataDir,
    quiet: true,
    retentionIntervalMs: 24 * 60 * 60 * 1000,
    admin: { username: "admin", password: adminPassword },
    env: { FLINT_TRAINING_CAPACITY: "8" },
  });
  project.provide("baseUrl", runtime.url);
  project.provide("wsUrl", runtime.wsUrl);
  project.provide("runtimeEnv", runtime.env);
  project.provide("admin", { username: "admin", password: adminPassword });
  return async () => {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
