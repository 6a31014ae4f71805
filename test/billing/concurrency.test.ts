/**
 * Plan limits hold exactly under concurrency: 20 creates fired at once at a
 * tenant whose limit is 3 (set through the superadmin's per-tenant limits)
 * give exactly 3 successes, over real HTTP against the local runtime.
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import { Auth } from "../../core/auth";
import { DatasetEntity } from "../../core/dataset";
import { createId } from "../../core/id";
import { Synthetic } from "../../core/synthetic";
import { uploadMultipart, waitForIngest } from "../datasets/helpers";
import { registerTarget, SimulatedDevice, storeModel, tinyModel, waitForStatus } from "../deployments/helpers";
import { call } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { isFinal, startRun, validatedDataset, waitForRun } from "../training/helpers";

const CONCURRENT = 20;
const LIMIT = 3;

let superadmin: TestUser;

beforeAll(async () => {
  const login = await Auth.login(inject("admin"));
  if (login.mfaRequired) throw new Error("the seeded superadmin has no MFA");
  superadmin = { token: login.token } as TestUser;
});

async function givenLimits(user: TestUser, limits: Record<string, number | null>): Promise<void> {
  const reply = await call("PUT", "/billing/limits", { token: superadmin.token, body: { tenant_id: user.tenantId, limits } });
  expect(reply.status).toBe(200);
}

/** Fires every request at once and sorts the answers by status. */
async function burst(requests: (() => Promise<{ status: number; body: any }>)[]) {
  const replies = await Promise.all(requests.map((send) => send()));
  return {
    created: replies.filter((reply) => reply.status === 201),
    refused: replies.filter((reply) => reply.status === 403),
    other: replies.filter((reply) => reply.status !== 201 && reply.status !== 403),
  };
}

const csv = (seed: number) => Synthetic.csvString({ equipment: "air_handler", rows: 60, faults: false, seed });

const multipart = (user: TestUser, seed: number) => uploadMultipart(user, csv(seed), { name: `burst ${seed}` });

const presigned = (user: TestUser, seed: number) =>
  call("POST", "/datasets/uploads", { token: user.token, body: { name: `burst ${seed}`, equipment_type: "air_handler", file_size_bytes: 4096 } });

