import { beforeAll, describe, expect, it } from "vitest";
import { givenTier } from "../billing/support";
import { createUser, type TestUser } from "../support/users";
import { call } from "../support/http";
import { registerTarget, SimulatedDevice, storeModel, tinyModel, waitForStatus } from "./helpers";

let alice: TestUser;
let device: SimulatedDevice;
let targetId: string;
/** Installed first, then replaced by `current`: a model the device could roll back to. */
let previous: { modelId: string; version: string; deploymentId: string };
/** The target's current model after both installs. */
let current: { modelId: string; version: string; deploymentId: string };
let neverDeployed: string;
let bobModel: string;

/** Deploys a model to the target and confirms the install as the device. */
async function install(modelId: string) {
  const created = await call("POST", "/deployments", { token: alice.token, body: { model_id: modelId, target_id: targetId } });
  expect(created.status).toBe(201);
  const ready = await waitForStatus(alice, created.body.id, ["transferring", "failed"]);
  expect(ready.status).toBe("transferring");
  expect((await device.confirm(ready.id, { status: "installed" })).status).toBe(200);
  return { modelId, version: ready.model_version as string, deploymentId: ready.id as string };
}

/** The target's model as its tenant sees it. */
async function recordedModel() {
  const targets = await call("GET", "/deployments/targets", { token: alice.token });
  const target = targets.body.find((t: { id: string }) => t.id === targetId);
  return { current_model: target.current_model, current_model_version: target.current_model_version, current_deployment_id: target.current_deployment_id };
}

const recordedAs = (install: typeof current | null) => ({
  current_model: install?.modelId ?? null,
  current_model_version: install?.version ?? null,
  current_deployment_id: install?.deploymentId ?? null,
});

beforeAll(async () => {
  const bob = await createUser();
  alice = await createUser();
  await givenTier(alice.tenantId, "pro");
  const [lstm, gru] = await Promise.all([tinyModel("lstm_autoencoder"), tinyModel("gru_predictor")]);
  const [first, second, unused, bobs] = await Promise.all([
    storeModel(alice.tenantId, gru, "gru_predictor"),
    storeModel(alice.tenantId, lstm, "lstm_autoencoder"),
    storeModel(alice.tenantId, gru, "gru_predictor"),
    storeModel(bob.tenantId, gru, "gru_predictor"),
  ]);
  neverDeployed = unused;
  bobModel = bobs;
  const target = await registerTarget(alice, "x86_64", "Heartbeat rig");
  targetId = target.id;
  device = new SimulatedDevice(target.credential, "x86_64");
  previous = await install(first);
  current = await install(second);
});

describe("device heartbeats", () => {
  it("accepts the current model with its version", async () => {
    const beat = await device.heartbeat({ current_model: current.modelId, version: current.version });
    expect(beat.status).toBe(200);
    expect(beat.body).toMatchObject({ status: "online", ...recordedAs(current) });
  });

  it("keeps the recorded model when current_model is omitted", async () => {
    await device.heartbeat({ current_model: current.modelId });
    const beat = await device.heartbeat({});
    expect(beat.status).toBe(200);
    expect(beat.body).toMatchObject({ status: "online", ...recordedAs(current) });
    expect(Date.parse(beat.body.last_seen)).toBeGreaterThan(Date.now() - 60_000);
    expect(await recordedModel()).toEqual(recordedAs(current));
  });

  it("records a rollback to a model the target had installed before", async () => {
    const beat = await device.heartbeat({ current_model: previous.modelId, version: previous.version });
    expect(beat.status).toBe(200);
    expect(beat.body).toMatchObject(recordedAs(previous));
    expect(await recordedModel()).toEqual(recordedAs(previous));
    expect((await device.heartbeat({ current_model: current.modelId })).body).toMatchObject(recordedAs(current));
  });

  it("records null as no model installed, until the device reports one again", async () => {
    const none = await device.heartbeat({ current_model: null });
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject(recordedAs(null));
    expect((await device.heartbeat({})).body).toMatchObject(recordedAs(null));
    expect(await recordedModel()).toEqual(recordedAs(null));
    const back = await device.heartbeat({ current_model: current.modelId, version: current.version });
    expect(back.status).toBe(200);
    expect(await recordedModel()).toEqual(recordedAs(current));
  });

  it.each([
    ["the README's placeholder", () => ({ current_model: "mdl_…", version: "sha256:…" })],
    ["a made-up model id", () => ({ current_model: "mdl_does_not_exist" })],
    ["another tenant's model", () => ({ current_model: bobModel })],
    ["a model of the tenant never deployed to this target", () => ({ current_model: neverDeployed })],
  ])("answers 400 device.unknown_model for %s and keeps the recorded model", async (_name, body) => {
    await device.heartbeat({ current_model: current.modelId });
    const sent = body();
    const reply = await device.heartbeat(sent);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "device.unknown_model", error: expect.any(String) });
    expect(reply.body.details.current_model).toBe(sent.current_model);
    expect(reply.body.details.known_models).toEqual(
      expect.arrayContaining([
        { model_id: previous.modelId, version: previous.version },
        { model_id: current.modelId, version: current.version },
      ]),
    );
    expect(reply.body.details.known_models).toHaveLength(2);
    expect(await recordedModel()).toEqual(recordedAs(current));
  });

  it.each([
    ["the current model", () => current],
    ["a previous model", () => previous],
  ])("answers 400 device.version_mismatch for a wrong version of %s and keeps the recorded model", async (_name, install) => {
    await device.heartbeat({ current_model: current.modelId });
    const reported = install();
    const reply = await device.heartbeat({ current_model: reported.modelId, version: "sha256:000000000000" });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({
      code: "device.version_mismatch",
      error: expect.any(String),
      details: { current_model: reported.modelId, version: "sha256:000000000000", known_versions: [reported.version] },
    });
    expect(await recordedModel()).toEqual(recordedAs(current));
  });

  it.each([
    ["a version without current_model", { version: "sha256:000000000000" }],
    ["a version with current_model null", { current_model: null, version: "sha256:000000000000" }],
    ["an empty current_model", { current_model: "" }],
    ["a current_model that is not a string", { current_model: 42 }],
  ])("answers 400 request.invalid for %s and keeps the recorded model", async (_name, body) => {
    await device.heartbeat({ current_model: current.modelId });
    const reply = await device.heartbeat(body);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "request.invalid", error: expect.any(String), details: { issues: expect.any(Array) } });
    expect(await recordedModel()).toEqual(recordedAs(current));
  });
});
