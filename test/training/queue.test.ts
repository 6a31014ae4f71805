/**
 * Slots, the queue, stopping, validation and tenancy, over real HTTP and
 * WebSocket against the local runtime.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/users";
import { call } from "../support/http";
import { EventClient, isFinal, startRun, TINY, validatedDataset, waitForRun } from "./helpers";

describe("training queue on the Free plan (one slot)", () => {
  let alice: TestUser;
  let datasetId: string;
  let client: EventClient;

  beforeAll(async () => {
    alice = await createUser({ role: "operator" });
    datasetId = await validatedDataset(alice);
    client = await EventClient.open(alice);
    await client.subscribe("tenant");
  });

  it("queues a second run while the single slot is taken and starts it when the slot frees", async () => {
    const first = await startRun(alice, datasetId, { ...TINY, epochs: 6 });
    expect(first.body.status).toBe("running");
    const second = await startRun(alice, datasetId);
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ status: "queued", dataset_id: datasetId, architecture: "lstm_autoencoder" });
    expect(second.body.started_at).toEqual(expect.any(String));

    const queue = await call("GET", "/training/queue", { token: alice.token });
    expect(queue.body).toMatchObject({ active_trainings: 1, max_concurrent: 1, queued: 1, capacity_available: 0 });

    const queuedEvent = await client.waitFor((e) => e.type === "training_queued" && e.run_id === second.body.id, 5_000);
    expect(queuedEvent.queue_position).toBe(1);
    const started = await client.waitFor((e) => e.type === "training_started" && e.run_id === second.body.id, 60_000);
    expect(started.status).toBe("running");
    // It started only once the first run had released its slot.
    const firstDone = await client.waitFor((e) => e.type === "training_complete" && e.run_id === first.body.id);
    const at = (type: string, runId: string) => client.events.find((e) => e.data.type === type && e.data.run_id === runId)!.at;
    expect(at("training_started", second.body.id)).toBeGreaterThanOrEqual(at("training_complete", first.body.id) - 50);
    expect(firstDone.status).toBe("completed");

    const finished = await waitForRun(alice, second.body.id, isFinal);
    expect(finished.status).toBe("completed");
    const after = await call("GET", "/training/queue", { token: alice.token });
    expect(after.body).toMatchObject({ active_trainings: 0, queued: 0, capacity_available: 1 });
  });

  it("lists runs newest first, a page at a time", async () => {
    const page = await call("GET", "/training?limit=1", { token: alice.token });
    expect(page.body).toHaveLength(1);
    const cursor = page.headers.get("x-next-cursor");
    expect(cursor).toBeTruthy();
    const next = await call("GET", `/training?limit=1&cursor=${encodeURIComponent(cursor!)}`, { token: alice.token });
    expect(next.body).toHaveLength(1);
    expect(next.body[0].id < page.body[0].id).toBe(true);
  });
});

describe("concurrent starts", () => {
  it("give the single Free slot to exactly one run and never overshoot max_models", async () => {
    const carol = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(carol);
    const results = await Promise.all([startRun(carol, datasetId), startRun(carol, datasetId), startRun(carol, datasetId)]);
    // The Free plan allows 2 models: the third start is refused, whoever loses the race.
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 403]);
    const refused = results.find((r) => r.status === 403)!;
    expect(refused.body.code).toBe("plan.model_limit_reached");
    const accepted = results.filter((r) => r.status === 201);
    expect(accepted.map((r) => r.body.status).sort()).toEqual(["queued", "running"]);
    for (const result of accepted) expect((await waitForRun(carol, result.body.id, isFinal)).status).toBe("completed");
    expect((await call("GET", "/training/queue", { token: carol.token })).body).toMatchObject({ active_trainings: 0, queued: 0 });
    expect((await call("GET", "/training", { token: carol.token })).body).toHaveLength(2);
    expect((await call("GET", "/models", { token: carol.token })).body).toHaveLength(2);
  });
});

describe("stopping", () => {
  let dave: TestUser;
  let datasetId: string;

  beforeAll(async () => {
    dave = await createUser({ role: "operator" });
    datasetId = await validatedDataset(dave);
  });

  it("stops a queued run at once, without a model", async () => {
    const running = await startRun(dave, datasetId, { ...TINY, epochs: 4 });
    const queued = await startRun(dave, datasetId);
    expect(queued.body.status).toBe("queued");
    const stopped = await call("POST", `/training/${queued.body.id}/stop`, { token: dave.token });
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ id: queued.body.id, status: "stopped", current_epoch: 0, model_id: null });
    expect((await call("GET", "/training/queue", { token: dave.token })).body.queued).toBe(0);
    await waitForRun(dave, running.body.id, isFinal);
    // The stopped run never starts.
    expect((await call("GET", `/training/${queued.body.id}`, { token: dave.token })).body.status).toBe("stopped");
  });

  it("stops a running run within one epoch and keeps its best weights as a model flagged stopped early", async () => {
    const client = await EventClient.open(dave);
    const started = await startRun(dave, datasetId, { ...TINY, epochs: 200, patience: 1000 });
    await client.subscribe(`run:${started.body.id}`);
    await client.waitFor((e) => e.type === "epoch_update" && e.run_id === started.body.id, 30_000);
    const stopAt = Date.now();
    const stopped = await call("POST", `/training/${started.body.id}/stop`, { token: dave.token });
    expect(stopped.status).toBe(200);
    expect(stopped.body.status).toBe("stopped");
    const complete = await client.waitFor((e) => e.type === "training_complete" && e.run_id === started.body.id, 15_000);
    expect(complete.status).toBe("stopped");
    // At most the epoch in progress when the stop was requested finishes after it.
    const endedAfterStop = client.of("epoch_update", started.body.id).filter((e) => e.ended_at > stopAt);
    expect(endedAfterStop.length).toBeLessThanOrEqual(1);
    expect(complete.current_epoch).toBeLessThan(200);
    const run = (await call("GET", `/training/${started.body.id}`, { token: dave.token })).body;
    expect(run).toMatchObject({ status: "stopped", stop_requested: true, model_id: expect.stringMatching(/^mdl_/) });
    const model = (await call("GET", `/models/${run.model_id}`, { token: dave.token })).body;
    expect(model).toMatchObject({ stopped_early: true, epochs_trained: complete.current_epoch });
    expect((await call("POST", `/training/${started.body.id}/stop`, { token: dave.token })).body.status).toBe("stopped");
    client.close();
  });

  it("refuses to stop a completed run", async () => {
    const runs = (await call("GET", "/training", { token: dave.token })).body as any[];
    const completed = runs.find((r) => r.status === "completed");
    const answer = await call("POST", `/training/${completed.id}/stop`, { token: dave.token });
    expect(answer.status).toBe(409);
    expect(answer.body.code).toBe("training.not_stoppable");
  });
});

describe("starting with bad input", () => {
  let erin: TestUser;
  let datasetId: string;

  beforeAll(async () => {
    erin = await createUser({ role: "operator" });
    datasetId = await validatedDataset(erin);
  });

  it.each([
    ["an unknown architecture", { architecture: "transformer" }],
    ["zero epochs", { hyperparameters: { epochs: 0 } }],
    ["a negative learning rate", { hyperparameters: { learning_rate: -1 } }],
    ["a string for batch_size", { hyperparameters: { batch_size: "big" } }],
    ["no dataset", { dataset_id: undefined }],
  ])("answers 400 for %s", async (_name, override) => {
    const body = { dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: TINY, ...override };
    const answer = await call("POST", "/training/start", { token: erin.token, body });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "request.invalid", error: expect.any(String) });
  });

  it("answers 404 for a dataset that does not exist", async () => {
    const answer = await call("POST", "/training/start", { token: erin.token, body: { dataset_id: "ds_nope", architecture: "lstm_autoencoder" } });
    expect(answer.status).toBe(404);
    expect(answer.body.code).toBe("dataset.not_found");
  });

  it("answers 400 dataset.not_validated for a dataset that was not validated", async () => {
    const unvalidated = await validatedDataset(erin);
    await call("POST", `/datasets/${unvalidated}/unlock`, { token: erin.token });
    const answer = await call("POST", "/training/start", { token: erin.token, body: { dataset_id: unvalidated, architecture: "lstm_autoencoder" } });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe("dataset.not_validated");
    expect((await call("GET", "/training", { token: erin.token })).body).toEqual([]);
  });

  it("answers 401 without a token and 403 for a viewer", async () => {
    expect((await call("POST", "/training/start", { body: { dataset_id: datasetId, architecture: "lstm_autoencoder" } })).status).toBe(401);
    const viewer = await createUser({ tenantId: erin.tenantId, role: "viewer" });
    const answer = await call("POST", "/training/start", { token: viewer.token, body: { dataset_id: datasetId, architecture: "lstm_autoencoder" } });
    expect(answer.status).toBe(403);
    expect((await call("GET", "/training", { token: viewer.token })).status).toBe(200);
  });
});

describe("tenancy", () => {
  let owner: TestUser;
  let stranger: TestUser;
  let run: any;

  beforeAll(async () => {
    owner = await createUser({ role: "operator" });
    stranger = await createUser();
    const datasetId = await validatedDataset(owner);
    run = (await startRun(owner, datasetId)).body;
    run = await waitForRun(owner, run.id, isFinal);
  });

  it("answers 404 to another tenant for the run, its model and its evaluation", async () => {
    for (const path of [`/training/${run.id}`, `/training/${run.id}/epochs`, `/models/${run.model_id}`, `/models/${run.model_id}/download`, `/evaluations/${run.evaluation_id}`]) {
      const answer = await call("GET", path, { token: stranger.token });
      expect(answer.status, path).toBe(404);
      expect(JSON.stringify(answer.body)).not.toContain(owner.tenantId);
    }
    expect((await call("POST", `/training/${run.id}/stop`, { token: stranger.token })).status).toBe(404);
    expect((await call("DELETE", `/models/${run.model_id}`, { token: stranger.token })).status).toBe(404);
    expect((await call("POST", `/models/${run.model_id}/score`, { token: stranger.token, body: { rows: [[1]] } })).status).toBe(404);
    expect((await call("POST", `/evaluations/${run.evaluation_id}/gradient`, { token: stranger.token })).status).toBe(404);
    expect((await call("GET", "/training", { token: stranger.token })).body).toEqual([]);
    expect((await call("GET", "/models", { token: stranger.token })).body).toEqual([]);
  });

  it("does not let another tenant subscribe to the run", async () => {
    const client = await EventClient.open(stranger);
    const answer = await client.subscribe(`run:${run.id}`);
    expect(answer).toMatchObject({ type: "error", code: "training_run.not_found" });
    client.close();
    await expect(EventClient.open(stranger, `/ws/training/${run.id}`)).rejects.toThrow("HTTP 404");
    const own = await EventClient.open(owner, `/ws/training/${run.id}`);
    own.close();
  });
});
