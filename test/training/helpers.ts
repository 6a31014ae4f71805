/**
 * Helpers for the training tests: a validated synthetic dataset, runs over
 * real HTTP, bounded polling, and a WebSocket client that records events.
 */
import { inject } from "vitest";
import WebSocket from "ws";
import { Synthetic } from "../../core/synthetic";
import { uploadMultipart } from "../datasets/helpers";
import { call } from "../support/http";
import type { TestUser } from "../support/users";

export const wsUrl = inject("wsUrl");

/** Small enough to train in about a second: 3 epochs over a few thousand rows. */
export const TINY = { epochs: 3, sequence_length: 10, hidden_dim: 8, bottleneck_dim: 4, num_layers: 1, batch_size: 64, stride: 5 };

/** Uploads a synthetic air-handler CSV and validates it; returns the dataset id. */
export async function validatedDataset(user: TestUser, options: { rows?: number; faults?: boolean; seed?: number } = {}): Promise<string> {
  const csv = Synthetic.csvString({ equipment: "air_handler", rows: options.rows ?? 2_000, faults: options.faults ?? true, seed: options.seed ?? 7 });
  const upload = await uploadMultipart(user, csv, { name: "Training test AHU", equipment_type: "air_handler" }, "ahu.csv");
  if (upload.status !== 201) throw new Error(`upload answered ${upload.status}: ${JSON.stringify(upload.body)}`);
  const { id } = upload.body as { id: string };
  const validate = await call("POST", `/datasets/${id}/validate`, { token: user.token });
  if (validate.status !== 200) throw new Error(`validate answered ${validate.status}: ${JSON.stringify(validate.body)}`);
  return id;
}

export async function startRun(user: TestUser, datasetId: string, hyperparameters: Record<string, unknown> = TINY, architecture = "lstm_autoencoder") {
  return call("POST", "/training/start", { token: user.token, body: { dataset_id: datasetId, architecture, hyperparameters } });
}

/** Polls GET /training/:id until `done(run)` (bounded). */
export async function waitForRun(user: TestUser, id: string, done: (run: any) => boolean, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await call("GET", `/training/${id}`, { token: user.token });
    if (status !== 200) throw new Error(`GET /training/${id} answered ${status}`);
    if (done(body)) return body;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${body.status} (epoch ${body.current_epoch}) after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

export const isFinal = (run: { status: string }) => ["completed", "failed", "stopped"].includes(run.status);

/** A WebSocket client that keeps every JSON message it receives, with the time it arrived. */
export class EventClient {
  readonly events: { at: number; data: any }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: WebSocket) {
    socket.on("message", (raw) => {
      this.events.push({ at: Date.now(), data: JSON.parse(raw.toString()) });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Opens `path` (default /ws) with the token; rejects with the HTTP status when the upgrade is refused. */
  static open(user: TestUser, path = "/ws"): Promise<EventClient> {
    const url = `${wsUrl.replace(/\/ws$/, "")}${path}?token=${encodeURIComponent(user.token)}`;
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.once("open", () => resolve(new EventClient(socket)));
      socket.once("unexpected-response", (_request, response) => reject(new Error(`status ${response.statusCode}`)));
      socket.once("error", reject);
    });
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  async subscribe(topic: string): Promise<any> {
    this.send({ action: "subscribe", topic });
    return this.waitFor((event) => (event.type === "subscribed" || event.type === "error") && event.topic === topic, 5_000);
  }

  /** Resolves with the first event matching `match` (already received or still to come). */
  async waitFor(match: (event: any) => boolean, timeoutMs = 60_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((event) => match(event.data));
      if (found) return found.data;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => e.data.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  of(type: string, runId?: string): any[] {
    return this.events.map((event) => event.data).filter((data) => data.type === type && (runId === undefined || data.run_id === runId));
  }

  close(): void {
    this.socket.close();
  }
}
