/**
 * Edge binaries for gru_predictor trained with loss "bce" (metadata task
 * "classification"): the GRU reads all T rows and the score is the failure
 * probability σ(h_T · head.W + head.b). The compiled program must score like
 * ONNX Runtime (core/ml score) within Codegen.TOLERANCE, natively and under
 * qemu; an unsupported task or weight layout must fail with a coded "invalid"
 * error and fail a deployment with a reason.
 */
import { alarmsOf } from "../../core/ml";
import { beforeAll, describe, expect, it } from "vitest";
import { Codegen, type Arch, type ModelSpec } from "../../core/codegen";
import { DomainError } from "../../core/error";
import { decodeModel, decodeModelProto, encodeModel, score, type TrainResult } from "../../core/ml";
import { givenTier } from "../billing/support";
import { createUser, type TestUser } from "../support/users";
import { call } from "../support/http";
import { edgeBuilds, ELF_MACHINE, machineOf, registerTarget, storeModel, TINY, tinyModel, waitForStatus, type EdgeBuild } from "./helpers";

/** TINY hyperparameters with the supervised failure-probability head (tinyModel's data carries a 0/1 label column). */
const BCE = { ...TINY, loss: "bce" };
const classifier = (): Promise<TrainResult> => tinyModel("gru_predictor", BCE);

/** `bytes` with metadata entries replaced (`undefined` removes one). */
function withMetadata(bytes: Uint8Array, changes: Record<string, string | undefined>): Uint8Array {
  const model = decodeModelProto(bytes);
  const props = model.metadataProps.filter((p) => !(p.key in changes));
  for (const [key, value] of Object.entries(changes)) if (value !== undefined) props.push({ key, value });
  return encodeModel({ ...model, metadataProps: props });
}

/** Expects `fn` to throw a ModelFormatError that is an "invalid" DomainError with `code`; returns its message. */
function formatErrorOf(fn: () => unknown, code: string): string {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(Codegen.ModelFormatError);
  expect(caught).toBeInstanceOf(DomainError);
  expect((caught as DomainError).kind).toBe("invalid");
  expect((caught as DomainError).code).toBe(code);
  return (caught as Error).message;
}

const builds = edgeBuilds("mdl_bce");

/** Trains the classifier (once), generates and compiles it (once per precision and target). */
function compiledFor(precision: "float32" | "int8", arch: Arch): Promise<EdgeBuild> {
  return builds.build(`${precision}/${arch}`, classifier, precision, arch);
}

describe("gru_predictor failure-probability models (task classification)", () => {
  it("reads the exported classifier: task classification, head.W [H, 1]", async () => {
    const result = await classifier();
    const { metadata, initializers } = decodeModel(result.model);
    expect(metadata.task).toBe("classification");
    expect(initializers.get("head.W")?.dims).toEqual([TINY.hidden_dim, 1]);
    expect(initializers.get("head.b")?.dims).toEqual([1]);
    const spec = Codegen.specFromOnnx(result.model, { modelId: "m", version: "v" });
    expect(spec).toMatchObject({ architecture: "gru_predictor", task: "classification", precision: "float32", sequenceLength: TINY.sequence_length });
    expect(spec.threshold).toBe(Number(metadata.threshold));
  });

  const cases: ["float32" | "int8", Arch][] = [
    ["float32", "x86_64"],
    ["float32", "armv7"],
    ["int8", "aarch64"],
  ];

  it.each(cases)("(%s) on %s scores like ONNX Runtime within the tolerance", async (precision, arch) => {
    const { spec, onnx, binary } = await compiledFor(precision, arch);
    expect(machineOf(binary.bytes)).toBe(ELF_MACHINE[arch]);
    expect(spec.precision).toBe(precision);

    const verification = await Codegen.verify({ binary, spec, onnx, windows: 24, seed: 5 });
    expect(verification.windows_checked).toBe(24);
    expect(verification.selftest).toMatch(/^selftest ok windows=8 /);

    // The same comparison spelled out against core/ml's score(): every window, both tolerances.
    const rows = Codegen.referenceRows(spec, 24, 17);
    const columns = spec.features.map((_, f) => Float32Array.from(rows, (row) => row[f]!));
    const expected = Array.from((await score(onnx, columns)).scores);
    const result = await Codegen.run(binary, [], Codegen.toCsv(spec.features, rows));
    expect(result.code).toBe(0);
    const got = Codegen.parseScores(result.stdout);
    expect(got).toHaveLength(expected.length);
    const alarms = alarmsOf(Float32Array.from(got, (line) => line.score), Math.fround(spec.threshold), spec.postprocess).alarms;
    for (let i = 0; i < expected.length; i++) {
      const { score: have, flag } = got[i]!;
      expect(have).toBeGreaterThanOrEqual(0);
      expect(have).toBeLessThanOrEqual(1);
      expect(Math.abs(have - expected[i]!)).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(expected[i]!));
      expect(flag).toBe(alarms[i]);
    }
  });

  it("scores the last row too: changing only the newest row changes the failure probability", async () => {
    const { spec, binary } = await compiledFor("float32", "x86_64");
    const rows = Codegen.referenceRows(spec, 1, 23);
    const changed = rows.map((row, t) => (t === rows.length - 1 ? row.map((v, f) => Math.fround(v + 3 * spec.std[f]!)) : row));
    const [a, b] = await Promise.all([Codegen.run(binary, [], Codegen.toCsv(spec.features, rows)), Codegen.run(binary, [], Codegen.toCsv(spec.features, changed))]);
    const [sa, sb] = [Codegen.parseScores(a.stdout)[0]!.score, Codegen.parseScores(b.stdout)[0]!.score];
    expect(sa).not.toBe(sb);
  });

  it("prints the task with --info", async () => {
    const { binary } = await compiledFor("float32", "x86_64");
    const info = await Codegen.run(binary, ["--info"]);
    expect(info.stdout).toContain("architecture gru_predictor");
    expect(info.stdout).toContain("task classification");
  });

  it("infers the classifier from loss bce in an export without a task key", async () => {
    const bytes = withMetadata((await classifier()).model, { task: undefined });
    expect(Codegen.specFromOnnx(bytes, { modelId: "m", version: "v" }).task).toBe("classification");
  });
});

