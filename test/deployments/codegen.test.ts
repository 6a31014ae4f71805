import { writeFile } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { Codegen, type Arch } from "../../core/codegen";
import { normaliseArch } from "../../core/deployment/target";
import { agentFiles, buildPackage, sha256 as sha, untarGz } from "../../core/deployment/package";
import type { ArchitectureT } from "../../core/ml";
import { edgeBuilds, ELF_MACHINE, machineOf, tinyModel, type EdgeBuild } from "./helpers";

const builds = edgeBuilds("mdl_test");
const sizes = new Map<string, number>();

/** Trains (once), generates and compiles (once per architecture, precision and target). */
async function compiledFor(architecture: ArchitectureT, precision: "float32" | "int8", arch: Arch): Promise<EdgeBuild> {
  const key = `${architecture}/${precision}/${arch}`;
  const built = await builds.build(key, () => tinyModel(architecture), precision, arch);
  sizes.set(key, built.binary.bytes.length);
  return built;
}

afterAll(() => {
  const lines = [...sizes].map(([key, bytes]) => `${key}: ${bytes} bytes`);
  console.info(`edge binary sizes (tiny models, stripped):\n  ${lines.sort().join("\n  ")}`);
});

describe("generated C scoring programs", () => {
  const cases: [ArchitectureT, "float32" | "int8", Arch][] = [
    ["lstm_autoencoder", "float32", "armv7"],
    ["lstm_autoencoder", "float32", "aarch64"],
    ["lstm_autoencoder", "float32", "x86_64"],
    ["gru_predictor", "float32", "armv7"],
    ["gru_predictor", "float32", "aarch64"],
    ["gru_predictor", "float32", "x86_64"],
    ["lstm_autoencoder", "int8", "armv7"],
    ["gru_predictor", "int8", "aarch64"],
    ["sentinel", "float32", "x86_64"],
  ];

  it.each(cases)("%s (%s) on %s scores like ONNX Runtime within the tolerance", async (architecture, precision, arch) => {
    const { spec, onnx, binary } = await compiledFor(architecture, precision, arch);
    expect(machineOf(binary.bytes)).toBe(ELF_MACHINE[arch]);
    const verification = await Codegen.verify({ binary, spec, onnx, windows: 24, seed: 5 });
    expect(verification.windows_checked).toBe(24);
    expect(verification.max_abs_error).toBeLessThanOrEqual(Codegen.TOLERANCE.atol + Codegen.TOLERANCE.rtol * 10);
    expect(verification.selftest).toMatch(/^selftest ok windows=8 /);
  });

  it("keeps a tiny float32 model's static binary far below 256 KB", async () => {
    const { binary } = await compiledFor("lstm_autoencoder", "float32", "armv7");
    expect(binary.bytes.length).toBeLessThan(256 * 1024);
  });

  it("stores int8 weights in a smaller binary than float32 weights", async () => {
    const result = await tinyModel("lstm_autoencoder");
    const floatSpec = Codegen.specFromOnnx(result.model, { modelId: "m", version: "v" });
    const int8Spec = Codegen.specFromOnnx(result.quantizedModel, { modelId: "m", version: "v" });
    expect(int8Spec.precision).toBe("int8");
    expect(Codegen.weightBytes(int8Spec)).toBeLessThan(Codegen.weightBytes(floatSpec));
  });

  it("maps columns by header name, in any order", async () => {
    const { spec, binary } = await compiledFor("gru_predictor", "float32", "x86_64");
    const rows = Codegen.referenceRows(spec, 6, 9);
    const inOrder = await Codegen.run(binary, [], Codegen.toCsv(spec.features, rows));
    const reversed = [...spec.features].reverse();
    const shuffled = await Codegen.run(binary, [], Codegen.toCsv(reversed, rows.map((row) => [...row].reverse())));
    expect(inOrder.code).toBe(0);
    expect(Codegen.parseScores(inOrder.stdout)).toHaveLength(6);
    expect(shuffled.stdout).toBe(inOrder.stdout);
  });

  it("reads rows from a file argument and prints the model's identity with --info", async () => {
    const { spec, binary } = await compiledFor("lstm_autoencoder", "float32", "armv7");
    const rows = Codegen.referenceRows(spec, 3, 4);
    const file = `${builds.dir()}/rows.csv`;
    await writeFile(file, Codegen.toCsv(spec.features, rows));
    const fromFile = await Codegen.run(binary, [file]);
    const fromStdin = await Codegen.run(binary, ["-"], Codegen.toCsv(spec.features, rows));
    expect(fromFile.code).toBe(0);
    expect(Codegen.parseScores(fromFile.stdout)).toHaveLength(3);
    expect(fromFile.stdout).toBe(fromStdin.stdout);
    const info = await Codegen.run(binary, ["--info"]);
    expect(info.stdout).toContain(`features ${spec.features.join(",")}`);
    expect(info.stdout).toContain(`sequence_length ${spec.sequenceLength}`);
  });

  it("rejects a malformed row with exit code 2 and its line number", async () => {
    const { spec, binary } = await compiledFor("gru_predictor", "float32", "x86_64");
    const csv = `${spec.features.join(",")}\n${spec.features.map(() => "1.5").join(",")}\n${spec.features.map(() => "abc").join(",")}\n`;
    const result = await Codegen.run(binary, [], csv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("line 3: invalid number");
  });

  it("reports a missing header column by name", async () => {
    const { spec, binary } = await compiledFor("gru_predictor", "float32", "x86_64");
    const result = await Codegen.run(binary, [], `timestamp,${spec.features.slice(1).join(",")}\n`);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`missing column ${spec.features[0]}`);
  });

  it("fails its self-test when the embedded expected scores are wrong", async () => {
    const { spec, onnx, reference } = await compiledFor("lstm_autoencoder", "float32", "x86_64");
    const wrong = { rows: reference.rows, scores: reference.scores.map((s, i) => (i === 3 ? s * 1.01 + 1e-3 : s)) };
    const binary = await Codegen.compile(Codegen.generateC(spec, { reference: wrong }), "x86_64", builds.dir(), "tampered");
    const result = await Codegen.run(binary, ["--selftest"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("selftest FAILED");
    expect(result.stderr).toContain("mismatch at window 3");
    await expect(Codegen.verify({ binary, spec, onnx })).rejects.toBeInstanceOf(Codegen.VerificationError);
  });

  it("fails verification against another model's ONNX Runtime scores", async () => {
    const { spec, binary } = await compiledFor("lstm_autoencoder", "float32", "aarch64");
    const other = await tinyModel("lstm_autoencoder", { epochs: 1, sequence_length: 8, hidden_dim: 6, bottleneck_dim: 3, num_layers: 1, seed: 3 });
    await expect(Codegen.verify({ binary, spec, onnx: other.model })).rejects.toThrow(/differs from ONNX Runtime/);
  });
});

describe("edge packages", () => {
  it("round-trips the binary, the edge agent and a manifest with their sha256 through tar.gz", async () => {
    const binary = new Uint8Array(70_000).map((_, i) => (i * 31) % 251);
    const agent = await agentFiles();
    const { archive, manifest } = buildPackage({
      binary,
      agent,
      deployment_id: "dep_x",
      model_id: "mdl_x",
      model_version: "sha256:abc",
      architecture: "lstm_autoencoder",
      target_arch: "armv7",
      precision: "float32",
      features: ["a", "b"],
      sequence_length: 8,
      normalisation: { method: "zscore", mean: [1, 2], std: [3, 4] },
      threshold: 0.5,
      toolchain: "gcc",
      verification: {},
      created_at: "2026-01-01T00:00:00.000Z",
    });
    const files = untarGz(archive);
    expect([...files.keys()]).toEqual(["flint-model", "flint-agent", "flint-agent.service", "manifest.json"]);
    expect(files.get("flint-model")!.mode).toBe(0o755);
    expect(files.get("flint-agent")!.mode).toBe(0o755);
    expect(new TextDecoder().decode(files.get("flint-agent")!.bytes)).toMatch(/^#!\/bin\/sh\n/);
    expect(new TextDecoder().decode(files.get("flint-agent.service")!.bytes)).toContain("ExecStart=/opt/flint/flint-agent");
    expect(sha(files.get("flint-model")!.bytes)).toBe(sha(binary));
    const stored = JSON.parse(new TextDecoder().decode(files.get("manifest.json")!.bytes));
    expect(stored).toEqual(manifest);
    expect(stored.files[0]).toMatchObject({ path: "flint-model", sha256: sha(binary), size_bytes: binary.length, mode: "0755" });
    expect(stored.files[1]).toMatchObject({ path: "flint-agent", sha256: sha(files.get("flint-agent")!.bytes), mode: "0755" });
  });
});

describe("architecture names", () => {
  it.each([
    ["armv7-unknown-linux-musleabihf", "armv7"],
    ["armv7-unknown-linux-gnueabihf", "armv7"],
    ["aarch64-unknown-linux-gnu", "aarch64"],
    ["x86_64-unknown-linux-gnu", "x86_64"],
    ["ARM64", "aarch64"],
  ])("normalises %s to %s", (spelling, arch) => {
    expect(normaliseArch(spelling)).toBe(arch);
  });

  it("rejects an unsupported architecture", () => {
    expect(normaliseArch("mips-unknown-linux-gnu")).toBeUndefined();
  });
});
