/**
 * HTTP load: many users at once on the read paths operators hit all day (list,
 * get, preview, score), then a burst of concurrent creates that must neither
 * lose nor duplicate a write. The platform runs as `npm start` does, in its own
 * process; autocannon drives it from this one over loopback.
 *
 *   npx tsx bench/load.ts [--seconds 60] [--connections 50] [--users 5] [--only "GET /datasets,GET /health"]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { json, startPlatform, stopPlatform } from "./platform";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export interface LoadOptions {
  seconds?: number;
  connections?: number;
  users?: number;
  /** Only the endpoints whose name contains one of these (e.g. "GET /datasets"). */
  only?: string[];
}

interface EndpointFigures {
  endpoint: string;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  errors: number;
  /** CPU milliseconds per request spent by each side, where the time goes (Linux only). */
  cpu_ms_per_request?: Record<CpuSide, number>;
}

type CpuSide = "api" | "dynamodb_local" | "load_generator" | "other";

/** CPU seconds used so far by every process on the machine, by side (from /proc). */
function cpuSecondsBySide(apiPid: number): Record<CpuSide, number> | undefined {
  if (!existsSync("/proc/self/stat")) return undefined;
  const ticksPerSecond = 100;
  const totals: Record<CpuSide, number> = { api: 0, dynamodb_local: 0, load_generator: 0, other: 0 };
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const side: CpuSide =
        Number(pid) === process.pid ? "load_generator" : Number(pid) === apiPid ? "api" : command.includes("DynamoDBLocal.jar") ? "dynamodb_local" : "other";
      totals[side] += seconds;
    } catch {
      // The process exited while being read.
    }
  }
  return totals;
}

interface BenchUser {
  token: string;
  datasetId: string;
  modelId: string;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * q))]!;
}

/** A verified user on its own Pro tenant with a validated dataset and a small trained model. */
async function prepareUser(baseUrl: string, index: number, csv: string): Promise<BenchUser> {
  const { User } = await import("../core/user");
  const { Auth } = await import("../core/auth");
  const { Billing } = await import("../core/billing");
  const username = `load_${index}_${Math.random().toString(36).slice(2, 8)}`;
  const password = `load-${username}-password`;
  const user = await User.create({ username, email: `${username}@bench.flint.local`, password, role: "admin", emailVerified: true });
  await Billing.SubscriptionEntity.put({ tenantId: user.tenantId, tier: "enterprise", status: "active" }).go();
  const login = await Auth.login({ username, password });
  if (login.mfaRequired) throw new Error("a fresh bench user never has MFA");
  const auth = { authorization: `Bearer ${login.token}` };
  const form = new FormData();
  form.set("name", `Load ${index}`);
  form.set("equipment_type", "air_handler");
  form.set("file", new Blob([csv], { type: "text/csv" }), "load.csv");
  const dataset = await json(await fetch(`${baseUrl}/api/v1/datasets`, { method: "POST", headers: auth, body: form }));
  await json(await fetch(`${baseUrl}/api/v1/datasets/${dataset.id}/validate`, { method: "POST", headers: auth }));
  const run = await json(
    await fetch(`${baseUrl}/api/v1/training/start`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        dataset_id: dataset.id,
        architecture: "gru_predictor",
        hyperparameters: { epochs: 1, sequence_length: 10, hidden_dim: 8, num_layers: 1, batch_size: 64, stride: 5 },
      }),
    }),
  );
  for (let attempt = 0; attempt < 600; attempt++) {
    const state = await json(await fetch(`${baseUrl}/api/v1/training/${run.id}`, { headers: auth }));
    if (state.status === "completed") return { token: login.token, datasetId: dataset.id, modelId: state.model_id };
    if (state.status === "failed" || state.status === "stopped") throw new Error(`bench training ${state.status}: ${state.error}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error("bench training did not finish in 5 minutes");
}

const WARM_UP_SECONDS = 5;

/** Unmeasured load first, so the JIT of the API and of DynamoDB Local's JVM is not counted as latency. */
async function warmUp(baseUrl: string, users: BenchUser[], request: Parameters<typeof hammer>[3], connections: number): Promise<void> {
  const perUser = Math.max(1, Math.round(connections / users.length));
  await Promise.all(
    users.map((user) => {
      const shape = request(user);
      return autocannon({
        url: baseUrl,
        connections: perUser,
        duration: WARM_UP_SECONDS,
        requests: [{ method: shape.method, path: shape.path, body: shape.body, headers: { authorization: `Bearer ${user.token}`, ...shape.headers } }],
      });
    }),
  );
}

/** Runs autocannon on one endpoint, the connections spread over the users, and measures every response. */
async function hammer(
  baseUrl: string,
  users: BenchUser[],
  endpoint: string,
  request: (user: BenchUser) => { method: "GET" | "POST"; path: string; headers?: Record<string, string>; body?: string },
  seconds: number,
  connections: number,
  apiPid: number,
): Promise<EndpointFigures> {
  await warmUp(baseUrl, users, request, connections);
  const latencies: number[] = [];
  const cpuBefore = cpuSecondsBySide(apiPid);
  let errors = 0;
  const perUser = Math.max(1, Math.round(connections / users.length));
  await Promise.all(
    users.map(
      (user) =>
        new Promise<void>((resolve, reject) => {
          const shape = request(user);
          const instance = autocannon(
            {
              url: baseUrl,
              connections: perUser,
              duration: seconds,
              requests: [{ method: shape.method, path: shape.path, body: shape.body, headers: { authorization: `Bearer ${user.token}`, ...shape.headers } }],
            },
            (error) => (error ? reject(error) : resolve()),
          );
          instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
            latencies.push(responseTime);
            if (statusCode >= 400) errors++;
          });
          instance.on("reqError", () => errors++);
        }),
    ),
  );
  latencies.sort((a, b) => a - b);
  const cpuAfter = cpuSecondsBySide(apiPid);
  const perRequest = (side: CpuSide) => Math.round(((cpuAfter![side] - cpuBefore![side]) * 1000 * 100) / Math.max(1, latencies.length)) / 100;
  return {
    endpoint,
    requests: latencies.length,
    p50_ms: Math.round(quantile(latencies, 0.5)),
    p99_ms: Math.round(quantile(latencies, 0.99)),
    max_ms: Math.round(latencies.at(-1) ?? 0),
    errors,
    cpu_ms_per_request:
      cpuBefore && cpuAfter
        ? { api: perRequest("api"), dynamodb_local: perRequest("dynamodb_local"), load_generator: perRequest("load_generator"), other: perRequest("other") }
        : undefined,
  };
}

/** 20 concurrent controller registrations per user: every 201 must be listed exactly once, nothing else. */
async function concurrentCreates(baseUrl: string, users: BenchUser[]): Promise<{ attempted: number; created: number; listed: number; duplicates: number }> {
  let attempted = 0;
  let created = 0;
  let listed = 0;
  let duplicates = 0;
  for (const user of users) {
    const headers = { authorization: `Bearer ${user.token}`, "content-type": "application/json" };
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${baseUrl}/api/v1/deployments/targets`, {
          method: "POST",
          headers,
          body: JSON.stringify({ name: `Load controller ${i}`, ip: `100.64.0.${i + 1}`, arch: "armv7" }),
        }).then(async (response) => ({ status: response.status, body: (await response.json()) as { id?: string } })),
      ),
    );
    attempted += answers.length;
    const ids = answers.filter((answer) => answer.status === 201).map((answer) => answer.body.id!);
    created += ids.length;
    const list = (await json(await fetch(`${baseUrl}/api/v1/deployments/targets`, { headers }))) as { id: string }[];
    const listedIds = list.map((target) => target.id);
    listed += listedIds.filter((id) => ids.includes(id)).length;
    duplicates += listedIds.length - new Set(listedIds).size;
  }
  return { attempted, created, listed, duplicates };
}

