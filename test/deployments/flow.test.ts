import { beforeAll, describe, expect, it } from "vitest";
import { givenTier } from "../billing/support";
import { createUser, type TestUser } from "../support/users";
import { call } from "../support/http";
import { registerTarget, SimulatedDevice, sha256, storeModel, tinyModel, waitForStatus } from "./helpers";

let alice: TestUser;
let bob: TestUser;
let aliceModel: string;
let aliceSecondModel: string;
let bobModel: string;
let aliceTarget: { id: string; credential: string };
let bobTarget: { id: string; credential: string };
/** Alice's first deployment, installed on her armv7 controller. */
let installed: any;

beforeAll(async () => {
  [alice, bob] = await Promise.all([createUser(), createUser()]);
  await givenTier(alice.tenantId, "pro");
  const [lstm, gru] = await Promise.all([tinyModel("lstm_autoencoder"), tinyModel("gru_predictor")]);
  [aliceModel, aliceSecondModel, bobModel] = await Promise.all([
    storeModel(alice.tenantId, lstm, "lstm_autoencoder"),
    storeModel(alice.tenantId, gru, "gru_predictor"),
    storeModel(bob.tenantId, gru, "gru_predictor"),
  ]);
  [aliceTarget, bobTarget] = await Promise.all([registerTarget(alice), registerTarget(bob, "aarch64-unknown-linux-gnu", "Bob boiler")]);
});

describe("deploying to an edge controller over HTTP", () => {
  it("registers a target with a one-time device credential and lists it offline until it heartbeats", async () => {
    const list = await call("GET", "/deployments/targets", { token: alice.token });
    expect(list.status).toBe(200);
    const target = list.body.find((t: { id: string }) => t.id === aliceTarget.id);
    expect(target).toMatchObject({ name: "Warren AHU-1", ip: "100.124.76.93", arch: "armv7", status: "offline", current_model: null, last_seen: null });
    expect(target).not.toHaveProperty("credential");
    expect(aliceTarget.credential).toMatch(/^fdc\./);
  });

  it("compiles, verifies and packages a model, and the device installs it (deployed)", async () => {
    const created = await call("POST", "/deployments", { token: alice.token, body: { model_id: aliceModel, target_id: aliceTarget.id } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: "compiling", model_id: aliceModel, target_ip: "100.124.76.93", target_name: "Warren AHU-1", target_arch: "armv7" });

    const ready = await waitForStatus(alice, created.body.id, ["transferring", "failed"]);
    expect(ready.reason).toBeNull();
    expect(ready.status).toBe("transferring");
    expect(ready.binary_size_bytes).toBeGreaterThan(1000);
    expect(ready.verification.windows_checked).toBeGreaterThan(0);
    expect(ready.verification.max_abs_error).toBeLessThan(1e-3);
    expect(ready.toolchain).toContain("arm-linux-gnueabihf-gcc");

    const device = new SimulatedDevice(aliceTarget.credential, "armv7");
    const beat = await device.heartbeat();
    expect(beat.status).toBe(200);
    expect(beat.body.status).toBe("online");

    const assignment = await device.assignment();
    expect(assignment.status).toBe(200);
    expect(assignment.body).toMatchObject({ deployment_id: ready.id, model_id: aliceModel, arch: "armv7", sha256: ready.sha256 });

    const install = await device.install(assignment.body);
    expect(install.archiveSha256).toBe(ready.sha256);
    expect(install.binarySha256).toBe(ready.binary_sha256);
    expect(install.mode).toBe(0o755);
    expect(install.manifest).toMatchObject({ model_id: aliceModel, target_arch: "armv7", precision: "float32" });
    expect(install.manifest.files[0].sha256).toBe(install.binarySha256);
    expect(install.selftest.code).toBe(0);
    expect(install.selftest.stdout).toContain("selftest ok");

    const confirmed = await device.confirm(ready.id, { status: "installed" });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.deployment).toMatchObject({ status: "deployed", deployed_by: alice.username });
    expect(confirmed.body.deployment.deployed_at).toEqual(expect.any(String));
    expect(confirmed.body.target).toMatchObject({ current_model: aliceModel, current_deployment_id: ready.id, status: "online" });
    expect((await device.assignment()).status).toBe(204);

    const download = await call("GET", `/deployments/${ready.id}/binary`, { token: alice.token });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/octet-stream");
    expect(sha256(download.bytes)).toBe(ready.sha256);
    installed = confirmed.body.deployment;
  });

  it("keeps the previous model when an install fails on the device (rollback)", async () => {
    expect(installed?.status).toBe("deployed");
    const created = await call("POST", "/deployments", { token: alice.token, body: { model_id: aliceSecondModel, target_ip: "100.124.76.93", target_name: "Warren AHU-1" } });
    expect(created.status).toBe(201);
    await waitForStatus(alice, created.body.id, ["transferring"]);
    const device = new SimulatedDevice(aliceTarget.credential, "armv7");
    const assignment = await device.assignment();
    expect(assignment.body.deployment_id).toBe(created.body.id);

    const failed = await device.confirm(created.body.id, { status: "failed", reason: "selftest exit 1" });
    expect(failed.status).toBe(200);
    expect(failed.body.deployment.status).toBe("failed");
    expect(failed.body.deployment.reason).toContain("selftest exit 1");
    expect(failed.body.target.current_model).toBe(aliceModel);

    const targets = await call("GET", "/deployments/targets", { token: alice.token });
    expect(targets.body.find((t: { id: string }) => t.id === aliceTarget.id)).toMatchObject({ current_model: aliceModel, current_deployment_id: installed.id });
    const again = await device.confirm(created.body.id, { status: "installed" });
    expect(again.status).toBe(409);
  });

  it("deploys int8 weights for aarch64", async () => {
    const created = await call("POST", "/deployments", { token: bob.token, body: { model_id: bobModel, target_id: bobTarget.id, precision: "int8" } });
    expect(created.status).toBe(201);
    const ready = await waitForStatus(bob, created.body.id, ["transferring", "failed"]);
    expect(ready).toMatchObject({ status: "transferring", precision: "int8", target_arch: "aarch64", reason: null });
    expect(ready.verification.int8_onnx_max_abs_deviation).toEqual(expect.any(Number));
  });

  it("fails a deployment whose model cannot be compiled, with a reason", async () => {
    const broken = await storeModel(alice.tenantId, await tinyModel("gru_predictor"), "gru_predictor", new TextEncoder().encode("not onnx"));
    const created = await call("POST", "/deployments", { token: alice.token, body: { model_id: broken, target_id: aliceTarget.id } });
    expect(created.status).toBe(201);
    const failed = await waitForStatus(alice, created.body.id, ["failed", "transferring"]);
    expect(failed.status).toBe("failed");
    expect(failed.reason).toMatch(/unsupported model/);
  });

  it("lists the tenant's deployments newest first", async () => {
    const list = await call("GET", "/deployments", { token: alice.token });
    expect(list.status).toBe(200);
    expect(list.body.length).toBeGreaterThanOrEqual(2);
    const ids = list.body.map((d: { id: string }) => d.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    expect(list.body.every((d: { model_id: string }) => d.model_id !== bobModel)).toBe(true);
  });
});

