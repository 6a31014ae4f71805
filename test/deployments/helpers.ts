/**
 * Helpers for the deployment tests: tiny trained models (trained once per
 * worker and architecture) and their edge builds, models stored for a tenant the way the training
 * worker stores them, targets and deployments over HTTP, and a simulated edge
 * controller speaking the device protocol.
 */
import { createHash } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { Codegen, type Arch, type Binary, type ModelSpec } from "../../core/codegen";
import { untarGz } from "../../core/deployment/package";
import { createId } from "../../core/id";
import { Hyperparameters, train, type ArchitectureT, type TrainResult } from "../../core/ml";
import { Model } from "../../core/model";
import { putObject } from "../../core/storage";
import { call } from "../support/http";
import { generate } from "../support/ml";
import type { TestUser } from "../support/users";

/** Small enough to train in about a second. */
export const TINY = { epochs: 2, sequence_length: 8, hidden_dim: 8, bottleneck_dim: 4, num_layers: 1, batch_size: 64 };

const trained = new Map<string, Promise<TrainResult>>();

/** A model trained on synthetic sensor data with TINY hyperparameters (cached per architecture). */
export function tinyModel(architecture: ArchitectureT, hp: Record<string, unknown> = TINY): Promise<TrainResult> {
  const key = `${architecture}:${JSON.stringify(hp)}`;
  let pending = trained.get(key);
  if (!pending) {
    const data = generate({ rows: 1200, sensors: 3, faults: 4, seed: 11 });
    pending = train({ architecture, hyperparameters: hp, data });
    trained.set(key, pending);
  }
  return pending;
}

/** Stores a trained model for `tenantId` (ONNX files in S3, the model record) and returns its id; `onnx` and `parameters` override the stored file and recorded size. */
export async function storeModel(tenantId: string, result: TrainResult, architecture: ArchitectureT, onnx?: Uint8Array, parameters?: number): Promise<string> {
  const modelId = createId("mdl");
  await Promise.all([
    putObject(Model.modelKey(tenantId, modelId), onnx ?? result.model, "application/octet-stream"),
    putObject(Model.modelKey(tenantId, modelId, true), result.quantizedModel, "application/octet-stream"),
  ]);
  const hp = Hyperparameters.parse(TINY);
  await Model.record({
    tenantId,
    modelId,
    name: `test ${architecture}`,
    architecture,
    datasetId: createId("ds"),
    trainingRunId: createId("run"),
    parameters: parameters ?? result.parameters,
    featureNames: JSON.parse(result.metadata.features ?? "[]") as string[],
    hiddenDim: hp.hidden_dim,
    bottleneckDim: hp.bottleneck_dim,
    numLayers: hp.num_layers,
    sequenceLength: hp.sequence_length,
    hyperparameters: hp,
    metrics: {},
    threshold: result.threshold,
    fileSizeBytes: result.model.length,
    quantized: true,
    quantizedSizeBytes: result.quantizedModel.length,
  });
  return modelId;
}

/** Registers a target over HTTP; returns its id and device credential. */
export async function registerTarget(user: TestUser, arch = "armv7-unknown-linux-musleabihf", name = "Warren AHU-1") {
  const reply = await call("POST", "/deployments/targets", { token: user.token, body: { name, arch, ip: "100.124.76.93", location: "Warren plant room", unit: "AHU-1" } });
  if (reply.status !== 201) throw new Error(`register target answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return { id: reply.body.id as string, credential: reply.body.credential as string };
}

/** Polls GET /deployments/:id until its status is one of `statuses` (bounded). */
export async function waitForStatus(user: TestUser, id: string, statuses: string[], timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await call("GET", `/deployments/${id}`, { token: user.token });
    if (status !== 200) throw new Error(`GET /deployments/${id} answered ${status}`);
    if (statuses.includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** ELF e_machine of each edge target. */
export const ELF_MACHINE: Record<Arch, number> = { armv7: 40, aarch64: 183, x86_64: 62 };
/** The e_machine field of an ELF binary. */
export const machineOf = (bytes: Uint8Array) => bytes[18]! | (bytes[19]! << 8);

/** A trained model as the deployment pipeline builds it: spec, the ONNX model it is checked against, the binary and its self-test windows. */
export interface EdgeBuild {
  spec: ModelSpec;
  onnx: Uint8Array;
  binary: Binary;
  reference: Codegen.Reference;
}

/**
 * Edge builds for one test file, in a scratch workspace made before its tests
 * and removed after them. `build` generates and compiles a trained model once
 * per key; `dir` is the workspace, for files a test writes itself.
 */
export function edgeBuilds(modelId: string) {
  let workspace: Awaited<ReturnType<typeof Codegen.workspace>> | undefined;
  beforeAll(async () => {
    workspace = await Codegen.workspace();
  });
  afterAll(async () => {
    await workspace?.done();
  });
  const dir = () => {
    if (!workspace) throw new Error("edgeBuilds: the workspace exists only while the file's tests run");
    return workspace.dir;
  };
  const builds = new Map<string, Promise<EdgeBuild>>();
  const build = (key: string, trained: () => Promise<TrainResult>, precision: "float32" | "int8", arch: Arch): Promise<EdgeBuild> => {
    let pending = builds.get(key);
    if (!pending) {
      pending = (async () => {
        const result = await trained();
        const bytes = precision === "int8" ? result.quantizedModel : result.model;
        const spec = Codegen.specFromOnnx(bytes, { modelId, version: "v1" });
        const onnx = Codegen.referenceModel(bytes, spec);
        const built = await Codegen.build({ spec, onnx, arch, dir: dir() });
        return { spec, onnx, binary: built.binary, reference: built.reference };
      })();
      builds.set(key, pending);
    }
    return pending;
  };
  return { dir, build };
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * An edge controller: heartbeats, pulls its assignment, checks the package
 * checksum and manifest, runs the binary's self-test (qemu-user for ARM) and
 * confirms the outcome.
 */
export class SimulatedDevice {
  constructor(readonly credential: string, readonly arch: Arch) {}

  heartbeat(body: Record<string, unknown> = {}) {
    return call("POST", "/devices/heartbeat", { device: this.credential, body });
  }

  assignment() {
    return call("GET", "/devices/assignment", { device: this.credential });
  }

  confirm(deploymentId: string, body: Record<string, unknown>) {
    return call("POST", `/devices/deployments/${deploymentId}/confirm`, { device: this.credential, body });
  }

  /** Downloads and unpacks the assigned package; returns what an installer checks. */
  async install(assignment: { download_url: string; sha256: string }) {
    const response = await call("GET", assignment.download_url);
    if (response.status !== 200) throw new Error(`download answered ${response.status}`);
    const archive = response.bytes;
    const files = untarGz(archive);
    const manifest = JSON.parse(new TextDecoder().decode(files.get("manifest.json")!.bytes));
    const binary = files.get("flint-model")!;
    const dir = await mkdtemp(path.join(os.tmpdir(), "flint-device-"));
    try {
      const file = path.join(dir, "flint-model");
      await writeFile(file, binary.bytes);
      await chmod(file, binary.mode);
      const selftest = await Codegen.run({ path: file, arch: this.arch }, ["--selftest"]);
      return { archiveSha256: sha256(archive), binarySha256: sha256(binary.bytes), mode: binary.mode, manifest, selftest };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
