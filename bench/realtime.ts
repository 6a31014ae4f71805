/**
 * Live-progress latency: how long after an epoch ends its `epoch_update`
 * reaches a connected WebSocket client. The worker stamps each event with
 * `ended_at` (epoch ms, taken when the trainer reports the epoch); the client
 * subtracts it from its arrival time (same machine, same clock). Target:
 * every event within 200 ms.
 *
 * Runs against a fresh local runtime (temp data dir, random port) unless a
 * base URL and token are given:
 *
 *   npx tsx bench/realtime.ts [--epochs 30] [--runs 2]
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

export interface RealtimeBenchResult {
  runs: number;
  events: number;
  /** Milliseconds from epoch end to arrival at the client. */
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
  mean_ms: number;
  /** Events that arrived within the target, `of` the events that arrived ("60 of 60"). */
  within_200ms: number;
  of: number;
  target_ms: number;
  /** Epochs that never arrived (should be 0). */
  missing: number;
}

export interface RealtimeBenchOptions {
  epochs?: number;
  runs?: number;
  rows?: number;
  /** An already running runtime; a fresh one is started when omitted. */
  target?: { baseUrl: string; token: string };
}

const TARGET_MS = 200;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

async function json(response: Response): Promise<any> {
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.url} answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

async function freshTarget(): Promise<{ baseUrl: string; token: string; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "flint-bench-realtime-"));
  const { startRuntime } = await import("../dev/runtime");
  const runtime = await startRuntime({ port: 0, dataDir, quiet: true, env: { FLINT_LOG_LEVEL: "ERROR" } });
  // The runtime applied its environment to this process, so core talks to its services.
  const { User } = await import("../core/user");
  const { Auth } = await import("../core/auth");
  const { Billing } = await import("../core/billing");
  const suffix = Math.random().toString(36).slice(2, 8);
  const password = `bench-${suffix}-password`;
  const user = await User.create({ username: `bench_${suffix}`, email: `bench_${suffix}@bench.flint.local`, password, role: "admin", emailVerified: true });
  // Enough model slots for several runs.
  await Billing.SubscriptionEntity.put({ tenantId: user.tenantId, tier: "enterprise", status: "active" }).go();
  const login = await Auth.login({ username: `bench_${suffix}`, password });
  if (login.mfaRequired) throw new Error("a fresh bench user never has MFA");
  return {
    baseUrl: runtime.url,
    token: login.token,
    stop: async () => {
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function benchOne(baseUrl: string, token: string, datasetId: string, epochs: number): Promise<{ latencies: number[]; missing: number }> {
  const auth = { authorization: `Bearer ${token}` };
  const started = await json(
    await fetch(`${baseUrl}/api/v1/training/start`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        dataset_id: datasetId,
        architecture: "lstm_autoencoder",
        hyperparameters: { epochs, sequence_length: 10, hidden_dim: 8, bottleneck_dim: 4, num_layers: 1, batch_size: 64, stride: 5, patience: 1000 },
      }),
    }),
  );
  const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws/training/${started.id}?token=${encodeURIComponent(token)}`);
  const latencies = new Map<number, number>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("run did not finish within 5 minutes")), 5 * 60_000);
    socket.on("message", (raw) => {
      const arrived = Date.now();
      const event = JSON.parse(raw.toString()) as { type: string; current_epoch?: number; ended_at?: number };
      if (event.type === "epoch_update" && event.ended_at) latencies.set(event.current_epoch!, arrived - event.ended_at);
      if (event.type === "training_complete" || event.type === "training_failed") {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.once("error", reject);
    socket.once("unexpected-response", (_request, response) => reject(new Error(`WebSocket upgrade answered ${response.statusCode}`)));
  });
  socket.close();
  // The socket subscribes on connect, so the first epoch can be missed only if it ended before that.
  const seen = [...latencies.keys()];
  const first = Math.min(...seen);
  return { latencies: [...latencies.values()], missing: epochs - first + 1 - seen.length };
}

export async function benchRealtime(options: RealtimeBenchOptions = {}): Promise<RealtimeBenchResult> {
  const epochs = options.epochs ?? 30;
  const runs = options.runs ?? 2;
  const fresh = options.target ? undefined : await freshTarget();
  const { baseUrl, token } = options.target ?? fresh!;
  try {
    const { Synthetic } = await import("../core/synthetic");
    const csv = Synthetic.csvString({ equipment: "air_handler", rows: options.rows ?? 3_000, faults: true, seed: 11 });
    const form = new FormData();
    form.set("name", "Realtime bench");
    form.set("equipment_type", "air_handler");
    form.set("file", new Blob([csv], { type: "text/csv" }), "bench.csv");
    const auth = { authorization: `Bearer ${token}` };
    const dataset = await json(await fetch(`${baseUrl}/api/v1/datasets`, { method: "POST", headers: auth, body: form }));
    await json(await fetch(`${baseUrl}/api/v1/datasets/${dataset.id}/validate`, { method: "POST", headers: auth }));

    const all: number[] = [];
    let missing = 0;
    for (let i = 0; i < runs; i++) {
      const result = await benchOne(baseUrl, token, dataset.id, epochs);
      all.push(...result.latencies);
      missing += result.missing;
    }
    const sorted = [...all].sort((a, b) => a - b);
    return {
      runs,
      events: all.length,
      p50_ms: Math.round(quantile(sorted, 0.5)),
      p95_ms: Math.round(quantile(sorted, 0.95)),
      max_ms: sorted.at(-1) ?? 0,
      mean_ms: Math.round(all.reduce((sum, value) => sum + value, 0) / Math.max(1, all.length)),
      within_200ms: all.filter((value) => value <= TARGET_MS).length,
      of: all.length,
      target_ms: TARGET_MS,
      missing,
    };
  } finally {
    await fresh?.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const index = process.argv.indexOf(`--${name}`);
    return index === -1 ? undefined : Number(process.argv[index + 1]);
  };
  benchRealtime({ epochs: arg("epochs"), runs: arg("runs") })
    .then((result) => {
      console.log(JSON.stringify(result, null, 2));
      process.exit(result.within_200ms === result.of && result.missing === 0 ? 0 : 1);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
