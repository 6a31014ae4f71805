/** The platform as `npm start` runs it, in its own process, for the benchmarks that drive it over HTTP. */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export interface Ready {
  url: string;
  env: Record<string, string>;
}

/** Starts the platform on free ports with `dataDir`; FLINT_BENCH_PROFILE=<dir> writes its CPU profile there. */
export async function startPlatform(dataDir: string, env: Record<string, string> = {}): Promise<{ ready: Ready; child: ChildProcess }> {
  const child = fork(path.join(root, "dev/start.ts"), [], {
    execArgv: ["--import", "tsx", ...(process.env.FLINT_BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.FLINT_BENCH_PROFILE}`] : [])],
    env: { ...process.env, PORT: "0", FLINT_S3_PORT: "0", FLINT_DATA_DIR: dataDir, FLINT_LOG_LEVEL: "ERROR", FLINT_TRAINING_CAPACITY: "8", ...env },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once("message", (message) => resolve(message as Ready));
    child.once("exit", (code) => reject(new Error(`the platform exited during start (code ${code})`)));
  });
  child.removeAllListeners("exit");
  return { ready, child };
}

export async function stopPlatform(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The JSON body of a response that must be a success. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(response: Response): Promise<any> {
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.url} answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}
