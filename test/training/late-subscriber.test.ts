/**
 * A client that subscribes after things happened gets a snapshot: the
 * resource's state, then its events so far marked `"snapshot": true` (the
 * same shapes as live events), then live events.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/users";
import { uploadPresigned, waitForIngest } from "../datasets/helpers";
import { registerTarget, storeModel, tinyModel, waitForStatus } from "../deployments/helpers";
import { call } from "../support/http";
import { EventClient, isFinal, startRun, TINY, validatedDataset, waitForRun } from "./helpers";

const clients: EventClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

async function open(user: TestUser, path?: string): Promise<EventClient> {
  const client = await EventClient.open(user, path);
  clients.push(client);
  return client;
}

const isSnapshotOf = (topic: string) => (event: any) => event.type === "snapshot" && event.topic === topic;

/** The snapshot header of `topic` and the events it announced (waits until all arrived). */
async function snapshotOf(client: EventClient, topic: string): Promise<{ header: any; events: any[] }> {
  const header = await client.waitFor(isSnapshotOf(topic), 20_000);
  const after = () => client.events.map((event) => event.data).slice(client.events.findIndex((event) => isSnapshotOf(topic)(event.data)) + 1);
  await client.waitFor(() => after().filter((event) => event.snapshot === true).length >= header.events, 20_000);
  return { header, events: after().filter((event) => event.snapshot === true).slice(0, header.events) };
}

let owner: TestUser;
let stranger: TestUser;
let datasetId: string;

beforeAll(async () => {
  [owner, stranger] = await Promise.all([createUser(), createUser()]);
  datasetId = await validatedDataset(owner);
});

describe("late subscribers of a run", () => {
  let finished: any;

  beforeAll(async () => {
    const started = await startRun(owner, datasetId);
    expect(started.status).toBe(201);
    finished = await waitForRun(owner, started.body.id, isFinal);
    expect(finished.status).toBe("completed");
  });

  it("gets every epoch and training_complete on /ws/training/<id> after the run completed", async () => {
    const client = await open(owner, `/ws/training/${finished.id}`);
    const complete = await client.waitFor((event) => event.type === "training_complete", 20_000);
    const { header, events } = await snapshotOf(client, `run:${finished.id}`);

    expect(header.state).toMatchObject({ id: finished.id, status: "completed", current_epoch: TINY.epochs, model_id: finished.model_id });
    expect(header.events).toBe(TINY.epochs + 1);
    const epochs = events.filter((event) => event.type === "epoch_update");
    expect(epochs.map((event) => event.current_epoch)).toEqual([1, 2, 3]);
    expect(epochs[2]).toEqual({
      type: "epoch_update",
      snapshot: true,
      run_id: finished.id,
      current_epoch: 3,
      total_epochs: TINY.epochs,
      train_loss: expect.any(Number),
      val_loss: expect.any(Number),
      best_val_loss: finished.best_val_loss,
      learning_rate: expect.any(Number),
      elapsed_seconds: expect.any(Number),
      estimated_remaining_seconds: 0,
      epoch_seconds: expect.any(Number),
      setup_seconds: expect.any(Number),
      ended_at: expect.any(Number),
    });
    expect(complete).toEqual({
      type: "training_complete",
      snapshot: true,
      run_id: finished.id,
      status: "completed",
      current_epoch: TINY.epochs,
      total_epochs: TINY.epochs,
      best_val_loss: finished.best_val_loss,
      final_metrics: epochs.map((event) => ({ train_loss: event.train_loss, val_loss: event.val_loss })),
      model_id: finished.model_id,
      evaluation_id: finished.evaluation_id,
      training_time_seconds: finished.training_time_seconds,
    });
    expect(events.at(-1)).toEqual(complete);
  });

  it("gets the same snapshot after {action: subscribe}, right after the subscribed reply", async () => {
    const client = await open(owner);
    expect(await client.subscribe(`run:${finished.id}`)).toEqual({ type: "subscribed", topic: `run:${finished.id}` });
    const { header, events } = await snapshotOf(client, `run:${finished.id}`);
    expect(header.state.status).toBe("completed");
    expect(events.map((event) => event.type)).toEqual(["epoch_update", "epoch_update", "epoch_update", "training_complete"]);
    expect(client.events.map((event) => event.data.type).slice(0, 2)).toEqual(["subscribed", "snapshot"]);
  });

  it("answers another tenant's run with the error event and sends no data", async () => {
    const client = await open(stranger);
    const reply = await client.subscribe(`run:${finished.id}`);
    expect(reply).toMatchObject({ type: "error", code: "training_run.not_found", topic: `run:${finished.id}` });
    await expect(open(stranger, `/ws/training/${finished.id}`)).rejects.toThrow("HTTP 404");
    await expect(client.waitFor((event) => event.type !== "error", 500)).rejects.toThrow("no matching event");
  });
});