describe("tenancy", () => {
  it("answers 404 for another tenant's deployment, package and target", async () => {
    const bobs = await call("GET", "/deployments", { token: bob.token });
    const bobDeployment = bobs.body[0].id as string;
    expect((await call("GET", `/deployments/${bobDeployment}`, { token: alice.token })).status).toBe(404);
    expect((await call("GET", `/deployments/${bobDeployment}/binary`, { token: alice.token })).status).toBe(404);
    const viaTarget = await call("POST", "/deployments", { token: alice.token, body: { model_id: aliceModel, target_id: bobTarget.id } });
    expect(viaTarget.status).toBe(404);
    expect(viaTarget.body.code).toBe("target.not_found");
    const viaModel = await call("POST", "/deployments", { token: alice.token, body: { model_id: bobModel, target_id: aliceTarget.id } });
    expect(viaModel.status).toBe(404);
    expect(viaModel.body.code).toBe("model.not_found");
  });

  it("never shows a device another tenant's deployment", async () => {
    const bobs = await call("GET", "/deployments", { token: bob.token });
    const bobDeployment = bobs.body[0].id as string;
    const confirm = await call("POST", `/devices/deployments/${bobDeployment}/confirm`, { device: aliceTarget.credential, body: { status: "installed" } });
    expect(confirm.status).toBe(404);
    const assignment = await call("GET", "/devices/assignment", { device: aliceTarget.credential });
    expect(assignment.status).toBe(204);
    const bobDevice = await call("GET", "/devices/assignment", { device: bobTarget.credential });
    expect(bobDevice.status).toBe(200);
    expect(bobDevice.body.deployment_id).toBe(bobDeployment);
  });
});

