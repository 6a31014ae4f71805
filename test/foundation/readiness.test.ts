/**
 * A script that waits for /health and then logs in must never race the
 * platform's start: /health answers 503 "starting" until the seeded admin
 * exists and every job consumer runs.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../../dev/services";
import { call } from "../support/http";

describe("readiness", () => {
  it("answers 503 starting until the admin can log in, then 200", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "flint-ready-"));
    const port = await freePort();
    const password = `Ready-${Math.random().toString(36).slice(2)}-pass`;
    const child = fork(path.resolve("dev/start.ts"), [], {
      execArgv: ["--import", "tsx"],
      env: {
        ...process.env,
        PORT: String(port),
        FLINT_S3_PORT: "0",
        FLINT_DATA_DIR: dataDir,
        FLINT_ADMIN_USERNAME: "admin",
        FLINT_ADMIN_PASSWORD: password,
        FLINT_LOG_LEVEL: "WARN",
      },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const base = `http://127.0.0.1:${port}`;
    const answers: { status: number; body: { status?: string } }[] = [];
    try {
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        const response = await call("GET", `${base}/health`).catch(() => undefined);
        if (response) {
          answers.push({ status: response.status, body: response.body as { status?: string } });
          if (response.status === 200) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const login = await call("POST", `${base}/api/v1/auth/login`, { body: { username: "admin", password } });
      expect(login.status).toBe(200);
      expect(answers.at(-1)).toMatchObject({ status: 200, body: { status: "ok" } });
      const before = answers.slice(0, -1);
      expect(before.length).toBeGreaterThan(0);
      for (const answer of before) expect(answer).toMatchObject({ status: 503, body: { status: "starting" } });
    } finally {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
