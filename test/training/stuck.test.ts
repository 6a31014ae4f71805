/**
 * Stuck-run recovery by the scheduled retention cleanup: a run left
 * `running` with no message (a crash between taking its slot and sending
 * it) is handed to a worker again and completes; a run a worker holds is
 * left alone.
 *
 * The sweep is platform-wide and judges by the wall clock at most (a
 * schedule time moved forward would expire the leases of other files' runs
 * training in parallel), so these tests age the stuck run itself instead:
 * they move its last write back, as if the crash happened minutes ago.
 */
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { documentClient } from "../../core/aws";
import { Config } from "../../core/config";
import { createId } from "../../core/id";
import { TrainingRun, TrainingRunEntity } from "../../core/training";
import { createRun, finish, getRun } from "../../core/training/slots";
import { handler } from "../../functions/jobs/retention";
import { createUser } from "../support/users";
import { isFinal, startRun, TINY, validatedDataset, waitForRun } from "./helpers";
import { scheduledAt } from "../support/events";

const MINUTE = 60 * 1000;

/** Moves a run's start and last write `ms` into the past, below ElectroDB (which stamps updatedAt on every write). */
async function age(tenantId: string, runId: string, ms: number): Promise<void> {
  const { Key } = TrainingRunEntity.get({ tenantId, runId }).params();
  const at = new Date(Date.now() - ms).toISOString();
  await documentClient().send(
    new UpdateCommand({
      TableName: Config.tableName(),
      Key,
      UpdateExpression: "SET #updatedAt = :at, #startedAt = :at",
      ExpressionAttributeNames: { "#updatedAt": "updatedAt", "#startedAt": "startedAt" },
      ExpressionAttributeValues: { ":at": at },
    }),
  );
}


async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("stuck-run index", () => {
  it("keys running and stopping runs into the sparse status index and removes the keys at a final status", () => {
    const key = { tenantId: "t1", runId: "tr_1" };
    const created = TrainingRunEntity.create({ ...key, datasetId: "ds_1", architecture: "lstm_autoencoder", hyperparameters: {}, status: "running", totalEpochs: 3 }).params();
    expect(created.Item).toMatchObject({ gsi2pk: "$flint#status_running", gsi2sk: "$training_run_1#runid_tr_1" });

    const queued = TrainingRunEntity.create({ ...key, datasetId: "ds_1", architecture: "lstm_autoencoder", hyperparameters: {}, status: "queued", totalEpochs: 3 }).params();
    expect(queued.Item).not.toHaveProperty("gsi2pk");

    const stopping = TrainingRunEntity.patch(key).set({ status: "stopping" }).params();
    expect(stopping.ExpressionAttributeValues).toMatchObject({ ":gsi2pk_u0": "$flint#status_stopping" });

    const completed = TrainingRunEntity.patch(key).set({ status: "completed" }).params();
    expect(completed.UpdateExpression).toMatch(/REMOVE .*#gsi2pk, #gsi2sk/);

    const renewal = TrainingRunEntity.patch(key).set({ leaseUntil: 1 }).params();
    expect(renewal.UpdateExpression).not.toMatch(/gsi2/);

    const query = TrainingRunEntity.query.byActiveStatus({ status: "running" }).params();
    expect(query).toMatchObject({ IndexName: "gsi2", ExpressionAttributeValues: { ":pk": "$flint#status_running" } });
  });
});

describe("stuck-run recovery", () => {
  it("requeues a running run that never got its message once the grace period has passed, and the run completes", async () => {
    const user = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(user);
    const input = TrainingRun.StartInput.parse({ dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: TINY });
    // What TrainingRun.start does up to the crash: the slot transaction, but no message.
    const run = await createRun({
      tenantId: user.tenantId,
      runId: createId("tr"),
      datasetId,
      architecture: input.architecture,
      hyperparameters: input.hyperparameters,
      totalEpochs: input.hyperparameters!.epochs!,
      createdBy: user.userId,
    });
    expect(run.status).toBe("running");

    await age(user.tenantId, run.runId, 5 * MINUTE);
    await handler(scheduledAt(new Date()));
    expect((await getRun(user.tenantId, run.runId))?.requeuedAt).toBeUndefined();

    await age(user.tenantId, run.runId, 11 * MINUTE);
    const report = await handler(scheduledAt(new Date()));
    expect(report.stuck_runs_requeued).toBeGreaterThanOrEqual(1);
    expect((await getRun(user.tenantId, run.runId))?.requeues).toBe(1);

    const final = await waitForRun(user, run.runId, isFinal);
    expect(final.status).toBe("completed");
    expect(final.model_id).toEqual(expect.any(String));
    const stored = (await getRun(user.tenantId, run.runId))!;
    expect(stored.slotHeld).toBe(false);
    expect(stored.attempts).toBe(1);
  });

  it("starts a queued run whose promotion was missed when its slot freed", async () => {
    const user = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(user);
    const input = TrainingRun.StartInput.parse({ dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: TINY });
    const newRun = () =>
      createRun({
        tenantId: user.tenantId,
        runId: createId("tr"),
        datasetId,
        architecture: input.architecture,
        hyperparameters: input.hyperparameters,
        totalEpochs: input.hyperparameters!.epochs!,
      });
    // The free plan trains one run at a time: the second waits in the queue.
    const first = await newRun();
    const second = await newRun();
    expect([first.status, second.status]).toEqual(["running", "queued"]);
    // The first run ends, freeing its slot, but the promotion that should follow never happens.
    expect(await finish(first, { status: "failed", error: "test" })).toBe(true);

    const report = await handler(scheduledAt(new Date()));
    expect(report.queued_runs_started).toBeGreaterThanOrEqual(1);

    const final = await waitForRun(user, second.runId, isFinal);
    expect(final.status).toBe("completed");
  });

  it("leaves a running run alone while its worker holds a live lease, even with the schedule's clock far ahead", async () => {
    const user = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(user);
    const started = await startRun(user, datasetId, { ...TINY, epochs: 40 });
    expect(started.status).toBe(201);
    const runId: string = started.body.id;
    await waitFor(
      () => getRun(user.tenantId, runId),
      (run) => !!run?.leaseOwner && (run.leaseUntil ?? 0) > Date.now(),
    );

    await handler(scheduledAt(new Date()));
    await handler(scheduledAt(new Date(Date.now() + 60 * MINUTE)));

    const final = await waitForRun(user, runId, isFinal, 90_000);
    expect(final.status).toBe("completed");
    const stored = (await getRun(user.tenantId, runId))!;
    expect(stored.requeuedAt).toBeUndefined();
    expect(stored.requeues).toBeUndefined();
    expect(stored.attempts).toBe(1);
  });
});
