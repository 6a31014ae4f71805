/**
 * Helpers for the training tests: a validated synthetic dataset, runs over
 * real HTTP, bounded polling, and a WebSocket client that records events.
 */
import { Synthetic } from "../../core/synthetic";
import { uploadMultipart } from "../datasets/helpers";
import { call } from "../support/http";
import type { TestUser } from "../support/users";

export { EventClient, wsUrl } from "../support/ws";

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

