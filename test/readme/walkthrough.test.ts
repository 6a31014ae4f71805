/**
 * Runs the README's curl walkthrough, taken from README.md itself (every
 * bash block after a `<!-- walkthrough -->` marker), in one shell against the
 * test runtime, then checks what a new user would have at the end.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { afterAll, describe, expect, it } from "vitest";
import { baseUrl, call } from "../support/http";

const admin = inject("admin");
const dataDir = inject("runtimeEnv").FLINT_DATA_DIR!;

/** The walkthrough's blocks, in README order. */
export function walkthroughBlocks(readme: string): string[] {
  const blocks: string[] = [];
  const marker = /<!-- walkthrough -->\s*\n```bash\n([\s\S]*?)\n```/g;
  for (const match of readme.matchAll(marker)) blocks.push(match[1]!);
  return blocks;
}

function runBash(script: string, cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile("bash", ["-euo", "pipefail", "-c", script], { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 540_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function api<T>(route: string, token: string): Promise<T> {
  const response = await call("GET", route, { token });
  expect(response.status, route).toBe(200);
  return response.body as T;
}

describe("README walkthrough", () => {
  // A folder that looks like the repository to the walkthrough: `npm run gen` works and `.flint` is the runtime's data.
  const work = mkdtempSync(path.join(os.tmpdir(), "flint-readme-"));
  for (const entry of ["package.json", "tsconfig.json", "node_modules", "core", "dev"]) symlinkSync(path.resolve(entry), path.join(work, entry));
  symlinkSync(dataDir, path.join(work, ".flint"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("runs as written, from sign-up to a model confirmed on the controller and run there by the agent", async () => {
    const blocks = walkthroughBlocks(readFileSync("README.md", "utf8"));
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    const result = await runBash(blocks.join("\n"), work, { FLINT: baseUrl, FLINT_ADMIN_PASSWORD: admin.password });
    expect(result.stderr).not.toMatch(/jq: |parse error/);
    expect(result.code, `${result.stderr}\n${result.stdout.slice(-4000)}`).toBe(0);
    expect(result.stdout).toMatch(/"valid": true/);
    expect(result.stdout).toMatch(/epoch 5\/5/);
    expect(result.stdout).toMatch(/training_complete completed/);
    expect(result.stdout).toMatch(/selftest ok/);
    expect(result.stdout).toMatch(/package\.tar\.gz: OK/);
    expect(result.stdout).toMatch(/"status":"running","health":"healthy"/);
    expect(result.stdout).toMatch(/restart succeeded/);

    // What maria has at the end, seen through the API.
    const login = await call("POST", "/auth/login", { body: { username: "maria", password: "correct horse battery" } });
    const { token } = login.body as { token: string };
    const datasets = await api<{ status: string }[]>("/datasets", token);
    expect(datasets.map((d) => d.status)).toEqual(["ready", "ready"]);
    const targets = await api<{ name: string; current_model: string | null; current_deployment_id: string | null }[]>("/deployments/targets", token);
    expect(targets.map((target) => target.name).sort()).toEqual(["Warren AHU-1", "warren-ahu-2"]);
    for (const target of targets) {
      const deployment = await api<{ status: string; model_id: string }>(`/deployments/${target.current_deployment_id}`, token);
      expect(deployment.status, target.name).toBe("deployed");
      expect(target.current_model).toBe(deployment.model_id);
    }
    // The agent's controller: its model service restarted once on command.
    const services = await api<{ items: { worker: { name: string }; restart_count: number; model_id: string }[] }>("/services?filter=all", token);
    expect(services.items.find((service) => service.worker.name === "warren-ahu-2")).toMatchObject({ restart_count: 1, model_id: targets[0]!.current_model });
    const subscription = await api<{ tier: string }>("/billing/subscription", token);
    expect(subscription.tier).toBe("pro");
  }, 600_000);
});
