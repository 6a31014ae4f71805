/**
 * Honest training time over real HTTP and WebSocket: what a run reports
 * (training_time_seconds, the epochs' elapsed_seconds) fits the wall time a
 * client sees between training_started and training_complete, and the run's
 * timestamps are in order. The timed comparisons are the point of this file.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestUser } from "../support/users";
import { call } from "../support/http";
import { EventClient, isFinal, startRun, TINY, validatedDataset, waitForRun } from "./helpers";

/** Slack for the client seeing training_started a little after the worker began. */
const MARGIN_SECONDS = 0.5;
/** Events carry seconds rounded to 0.1: a sum of n of them may exceed the rounded total by n × 0.05. */
const ROUNDING = 0.05;

function inOrder(run: any): void {
  const moments = [run.created_at, run.queued_at, run.started_at, run.completed_at];
  for (const moment of moments) expect(moment).toEqual(expect.any(String));
  const times = moments.map((moment) => Date.parse(moment));
  expect(times).toEqual([...times].sort((a, b) => a - b));
}

describe("training time", () => {
  let alice: TestUser;
  let client: EventClient;
  let first: any;
  let second: any;

  beforeAll(async () => {
    alice = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(alice, { rows: 2_000 });
    client = await EventClient.open(alice);
    await client.subscribe("tenant");
    // The Free plan trains one run at a time: the first starts at once, the second waits in the queue.
    first = (await startRun(alice, datasetId, { ...TINY, epochs: 5, patience: 100 })).body;
    second = (await startRun(alice, datasetId, { ...TINY, epochs: 1 })).body;
  });

  it("reports a training time within the wall time the client sees, covering every epoch", async () => {
    expect(first.status).toBe("running");
    const arrival = (type: string) => client.events.find((event) => event.data.type === type && event.data.run_id === first.id);
    const complete = await client.waitFor((event) => event.type === "training_complete" && event.run_id === first.id, 60_000);
    const started = arrival("training_started")!;
    const measured = (arrival("training_complete")!.at - started.at) / 1000;

    const epochs = client.of("epoch_update", first.id);
    expect(epochs.map((event) => event.current_epoch)).toEqual([1, 2, 3, 4, 5]);
    for (const [index, event] of epochs.entries()) {
      if (index > 0) expect(event.elapsed_seconds).toBeGreaterThanOrEqual(epochs[index - 1].elapsed_seconds);
      expect(event.epoch_seconds).toBeGreaterThanOrEqual(0);
      expect(event.setup_seconds).toBeGreaterThanOrEqual(0);
    }
    expect(epochs[0].elapsed_seconds).toBeGreaterThanOrEqual(epochs[0].epoch_seconds);
    const epochSeconds = epochs.reduce((sum, event) => sum + event.epoch_seconds, 0);
    const lastElapsed = epochs.at(-1).elapsed_seconds;
    expect(lastElapsed).toBeLessThanOrEqual(measured + MARGIN_SECONDS);
    expect(lastElapsed).toBeGreaterThanOrEqual(epochSeconds + epochs.at(-1).setup_seconds - (epochs.length + 1) * ROUNDING);

    const finished = await waitForRun(alice, first.id, isFinal);
    expect(finished.status).toBe("completed");
    // The run's time also covers the final evaluation, export and upload, so it is at least the last epoch's.
    expect(finished.training_time_seconds).toBeGreaterThanOrEqual(lastElapsed);
    expect(finished.training_time_seconds).toBeLessThanOrEqual(measured + MARGIN_SECONDS);
    expect(finished.setup_seconds).toBeGreaterThan(0);
    expect(finished.setup_seconds).toBeLessThan(finished.training_time_seconds);
    expect(complete.training_time_seconds).toBe(finished.training_time_seconds);
  });

  it("orders created_at ≤ queued_at ≤ started_at ≤ completed_at for a run that started at once", async () => {
    const finished = await waitForRun(alice, first.id, isFinal);
    inOrder(finished);
    expect(finished.queued_at).toBe(finished.created_at);
  });

  it("orders the timestamps of a run that waited in the queue, which starts after it was queued", async () => {
    expect(second.status).toBe("queued");
    expect(second.queued_at).toEqual(expect.any(String));
    const finished = await waitForRun(alice, second.id, isFinal);
    expect(finished.status).toBe("completed");
    inOrder(finished);
    expect(Date.parse(finished.started_at)).toBeGreaterThan(Date.parse(finished.queued_at));
    expect((await call("GET", "/training/queue", { token: alice.token })).body.active_trainings).toBe(0);
    client.close();
  });
});