describe("access and bad input", () => {
  it("rejects a wrong or malformed device credential with 401", async () => {
    const [prefix, id] = aliceTarget.credential.split(".");
    for (const credential of [`${prefix}.${id}.wrong-secret`, "garbage", `${prefix}.unknown.secret`]) {
      const reply = await call("GET", "/devices/assignment", { device: credential });
      expect(reply.status).toBe(401);
    }
  });

  it("replaces a device credential, after which the old one answers 401", async () => {
    const target = await registerTarget(alice, "x86_64", "Rotated");
    const rotated = await call("POST", `/deployments/targets/${target.id}/credential`, { token: alice.token });
    expect(rotated.status).toBe(200);
    expect(rotated.body.credential).not.toBe(target.credential);
    expect((await call("POST", "/devices/heartbeat", { device: target.credential, body: {} })).status).toBe(401);
    expect((await call("POST", "/devices/heartbeat", { device: rotated.body.credential, body: {} })).status).toBe(200);
    expect((await call("POST", `/deployments/targets/${target.id}/credential`, { token: bob.token })).status).toBe(404);
  });

  it("keeps the device routes for devices", async () => {
    const reply = await call("GET", "/devices/assignment", { token: alice.token });
    expect(reply.status).toBe(401);
    expect(reply.body.code).toBe("auth.device_required");
  });

  it("lets viewers read but not register targets or deploy", async () => {
    const viewer = await createUser({ tenantId: alice.tenantId, role: "viewer" });
    expect((await call("GET", "/deployments", { token: viewer.token })).status).toBe(200);
    expect((await call("POST", "/deployments/targets", { token: viewer.token, body: { name: "x", arch: "armv7" } })).status).toBe(403);
    expect((await call("POST", "/deployments", { token: viewer.token, body: { model_id: aliceModel, target_id: aliceTarget.id } })).status).toBe(403);
  });

  it.each([
    ["an unknown architecture", "/deployments/targets", { name: "x", arch: "mips" }],
    ["a target without a name", "/deployments/targets", { arch: "armv7" }],
    ["a malformed ip", "/deployments/targets", { name: "x", arch: "armv7", ip: "999.1.1.1" }],
    ["a deployment without a model", "/deployments", { target_id: "tgt_x" }],
    ["a deployment without a target", "/deployments", { model_id: "mdl_x" }],
    ["an unknown precision", "/deployments", { model_id: "mdl_x", target_id: "tgt_x", precision: "fp16" }],
  ])("answers 400 for %s", async (_name, path, body) => {
    const reply = await call("POST", path, { token: alice.token, body });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "request.invalid", error: expect.any(String) });
  });

  it("answers 400 for a model too large for an edge controller", async () => {
    const huge = await storeModel(alice.tenantId, await tinyModel("gru_predictor"), "gru_predictor", undefined, 3_000_000);
    const reply = await call("POST", "/deployments", { token: alice.token, body: { model_id: huge, target_id: aliceTarget.id } });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("deployment.model_too_large");
  });

  it("answers 400 for a confirmation with an unknown status", async () => {
    const reply = await call("POST", `/devices/deployments/${installed.id}/confirm`, { device: aliceTarget.credential, body: { status: "maybe" } });
    expect(reply.status).toBe(400);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const reply = await call("POST", "/deployments", { token: alice.token, rawBody: "{not json" });
    expect(reply.status).toBe(400);
  });

  it("enforces the plan's deployment limit per target on the Free plan", async () => {
    const carol = await createUser();
    const model = await storeModel(carol.tenantId, await tinyModel("gru_predictor"), "gru_predictor");
    const first = await registerTarget(carol, "x86_64");
    const second = await registerTarget(carol, "x86_64", "Second");
    expect((await call("POST", "/deployments", { token: carol.token, body: { model_id: model, target_id: first.id } })).status).toBe(201);
    expect((await call("POST", "/deployments", { token: carol.token, body: { model_id: model, target_id: first.id } })).status).toBe(201);
    const over = await call("POST", "/deployments", { token: carol.token, body: { model_id: model, target_id: second.id } });
    expect(over.status).toBe(403);
    expect(over.body.code).toBe("plan.deployment_limit_reached");
  });
});
