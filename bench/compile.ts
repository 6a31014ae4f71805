/**
 * Edge compile benchmark on the default lstm_autoencoder (hidden 64,
 * bottleneck 32, 2 layers, sequence 60, 8 sensors) and the default
 * gru_predictor: binary size per architecture and precision, generate +
 * compile time, and scoring throughput of the native x86_64 binary against
 * onnxruntime-node on the same windows (plus armv7/aarch64 under qemu-user,
 * which is emulation and says nothing about real controller speed).
 *
 *   npx tsx bench/compile.ts        (or import { benchCompile } and await it)
 *
 * Weights are random (initialised like training does); sizes and speed do not
 * depend on trained values, and verification still compares with ONNX Runtime.
 */
import { fileURLToPath } from "node:url";
import { Codegen, type Arch, type Binary } from "../core/codegen";
import { buildInferenceModel, defineModel, Hyperparameters, score, type ArchitectureT } from "../core/ml";

const SENSORS = 8;
const WINDOWS = Number(process.env.BENCH_COMPILE_WINDOWS) || 2_000;
const QEMU_WINDOWS = Number(process.env.BENCH_COMPILE_QEMU_WINDOWS) || 50;

/** mulberry32 */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The exported inference model (float32 and int8) of an architecture at default hyperparameters. */
export function defaultModel(architecture: ArchitectureT, seed = 1): { float32: Uint8Array; int8: Uint8Array } {
  const hp = Hyperparameters.parse({});
  const def = defineModel(architecture, SENSORS, hp);
  const next = random(seed);
  const weights = new Map<string, Float32Array>();
  for (const p of def.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const limit = p.init === "glorot" ? Math.sqrt(6 / (p.fanIn + p.fanOut)) : 0;
    weights.set(p.name, Float32Array.from({ length: size }, () => (p.init === "glorot" ? (2 * next() - 1) * limit : 0)));
  }
  const features = Array.from({ length: SENSORS }, (_, i) => `sensor_${i + 1}`);
  const norm = { mean: Float32Array.from(features, (_, i) => 20 + i), std: Float32Array.from(features, (_, i) => 1 + i / 4) };
  const metadata = {
    architecture,
    features: JSON.stringify(features),
    sequence_length: String(hp.sequence_length),
    threshold: "0.5",
    hyperparameters: JSON.stringify(hp),
  };
  return {
    float32: buildInferenceModel(def, weights, norm, metadata, false),
    int8: buildInferenceModel(def, weights, norm, metadata, true),
  };
}

export interface CompileRow {
  architecture: ArchitectureT;
  precision: "float32" | "int8";
  arch: Arch;
  binary_bytes: number;
  weight_bytes: number;
  compile_ms: number;
}

export interface ThroughputRow {
  architecture: ArchitectureT;
  engine: string;
  windows: number;
  seconds: number;
  windows_per_second: number;
  max_abs_error?: number;
}

export async function benchCompile(options: { log?: (line: string) => void; architectures?: ArchitectureT[] } = {}) {
  const log = options.log ?? ((line: string) => console.log(line));
  const architectures = options.architectures ?? ["lstm_autoencoder", "gru_predictor"];
  const workspace = await Codegen.workspace();
  const sizes: CompileRow[] = [];
  const throughput: ThroughputRow[] = [];
  try {
    log(`toolchains: ${(await Promise.all(Codegen.ARCHES.map((arch) => Codegen.toolchainVersion(arch)))).join(" | ")}`);
    for (const architecture of architectures) {
      const models = defaultModel(architecture);
      const binaries = new Map<string, Binary>();
      for (const precision of ["float32", "int8"] as const) {
        const spec = Codegen.specFromOnnx(models[precision], { modelId: `bench_${architecture}`, version: "bench" });
        const reference = Codegen.referenceModel(models[precision], spec);
        for (const arch of Codegen.ARCHES) {
          const started = performance.now();
          const built = await Codegen.build({ spec, onnx: reference, arch, dir: workspace.dir });
          const row: CompileRow = {
            architecture,
            precision,
            arch,
            binary_bytes: built.binary.bytes.length,
            weight_bytes: Codegen.weightBytes(spec),
            compile_ms: Math.round(performance.now() - started),
          };
          sizes.push(row);
          binaries.set(`${precision}/${arch}`, built.binary);
          log(`${architecture} ${precision} ${arch}: ${(row.binary_bytes / 1024).toFixed(1)} KB stripped (weights ${(row.weight_bytes / 1024).toFixed(1)} KB), generate+compile ${row.compile_ms} ms`);
        }
      }

      // Throughput on the same windows: native binary (one process, streaming CSV) vs onnxruntime-node (batched).
      const spec = Codegen.specFromOnnx(models.float32, { modelId: "bench", version: "bench" });
      const rows = Codegen.referenceRows(spec, WINDOWS, 7);
      const csv = Codegen.toCsv(spec.features, rows);
      const columns = spec.features.map((_, f) => Float32Array.from(rows, (row) => row[f]!));
      await score(models.float32, columns.map((c) => c.subarray(0, spec.sequenceLength))); // session warm-up
      let started = performance.now();
      const ort = await score(models.float32, columns);
      const ortSeconds = (performance.now() - started) / 1000;
      throughput.push({ architecture, engine: "onnxruntime-node (float32)", windows: WINDOWS, seconds: ortSeconds, windows_per_second: WINDOWS / ortSeconds });

      for (const precision of ["float32", "int8"] as const) {
        const binary = binaries.get(`${precision}/x86_64`)!;
        started = performance.now();
        const result = await Codegen.run(binary, [], csv, 600_000);
        const seconds = (performance.now() - started) / 1000;
        const got = Codegen.parseScores(result.stdout);
        let maxAbs = 0;
        for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i]!.score - ort.scores[i]!));
        throughput.push({ architecture, engine: `native x86_64 (${precision})`, windows: got.length, seconds, windows_per_second: got.length / seconds, max_abs_error: maxAbs });
      }
      const small = Codegen.toCsv(spec.features, rows.slice(0, spec.sequenceLength + QEMU_WINDOWS - 1));
      for (const arch of ["armv7", "aarch64"] as const) {
        started = performance.now();
        const result = await Codegen.run(binaries.get(`float32/${arch}`)!, [], small, 600_000);
        const seconds = (performance.now() - started) / 1000;
        const windows = Codegen.parseScores(result.stdout).length;
        throughput.push({ architecture, engine: `${arch} under qemu-user (float32)`, windows, seconds, windows_per_second: windows / seconds });
      }
      for (const row of throughput.filter((r) => r.architecture === architecture)) {
        log(
          `${architecture} ${row.engine}: ${row.windows} windows in ${row.seconds.toFixed(2)} s = ${row.windows_per_second.toFixed(0)} windows/s` +
            (row.max_abs_error !== undefined ? ` (max |Δscore| vs ORT float32 ${row.max_abs_error.toExponential(2)})` : ""),
        );
      }
    }
  } finally {
    await workspace.done();
  }
  return { sizes, throughput };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchCompile();
}