describe("plan limits under concurrency", () => {
  it("lets a superadmin set a tenant's own limits, and nobody else", async () => {
    const user = await createUser();

    const refused = await call("PUT", "/billing/limits", { token: user.token, body: { tenant_id: user.tenantId, limits: { max_datasets: 1000 } } });
    const set = await call("PUT", "/billing/limits", { token: superadmin.token, body: { tenant_id: user.tenantId, limits: { max_datasets: 7, max_models: 4 } } });
    const cleared = await call("PUT", "/billing/limits", { token: superadmin.token, body: { tenant_id: user.tenantId, limits: { max_models: null } } });
    const usage = await call("GET", "/billing/usage", { token: user.token });

    expect(refused.status).toBe(403);
    expect(set.body).toMatchObject({ tier: "free", limits: { max_datasets: 7, max_models: 4 }, overrides: { max_datasets: 7, max_models: 4 } });
    expect(cleared.body.overrides).toEqual({ max_datasets: 7 });
    expect(usage.body).toMatchObject({ tier: "free", max_datasets: 7, max_models: 2 });
  });

  it("creates exactly 3 of 20 concurrent dataset uploads (multipart and presigned) and one more after a delete", async () => {
    const user = await createUser();
    await givenLimits(user, { max_datasets: LIMIT });

    const first = await burst(Array.from({ length: CONCURRENT }, (_, i) => () => (i % 2 ? multipart(user, i) : presigned(user, i))));

    expect(first.other).toEqual([]);
    expect(first.created).toHaveLength(LIMIT);
    expect(first.refused).toHaveLength(CONCURRENT - LIMIT);
    for (const reply of first.refused) {
      expect(reply.body).toMatchObject({ code: "plan.dataset_limit_reached", details: { limit: LIMIT, used: LIMIT } });
    }
    const listed = await call("GET", "/datasets", { token: user.token });
    expect(listed.body).toHaveLength(LIMIT);

    expect((await call("DELETE", `/datasets/${listed.body[0].id}`, { token: user.token })).status).toBe(204);
    const second = await burst(Array.from({ length: CONCURRENT }, (_, i) => () => (i % 2 ? multipart(user, 100 + i) : presigned(user, 100 + i))));

    expect(second.created).toHaveLength(1);
    expect(second.refused).toHaveLength(CONCURRENT - 1);
    expect((await call("GET", "/datasets", { token: user.token })).body).toHaveLength(LIMIT);
  });

  it("gives the slot of a multipart upload whose file is refused back", async () => {
    const user = await createUser();
    await givenLimits(user, { max_datasets: 1 });

    const bad = await uploadMultipart(user, "t,temp,temp\n1,2,3\n");
    const good = await multipart(user, 1);

    expect(bad.status).toBe(400);
    expect(good.status).toBe(201);
  });

  it("gives an expired presigned upload's slot to a new dataset, and fails its file if it arrives over the limit", async () => {
    const user = await createUser();
    await givenLimits(user, { max_datasets: 1 });
    const bytes = new TextEncoder().encode(csv(1));
    const expired = await call("POST", "/datasets/uploads", { token: user.token, body: { name: "never sent", equipment_type: "air_handler", file_size_bytes: bytes.byteLength } });
    // The upload URL's 15 minutes are over.
    await DatasetEntity.patch({ tenantId: user.tenantId, datasetId: expired.body.dataset_id })
      .set({ uploadExpiresAt: new Date(Date.now() - 60_000).toISOString() })
      .go();

    const fresh = await presigned(user, 2);
    const late = await call("PUT", expired.body.upload_url, { rawBody: bytes });
    const failed = await waitForIngest(user, expired.body.dataset_id);

    expect(fresh.status).toBe(201);
    expect(late.status).toBe(200);
    expect(failed).toMatchObject({ status: "failed", failure: { code: "plan.dataset_limit_reached" } });
    expect((await presigned(user, 3)).status).toBe(403);
  });

  it("counts the datasets of a tenant that predates its counter when concurrent uploads create it", async () => {
    const user = await createUser();
    await givenLimits(user, { max_datasets: LIMIT });
    for (const seed of [1, 2]) {
      await DatasetEntity.create({
        tenantId: user.tenantId,
        datasetId: createId("ds"),
        name: `older ${seed}`,
        equipmentType: "air_handler",
        uploadMethod: "multipart",
        status: "ready",
        sourceKey: `uploads/${user.tenantId}/older-${seed}/source.csv`,
        createdBy: user.username,
      }).go();
    }

    const datasets = await burst(Array.from({ length: CONCURRENT }, (_, i) => () => presigned(user, i)));

    expect(datasets.created).toHaveLength(1);
    expect(datasets.refused).toHaveLength(CONCURRENT - 1);
    expect((await call("GET", "/datasets", { token: user.token })).body).toHaveLength(LIMIT);
  });

  it("counts the models of a tenant that predates its counter when concurrent training starts create it", async () => {
    const user = await createUser();
    await givenLimits(user, { max_models: LIMIT });
    const trained = await tinyModel("gru_predictor");
    await Promise.all([storeModel(user.tenantId, trained, "gru_predictor"), storeModel(user.tenantId, trained, "gru_predictor")]);
    const datasetId = await validatedDataset(user, { rows: 1_000 });

    const runs = await burst(Array.from({ length: CONCURRENT }, () => () => startRun(user, datasetId)));

    expect(runs.created).toHaveLength(1);
    expect(runs.refused).toHaveLength(CONCURRENT - 1);
    expect(runs.refused[0]?.body).toMatchObject({ code: "plan.model_limit_reached", details: { limit: LIMIT, used: LIMIT } });
    await call("POST", `/training/${runs.created[0]!.body.id}/stop`, { token: user.token });
    await waitForRun(user, runs.created[0]!.body.id, isFinal);
  });

  it("reserves exactly 3 models for 20 concurrent training starts, and one more after a model is deleted", async () => {
    const user = await createUser();
    await givenLimits(user, { max_models: LIMIT, max_concurrent_trainings: LIMIT });
    const datasetId = await validatedDataset(user, { rows: 1_000 });

    const first = await burst(Array.from({ length: CONCURRENT }, () => () => startRun(user, datasetId)));

    expect(first.other).toEqual([]);
    expect(first.created).toHaveLength(LIMIT);
    for (const reply of first.refused) {
      expect(reply.body).toMatchObject({ code: "plan.model_limit_reached", details: { limit: LIMIT, used: LIMIT } });
    }
    const runs = await Promise.all(first.created.map((reply) => waitForRun(user, reply.body.id, isFinal)));
    expect(runs.map((run) => run.status)).toEqual(["completed", "completed", "completed"]);
    const models = await call("GET", "/models", { token: user.token });
    expect(models.body).toHaveLength(LIMIT);

    const modelId = runs[0].model_id as string;
    expect((await call("DELETE", `/models/${modelId}`, { token: user.token })).status).toBe(204);
    const second = await burst(Array.from({ length: CONCURRENT }, () => () => startRun(user, datasetId)));

    expect(second.created).toHaveLength(1);
    expect(second.refused).toHaveLength(CONCURRENT - 1);
    await waitForRun(user, second.created[0]!.body.id, isFinal);
  });

  it("queues concurrent training starts beyond the concurrent-training limit and never runs more than 3 at once", async () => {
    const user = await createUser();
    await givenLimits(user, { max_models: CONCURRENT, max_concurrent_trainings: LIMIT });
    const datasetId = await validatedDataset(user, { rows: 1_000 });

    const started = await burst(Array.from({ length: CONCURRENT }, () => () => startRun(user, datasetId)));

    expect(started.created).toHaveLength(CONCURRENT);
    expect(started.created.filter((reply) => reply.body.status === "running").length).toBeLessThanOrEqual(LIMIT);
    let mostRunning = 0;
    let completed = 0;
    let stopping = false;
    for (const deadline = Date.now() + 120_000; ; ) {
      const runs: { id: string; status: string }[] = (await call("GET", "/training?limit=50", { token: user.token })).body;
      const running = runs.filter((run) => run.status === "running" || run.status === "stopping").length;
      mostRunning = Math.max(mostRunning, running);
      completed = runs.filter((run) => run.status === "completed").length;
      expect(running).toBeLessThanOrEqual(LIMIT);
      if (runs.length === CONCURRENT && runs.every(isFinal)) break;
      if (Date.now() > deadline) throw new Error(`runs still unfinished: ${runs.map((run) => run.status).join(", ")}`);
      if (completed >= LIMIT && !stopping) {
        // Queued runs have been promoted into the freed slots: stop the rest, concurrently too.
        stopping = true;
        await Promise.all(runs.filter((run) => !isFinal(run)).map((run) => call("POST", `/training/${run.id}/stop`, { token: user.token })));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(mostRunning).toBe(LIMIT);
    expect(completed).toBeGreaterThanOrEqual(LIMIT);
  }, 180_000); // room for the loop's own 120 s deadline: twenty runs, three at a time

  it("deploys to exactly 3 of 20 targets at once, redeploys to one in use, and to one more after a deployment fails", async () => {
    const user = await createUser();
    await givenLimits(user, { max_deployments: LIMIT });
    const modelId = await storeModel(user.tenantId, await tinyModel("gru_predictor"), "gru_predictor");
    const targets = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => registerTarget(user, undefined, `AHU-${i}`)));

    const first = await burst(targets.map((target) => () => call("POST", "/deployments", { token: user.token, body: { model_id: modelId, target_id: target.id } })));

    expect(first.other).toEqual([]);
    expect(first.created).toHaveLength(LIMIT);
    for (const reply of first.refused) {
      expect(reply.body).toMatchObject({ code: "plan.deployment_limit_reached", details: { limit: LIMIT, used: LIMIT } });
    }
    expect((await call("GET", "/deployments", { token: user.token })).body).toHaveLength(LIMIT);
    const [kept, freed] = first.created.map((reply) => reply.body);
    const redeploy = await call("POST", "/deployments", { token: user.token, body: { model_id: modelId, target_id: kept.target_id } });
    expect(redeploy.status).toBe(201);

    await waitForStatus(user, freed.id, ["transferring"]);
    const device = new SimulatedDevice(targets.find((target) => target.id === freed.target_id)!.credential, "armv7");
    expect((await device.confirm(freed.id, { status: "failed", reason: "selftest exit 1" })).status).toBe(200);
    const inUse = new Set(first.created.map((reply) => reply.body.target_id));
    const idle = targets.filter((target) => !inUse.has(target.id));
    const second = await burst(idle.map((target) => () => call("POST", "/deployments", { token: user.token, body: { model_id: modelId, target_id: target.id } })));

    expect(second.created).toHaveLength(1);
    expect(second.refused).toHaveLength(idle.length - 1);
  });
});

describe("token metering under concurrency", () => {
  it("records every one of 25 concurrent scorings of one tenant", async () => {
    const user = await createUser();
    const modelId = await storeModel(user.tenantId, await tinyModel("gru_predictor"), "gru_predictor");
    const rows = Array.from({ length: 20 }, (_, r) => [20 + Math.sin(r), 40 + Math.cos(r), 1 + r / 100]);
    const before = (await call("GET", "/billing/usage", { token: user.token })).body.tokens_used as number;
    const replies = await Promise.all(
      Array.from({ length: 25 }, () => call("POST", `/models/${modelId}/score`, { token: user.token, body: { rows } })),
    );
    expect(replies.map((reply) => reply.status)).toEqual(Array(25).fill(200));
    const after = (await call("GET", "/billing/usage", { token: user.token })).body.tokens_used as number;
    // 13 windows per scoring: 1 token each.
    expect(after - before).toBe(25);
  });
});