describe("unsupported tasks and layouts", () => {
  it("rejects an unknown task with codegen.unsupported_task", async () => {
    const bytes = withMetadata((await classifier()).model, { task: "regression" });
    const message = formatErrorOf(() => Codegen.specFromOnnx(bytes, { modelId: "m", version: "v" }), "codegen.unsupported_task");
    expect(message).toContain('unsupported task "regression" for gru_predictor');
  });

  it("rejects a task the architecture does not have", async () => {
    const bytes = withMetadata((await tinyModel("lstm_autoencoder")).model, { task: "classification" });
    formatErrorOf(() => Codegen.specFromOnnx(bytes, { modelId: "m", version: "v" }), "codegen.unsupported_task");
  });

  it("rejects a task that contradicts the loss the model was trained with", async () => {
    const bytes = withMetadata((await classifier()).model, { task: "forecast" });
    const message = formatErrorOf(() => Codegen.specFromOnnx(bytes, { modelId: "m", version: "v" }), "codegen.unsupported_task");
    expect(message).toContain("loss bce");
  });

  it("rejects a head in the wrong layout with codegen.weight_layout", async () => {
    // a classifier's [H, 1] head presented as a forecaster (no loss recorded to contradict it)
    const result = await classifier();
    const hp = JSON.parse(decodeModel(result.model).metadata.hyperparameters!) as Record<string, unknown>;
    delete hp.loss;
    const bytes = withMetadata(result.model, { task: "forecast", hyperparameters: JSON.stringify(hp) });
    const message = formatErrorOf(() => Codegen.specFromOnnx(bytes, { modelId: "m", version: "v" }), "codegen.weight_layout");
    expect(message).toContain(`weight head.W has shape [${TINY.hidden_dim},1], expected [${TINY.hidden_dim},3]`);
  });

  it("refuses to generate C for a spec with an unknown task instead of emitting a wrong program", async () => {
    const { spec } = await compiledFor("float32", "x86_64");
    const rows = Codegen.referenceRows(spec, 1, 3);
    const bogus = { ...spec, task: "ranking" } as unknown as ModelSpec;
    formatErrorOf(() => Codegen.generateC(bogus, { reference: { rows, scores: [0.5] } }), "codegen.unsupported_task");
  });
});

describe("deploying a failure-probability model over HTTP", () => {
  let user: TestUser;
  let target: { id: string; credential: string };
  beforeAll(async () => {
    user = await createUser();
    await givenTier(user.tenantId, "pro");
    target = await registerTarget(user, "x86_64-unknown-linux-gnu", "Classifier test rig");
  });

  it("compiles, verifies against ONNX Runtime and packages it", async () => {
    const modelId = await storeModel(user.tenantId, await classifier(), "gru_predictor");
    const created = await call("POST", "/deployments", { token: user.token, body: { model_id: modelId, target_id: target.id } });
    expect(created.status).toBe(201);
    const ready = await waitForStatus(user, created.body.id, ["transferring", "failed"]);
    expect(ready.reason).toBeNull();
    expect(ready).toMatchObject({ status: "transferring", target_arch: "x86_64" });
    expect(ready.verification.windows_checked).toBeGreaterThan(0);
    expect(ready.verification.max_abs_error).toBeLessThanOrEqual(Codegen.TOLERANCE.atol + Codegen.TOLERANCE.rtol);
    expect(ready.verification.selftest).toMatch(/^selftest ok /);
  });

  it("fails a model with an unsupported task with a reason instead of crashing", async () => {
    const result = await classifier();
    const modelId = await storeModel(user.tenantId, result, "gru_predictor", withMetadata(result.model, { task: "regression" }));
    const created = await call("POST", "/deployments", { token: user.token, body: { model_id: modelId, target_id: target.id } });
    expect(created.status).toBe(201);
    const failed = await waitForStatus(user, created.body.id, ["failed", "transferring"]);
    expect(failed.status).toBe("failed");
    expect(failed.reason).toMatch(/unsupported model: unsupported task "regression" for gru_predictor/);
  });
});
