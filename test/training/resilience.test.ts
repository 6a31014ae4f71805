/**
 * At-least-once delivery: duplicate messages, a worker killed mid-run, and a
 * message that keeps failing until it is dead-lettered.
 *
 * These tests drive the training handler themselves, so their runs use a
 * private training queue (with its own DLQ, same redrive policy as the real
 * one) that the runtime's consumers do not poll: this file points
 * FLINT_TRAINING_QUEUE_URL at it before anything reads the configuration.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
} from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { withActor, type Actor } from "../../core/actor";
import { sqs } from "../../core/aws";
import { DatasetEntity } from "../../core/dataset/entity";
import { ModelEntity } from "../../core/model";
import { deletePrefix } from "../../core/storage";
import { TrainingRun } from "../../core/training";
import { Webhook } from "../../core/webhook";
import { getRun } from "../../core/training/slots";
import { TrainingRunEntity } from "../../core/training/entities/run";
import { modelIdFor, TrainingWorker } from "../../core/training/worker";
import { Billing } from "../../core/billing";
import { Model } from "../../core/model";
import { pollQueue } from "../../functions/jobs/poller";
import { handler as trainHandler, recordHandler } from "../../functions/jobs/train";
import { handler as deadLetterHandler } from "../../functions/jobs/training-dead-letter";
import { createUser, type TestUser } from "../support/users";
import { call } from "../support/http";
import { recordOf } from "../support/sqs";
import { EventClient, TINY, validatedDataset } from "./helpers";

let queueUrl: string;
let dlqUrl: string;

async function privateQueues(): Promise<void> {
  const suffix = Math.random().toString(36).slice(2, 8);
  const dlq = await sqs().send(new CreateQueueCommand({ QueueName: `flint-training-test-dlq-${suffix}` }));
  const arn = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const queue = await sqs().send(
    new CreateQueueCommand({
      QueueName: `flint-training-test-${suffix}`,
      Attributes: { VisibilityTimeout: "60", RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 2 }) },
    }),
  );
  queueUrl = queue.QueueUrl!;
  dlqUrl = dlq.QueueUrl!;
  process.env.FLINT_TRAINING_QUEUE_URL = queueUrl;
}

const actorOf = (user: TestUser): Actor => ({
  type: "user",
  userId: user.userId,
  username: user.username,
  tenantId: user.tenantId,
  role: user.role,
  superadmin: false,
  sessionId: "test",
});

async function receive(): Promise<Message> {
  for (let i = 0; i < 20; i++) {
    const result = await sqs().send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }),
    );
    if (result.Messages?.[0]) return result.Messages[0];
  }
  throw new Error("no message on the private training queue");
}

const toRecord = (message: Message) => recordOf(message, "flint-training-test");

async function epochRecords(tenantId: string, runId: string): Promise<number[]> {
  return (await TrainingRun.epochs(tenantId, runId)).map((e) => e.epoch);
}

async function modelsOf(tenantId: string): Promise<number> {
  return (await ModelEntity.query.byTenant({ tenantId }).go({ pages: "all" })).data.length;
}

beforeAll(async () => {
  await privateQueues();
});

describe("duplicate delivery", () => {
  it("trains once and creates one model when the same message arrives twice at the same time", async () => {
    const user = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(user);
    const run = await withActor(actorOf(user), () => TrainingRun.start({ dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: TINY }));
    expect(run.status).toBe("running");
    const record = toRecord(await receive());

    const outcomes = await Promise.all([recordHandler(record), recordHandler({ ...record })]);
    expect(outcomes.sort()).toEqual(["completed", "duplicate"]);
    // A late redelivery after completion changes nothing either.
    expect(await recordHandler(record)).toBe("finished_already");

    const final = (await getRun(user.tenantId, run.id))!;
    expect(final).toMatchObject({ status: "completed", currentEpoch: 3, attempts: 1, slotHeld: false });
    expect(await epochRecords(user.tenantId, run.id)).toEqual([1, 2, 3]);
    expect(await modelsOf(user.tenantId)).toBe(1);
    expect((await call("GET", "/training/queue", { token: user.token })).body.active_trainings).toBe(0);
  });
});

describe("a worker killed mid-run", () => {
  it("is resumed from its last checkpoint by the redelivered message, counting the training time up to the checkpoint once", async () => {
    const user = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(user, { rows: 3_000 });
    const client = await EventClient.open(user);
    const epochs = 12;
    const run = await withActor(actorOf(user), () =>
      TrainingRun.start({ dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: { ...TINY, epochs, patience: 100 } }),
    );
    await client.subscribe(`run:${run.id}`);
    const first = await receive();

    const spawnedAt = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./fixtures/train-child.ts", import.meta.url))], {
      // One ONNX Runtime thread: the child shares the CPU with the runtime's own consumers.
      env: { ...process.env, FLINT_TEST_RECORD: JSON.stringify(toRecord(first)), FLINT_LOG_LEVEL: "ERROR", FLINT_ML_THREADS: "1" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 90_000;
    let before = (await getRun(user.tenantId, run.id))!;
    while ((before.checkpointEpoch ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error("the child never checkpointed");
      await new Promise((resolve) => setTimeout(resolve, 50));
      before = (await getRun(user.tenantId, run.id))!;
    }
    child.kill("SIGKILL");
    const killedAt = Date.now();
    expect(await exited).toBe("SIGKILL");
    before = (await getRun(user.tenantId, run.id))!;
    expect(before.status).toBe("running");
    expect(before.currentEpoch).toBeLessThan(epochs);
    const checkpointEpoch = before.checkpointEpoch!;

    // Redelivery: the message becomes visible again, and a new worker waits out the dead worker's lease.
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: first.ReceiptHandle!, VisibilityTimeout: 0 }));
    const again = await receive();
    expect(again.Attributes?.ApproximateReceiveCount).toBe("2");
    expect(await recordHandler(toRecord(again))).toBe("duplicate");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (before.leaseUntil ?? 0) - Date.now() + 100)));
    const resumedAt = Date.now();
    expect(await recordHandler(toRecord(again))).toBe("completed");
    const resumedSeconds = (Date.now() - resumedAt) / 1000;

    const after = client.events.filter((e) => e.at >= resumedAt && e.data.type === "epoch_update").map((e) => e.data.current_epoch);
    expect(after[0]).toBe(checkpointEpoch + 1);
    expect(after.at(-1)).toBe(epochs);
    const final = (await getRun(user.tenantId, run.id))!;
    expect(final).toMatchObject({ status: "completed", currentEpoch: epochs, slotHeld: false });
    expect(final.attempts).toBeGreaterThanOrEqual(2);
    expect(await epochRecords(user.tenantId, run.id)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    expect(await modelsOf(user.tenantId)).toBe(1);
    const model = (await call("GET", `/models/${final.modelId}`, { token: user.token })).body;
    expect(model.epochs_trained).toBe(epochs);

    // Training time: the killed attempt's up to its checkpoint, plus the resumed attempt's, each counted once.
    const killed = client.events.filter((e) => e.at < resumedAt && e.data.type === "epoch_update");
    const resumed = client.events.filter((e) => e.at >= resumedAt && e.data.type === "epoch_update");
    const atCheckpoint = killed.find((e) => e.data.current_epoch === checkpointEpoch)!.data.elapsed_seconds;
    const firstResumed = resumed[0]!;
    expect(firstResumed.data.elapsed_seconds).toBeGreaterThanOrEqual(atCheckpoint + firstResumed.data.epoch_seconds - 0.1);
    // The checkpoint was written just after its epoch's event (its callbacks' time is counted as well).
    expect(firstResumed.data.elapsed_seconds).toBeLessThanOrEqual(atCheckpoint + (firstResumed.at - resumedAt) / 1000 + 0.5);
    const resumedEpochSeconds = resumed.reduce((sum, e) => sum + e.data.epoch_seconds, 0);
    const reported = (await call("GET", `/training/${run.id}`, { token: user.token })).body.training_time_seconds;
    expect(reported).toBeGreaterThanOrEqual(atCheckpoint + resumedEpochSeconds - resumed.length * 0.05);
    expect(reported).toBeLessThanOrEqual((killedAt - spawnedAt) / 1000 + resumedSeconds + 0.5);
    const stored = (await call("GET", `/training/${run.id}/epochs`, { token: user.token })).body.map((e: any) => e.elapsed_seconds);
    expect(stored).toEqual([...stored].sort((a, b) => a - b));
    client.close();
  }, 150_000);
});

describe("a message that keeps failing", () => {
  it("ends in the dead-letter queue; the run fails with a readable reason, frees its slot and notifies the webhook", async () => {
    const user = await createUser({ role: "operator" });
    const admin = await createUser({ tenantId: user.tenantId, role: "admin" });
    const hooks: { body: string; signature: string }[] = [];
    const receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        hooks.push({ body, signature: String(request.headers["flint-signature"]) });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const hook = await withActor(actorOf(admin), () =>
      Webhook.create({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, events: ["training.failed"] }),
    );
    const datasetId = await validatedDataset(user);
    const client = await EventClient.open(user);
    await client.subscribe("tenant");
    const run = await withActor(actorOf(user), () => TrainingRun.start({ dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: TINY }));
    // The dataset's stored columns disappear: every attempt fails to load them.
    const dataset = (await DatasetEntity.get({ tenantId: user.tenantId, datasetId }).go()).data!;
    await deletePrefix(dataset.columnarPrefix!);

    const abort = new AbortController();
    const pollers = Promise.all([
      pollQueue({ queueUrl, handler: trainHandler, batchSize: 1, waitSeconds: 1, signal: abort.signal }),
      pollQueue({ queueUrl: dlqUrl, handler: deadLetterHandler, batchSize: 10, waitSeconds: 1, signal: abort.signal }),
    ]);
    try {
      const failed = await client.waitFor((e) => e.type === "training_failed" && e.run_id === run.id, 40_000);
      expect(failed.error).toMatch(/^Training failed after 2 attempts: /);
    } finally {
      abort.abort();
      await pollers;
    }
    const final = await call("GET", `/training/${run.id}`, { token: user.token });
    expect(final.body).toMatchObject({ status: "failed", model_id: null, error: expect.stringMatching(/after 2 attempts/) });
    expect(final.body.error).not.toMatch(/at .*\.ts:\d+/);
    expect((await call("GET", "/training/queue", { token: user.token })).body).toMatchObject({ active_trainings: 0, capacity_available: 1 });

    // The tenant's webhook hears about it, signed.
    const deadline = Date.now() + 15_000;
    while (hooks.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    receiver.close();
    expect(hooks).toHaveLength(1);
    expect(Webhook.verify(hook.secret, hooks[0]!.body, hooks[0]!.signature)).toBe(true);
    expect(JSON.parse(hooks[0]!.body)).toMatchObject({ type: "training.failed", data: { id: run.id, status: "failed", error: final.body.error } });
    client.close();
  }, 60_000);
});

describe("a run that dies after its model was stored", () => {
  it("fails with the model kept and still counted against the plan", async () => {
    const user = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(user, { rows: 1_000 });
    const run = await withActor(actorOf(user), () => TrainingRun.start({ dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: TINY }));
    expect(await Billing.readCounter(user.tenantId, "models")).toBe(1);
    // What storeModel leaves behind when the worker dies before it finishes the run.
    const modelId = modelIdFor(run.id);
    await Model.record({
      tenantId: user.tenantId,
      modelId,
      name: "stored before the crash",
      architecture: "lstm_autoencoder",
      datasetId,
      trainingRunId: run.id,
      parameters: 1,
      featureNames: ["a"],
      sequenceLength: 10,
      hyperparameters: {},
      metrics: {},
      threshold: 1,
      fileSizeBytes: 1,
      quantized: false,
    });
    await TrainingRunEntity.patch({ tenantId: user.tenantId, runId: run.id }).remove(["leaseOwner"]).set({ leaseUntil: 0 }).go();
    expect(await TrainingWorker.deadLetter({ kind: "train", run_id: run.id, tenant_id: user.tenantId }, 3)).toBe("failed");
    const final = await call("GET", `/training/${run.id}`, { token: user.token });
    expect(final.body).toMatchObject({ status: "failed", model_id: modelId });
    expect(await Billing.readCounter(user.tenantId, "models")).toBe(1);
  });
});

describe("the Fargate training worker", () => {
  it("trains a queued message with the same handler and exits cleanly on SIGTERM", async () => {
    const user = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(user);
    const run = await withActor(actorOf(user), () => TrainingRun.start({ dataset_id: datasetId, architecture: "lstm_autoencoder", hyperparameters: TINY }));
    // The worker gets a queue of its own: a long poll abandoned by an earlier test's stopped poller can still
    // take the next message on the shared private queue (as on SQS) and hide it for a visibility timeout.
    const own = await sqs().send(new CreateQueueCommand({ QueueName: `flint-training-fargate-${Math.random().toString(36).slice(2, 8)}` }));
    await sqs().send(new SendMessageCommand({ QueueUrl: own.QueueUrl, MessageBody: JSON.stringify({ kind: "train", run_id: run.id, tenant_id: user.tenantId }) }));
    const worker = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../../functions/jobs/train-worker.ts", import.meta.url))], {
      env: { ...process.env, FLINT_TRAINING_QUEUE_URL: own.QueueUrl!, FLINT_LOG_LEVEL: "INFO", FLINT_ML_THREADS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-3000));
    worker.stdout!.on("data", keep);
    worker.stderr!.on("data", keep);
    const exited = new Promise<number | null>((resolve) => worker.once("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      let current = (await getRun(user.tenantId, run.id))!;
      while (current.status !== "completed" && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        current = (await getRun(user.tenantId, run.id))!;
      }
      expect(current, `${current.status} at epoch ${current.currentEpoch}; worker output: ${output}`).toMatchObject({ status: "completed", currentEpoch: 3 });
      expect(await modelsOf(user.tenantId)).toBe(1);
    } finally {
      worker.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 90_000);
});