export async function benchLoad(options: LoadOptions = {}) {
  const seconds = options.seconds ?? 60;
  const connections = options.connections ?? 50;
  const userCount = options.users ?? 5;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "flint-bench-load-"));
  const { ready, child } = await startPlatform(dataDir);
  try {
    // Core in this process talks to the platform's services (to create users directly).
    Object.assign(process.env, ready.env);
    const { Synthetic } = await import("../core/synthetic");
    const csv = Synthetic.csvString({ equipment: "air_handler", rows: 2_000, faults: true, seed: 5 });
    const scoreBody = csv.split("\n").slice(0, 121).join("\n");
    const users: BenchUser[] = [];
    for (let i = 0; i < userCount; i++) users.push(await prepareUser(ready.url, i, csv));

    const endpoints: [string, Parameters<typeof hammer>[3]][] = [
      ["GET /health", () => ({ method: "GET", path: "/health" })],
      ["GET /datasets", () => ({ method: "GET", path: "/api/v1/datasets" })],
      ["GET /datasets/:id", (u) => ({ method: "GET", path: `/api/v1/datasets/${u.datasetId}` })],
      ["GET /datasets/:id/preview", (u) => ({ method: "GET", path: `/api/v1/datasets/${u.datasetId}/preview?page=3&page_size=50&sort_col=supply_temp` })],
      [
        "POST /models/:id/score (120 rows)",
        (u) => ({ method: "POST", path: `/api/v1/models/${u.modelId}/score`, headers: { "content-type": "text/csv" }, body: scoreBody }),
      ],
    ];
    const figures: EndpointFigures[] = [];
    for (const [name, request] of endpoints) {
      if (options.only && !options.only.some((wanted) => name === wanted)) continue;
      figures.push(await hammer(ready.url, users, name, request, seconds, connections, child.pid!));
    }
    const creates = await concurrentCreates(ready.url, users);
    return { seconds, connections, users: userCount, endpoints: figures, concurrent_creates: creates };
  } finally {
    await stopPlatform(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printLoad(result: Awaited<ReturnType<typeof benchLoad>>): void {
  console.log(`${result.connections} connections over ${result.users} users, ${result.seconds} s per endpoint after ${WARM_UP_SECONDS} s of warm-up`);
  console.table(
    result.endpoints.map(({ cpu_ms_per_request: cpu, ...row }) => ({
      ...row,
      "req/s": Math.round(row.requests / result.seconds),
      ...(cpu ? { "cpu ms/req api": cpu.api, "dynamodb": cpu.dynamodb_local, "client": cpu.load_generator } : {}),
    })),
  );
  const c = result.concurrent_creates;
  console.log(`concurrent creates: ${c.created} of ${c.attempted} answered 201, ${c.listed} of them listed, ${c.duplicates} duplicates`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const index = process.argv.indexOf(`--${name}`);
    return index === -1 ? undefined : Number(process.argv[index + 1]);
  };
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const only = process.argv.indexOf("--only");
  benchLoad({
    seconds: arg("seconds"),
    connections: arg("connections"),
    users: arg("users"),
    only: only === -1 ? undefined : process.argv[only + 1]!.split(","),
  })
    .then((result) => {
      printLoad(result);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