describe("a subscriber that joins mid-run", () => {
  it("gets the epochs so far as a snapshot, then the live ones, with no epoch missing", async () => {
    const epochs = 30;
    // patience as long as the run: this test is about delivery, not early stopping
    const started = await startRun(owner, datasetId, { ...TINY, epochs, patience: epochs });
    expect(started.status).toBe(201);
    const runId = started.body.id as string;
    await waitForRun(owner, runId, (run) => run.current_epoch >= 2 || isFinal(run));

    const client = await open(owner);
    expect((await client.subscribe(`run:${runId}`)).type).toBe("subscribed");
    const complete = await client.waitFor((event) => event.type === "training_complete" && event.run_id === runId, 120_000);
    const { header, events } = await snapshotOf(client, `run:${runId}`);

    expect(header.state.status).toBe("running");
    const replayed = events.filter((event) => event.type === "epoch_update").map((event) => event.current_epoch);
    expect(replayed.length).toBeGreaterThanOrEqual(2);
    expect(replayed).toEqual(Array.from({ length: replayed.length }, (_, index) => index + 1));
    const live = client.of("epoch_update", runId).filter((event) => !event.snapshot);
    expect(live.length).toBeGreaterThan(0);
    // An epoch may arrive both ways; together they cover every epoch once deduplicated by number.
    const seen = new Set([...replayed, ...live.map((event) => event.current_epoch)]);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: epochs }, (_, index) => index + 1));
    expect(complete.snapshot).toBeUndefined();
    expect(complete).toMatchObject({ status: "completed", current_epoch: epochs });
  });
});

describe("late subscribers of deployments and datasets", () => {
  it("get a deployment's current deployment_status", async () => {
    const model = await storeModel(owner.tenantId, await tinyModel("gru_predictor"), "gru_predictor");
    const target = await registerTarget(owner, "x86_64");
    const created = await call("POST", "/deployments", { token: owner.token, body: { model_id: model, target_id: target.id } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const current = await waitForStatus(owner, id, ["transferring", "failed"]);

    const client = await open(owner);
    expect((await client.subscribe(`deployment:${id}`)).type).toBe("subscribed");
    const { header, events } = await snapshotOf(client, `deployment:${id}`);
    expect(header.state).toMatchObject({ id, status: current.status, model_id: model, target_id: target.id, sha256: current.sha256 });
    expect(events).toEqual([
      {
        type: "deployment_status",
        snapshot: true,
        deployment_id: id,
        status: current.status,
        reason: current.reason,
        model_id: model,
        target_id: target.id,
        binary_size_bytes: current.binary_size_bytes,
        sha256: current.sha256,
      },
    ]);

    const refused = await open(stranger);
    expect(await refused.subscribe(`deployment:${id}`)).toMatchObject({ type: "error", code: "deployment.not_found" });
    await expect(refused.waitFor((event) => event.type !== "error", 500)).rejects.toThrow("no matching event");
  });

  it("get dataset.ready for an ingested dataset", async () => {
    const { datasetId: id } = await uploadPresigned(owner, "timestamp,flow\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n");
    await waitForIngest(owner, id);
    const client = await open(owner);
    await client.subscribe(`dataset:${id}`);
    const { header, events } = await snapshotOf(client, `dataset:${id}`);
    expect(header.state).toMatchObject({ id, status: "ready", row_count: 2, columns: ["timestamp", "flow"] });
    expect(events).toEqual([{ type: "dataset.ready", snapshot: true, dataset_id: id, row_count: 2, columns: ["timestamp", "flow"] }]);
  });

  it("get dataset.failed with the reason for a dataset whose ingest failed", async () => {
    const { datasetId: id } = await uploadPresigned(owner, "a,a\n1,2\n");
    await waitForIngest(owner, id);
    const client = await open(owner);
    await client.subscribe(`dataset:${id}`);
    const { header, events } = await snapshotOf(client, `dataset:${id}`);
    expect(header.state).toMatchObject({ id, status: "failed", failure: { code: "dataset.duplicate_header" } });
    expect(events).toEqual([
      { type: "dataset.failed", snapshot: true, dataset_id: id, code: "dataset.duplicate_header", reason: expect.stringContaining("Duplicate column name 'a'") },
    ]);
  });

  it("get only the state of a dataset still waiting for its upload", async () => {
    const created = await call("POST", "/datasets/uploads", { token: owner.token, body: { name: "pending", equipment_type: "fan_coil", file_size_bytes: 100 } });
    expect(created.status).toBe(201);
    const client = await open(owner);
    await client.subscribe(`dataset:${created.body.dataset_id}`);
    const { header, events } = await snapshotOf(client, `dataset:${created.body.dataset_id}`);
    expect(header).toMatchObject({ type: "snapshot", events: 0, state: { status: "pending_upload", row_count: null } });
    expect(events).toEqual([]);
  });
});
