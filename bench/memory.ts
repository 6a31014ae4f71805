/**
 * Memory benchmark: peak RSS of a short training run against dataset size
 * (1×, 4×, 16× a base of 4,194,304 rows × 8 sensors), with the streaming loader
 * the worker uses (the columnar copy read chunk by chunk) side by side with the
 * old whole-dataset path (every chunk decoded into one table, as
 * Dataset.loadColumns did, and the trainer's former row-major raw + normalised
 * copies of all rows from prepare()).
 *
 * The columnar chunks are generated directly (ChunkBuilder, as ingest writes
 * them) into a temporary directory rather than ingesting CSV: multi-GB CSV
 * ingest takes too long on a 2-core machine. Chunks are read from local files
 * instead of S3 (the same decode per chunk). Each run is its own child process
 * so its peak RSS is its own: an lstm_autoencoder (T 30, H 32, 1 layer), 40
 * training batches of 64, then the full end of a run (validation / test scoring
 * of at most 20,000 windows each, export, int8 check).
 *
 *   npx tsx bench/memory.ts [--sizes 1,4,16] [--old-up-to 16]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const BASE_ROWS = 4_194_304;
const SENSORS = 8;
/** Bytes per row of the CSV this data would come from (ISO timestamp + 8 values with 3 decimals). */
const CSV_BYTES_PER_ROW = 24 + SENSORS * 8;
const TRAIN_BATCHES = 40;

type Mode = "streaming" | "old";

interface RunResult {
  mode: Mode;
  rows: number;
  peakRssMb: number;
  seconds: number;
  bestValLoss: number;
}

const chunkFile = (dir: string, index: number) => path.join(dir, `chunk-${String(index).padStart(6, "0")}.flc.zst`);

/** Writes `rows` rows of synthetic sensor data as columnar chunks; returns the compressed bytes. */
async function generate(dir: string, rows: number): Promise<number> {
  const { ChunkBuilder, CHUNK_ROWS } = await import("../core/dataset/columnar");
  mkdirSync(dir, { recursive: true });
  const names = Array.from({ length: SENSORS }, (_, f) => `sensor_${f}`);
  const mix = names.map((_, f) => [0.5 + ((f * 0.37) % 1), ((f * 0.61) % 1) - 0.5, 20 + 3 * f, 1 + ((f * 0.73) % 4)] as const);
  let bytes = 0;
  let seed = 12345;
  for (let index = 0, start = 0; start < rows; index++, start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, rows - start);
    const builder = new ChunkBuilder(names, names.map(() => "numeric" as const), count);
    for (let i = 0; i < count; i++) {
      const t = start + i;
      const a = Math.sin((2 * Math.PI * t) / 1440);
      const b = Math.sin((2 * Math.PI * t) / 5328 + 1.3);
      for (let f = 0; f < SENSORS; f++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        const [wa, wb, offset, scale] = mix[f]!;
        builder.numeric[f]![i] = offset + scale * (wa * a + wb * b + 0.05 * (seed / 4294967296 - 0.5));
      }
      builder.endRow();
    }
    const encoded = builder.encode(1);
    writeFileSync(chunkFile(dir, index), encoded);
    bytes += encoded.length;
  }
  return bytes;
}

/** The child: one short training run on the chunks in `dir`. */
async function run(mode: Mode, dir: string, rows: number): Promise<RunResult> {
  const { CHUNK_ROWS, decodeChunk, concatChunks } = await import("../core/dataset/columnar");
  const { train } = await import("../core/ml/train");
  const { prepare } = await import("../core/ml/data");
  const chunkCount = Math.ceil(rows / CHUNK_ROWS);
  const features = Array.from({ length: SENSORS }, (_, f) => `sensor_${f}`);
  const readChunk = (index: number) => decodeChunk(readFileSync(chunkFile(dir, index)));
  const hyperparameters = { sequence_length: 30, hidden_dim: 32, bottleneck_dim: 16, num_layers: 1, epochs: 1, batch_size: 64, seed: 1 };
  let batches = 0;
  const shouldStop = () => ++batches > TRAIN_BATCHES;
  const started = performance.now();
  let result;
  if (mode === "streaming") {
    result = await train({
      architecture: "lstm_autoencoder",
      hyperparameters,
      maxEvalWindows: 20_000,
      shouldStop,
      data: {
        features,
        rows,
        chunkRows: CHUNK_ROWS,
        labelled: false,
        read: async (index) => ({ columns: readChunk(index).columns.map((column) => (column as { values: Float32Array }).values) }),
      },
    });
  } else {
    // the old worker: every chunk decoded and concatenated, then the trainer's row-major copies of all rows
    const table = concatChunks(Array.from({ length: chunkCount }, (_, index) => readChunk(index)));
    const data = { features, columns: table.columns.map((column) => (column as { values: Float32Array }).values) };
    const prepared = prepare(data, hyperparameters.sequence_length);
    result = await train({ architecture: "lstm_autoencoder", hyperparameters, maxEvalWindows: 20_000, shouldStop, data });
    if (prepared.norm.length !== rows * SENSORS) throw new Error("unexpected prepare() size");
  }
  return { mode, rows, peakRssMb: process.resourceUsage().maxRSS / 1024, seconds: (performance.now() - started) / 1000, bestValLoss: result.bestValLoss };
}

function inChild(mode: Mode, dir: string, rows: number): RunResult {
  const result = spawnSync(process.execPath, ["--import", "tsx", SELF, "--run", mode, dir, String(rows)], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    cwd: path.resolve(path.dirname(SELF), ".."),
  });
  if (result.status !== 0) throw new Error(`${mode} run failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").pop()!) as RunResult;
}

export async function benchMemory(options: { sizes?: number[]; oldUpTo?: number } = {}): Promise<{ size: number; rows: number; streaming: RunResult; old?: RunResult }[]> {
  const sizes = options.sizes ?? [1, 4, 16];
  const oldUpTo = options.oldUpTo ?? 16;
  const root = path.join(os.tmpdir(), `flint-bench-memory-${process.pid}`);
  const out: { size: number; rows: number; streaming: RunResult; old?: RunResult }[] = [];
  console.log(`lstm_autoencoder T=30 H=32, ${TRAIN_BATCHES} batches of 64 + scoring, export; ${SENSORS} sensors; peak RSS of each run in its own process`);
  console.log("size  rows         float32 MB  CSV-equiv. MB  zstd MB   streaming peak RSS   old whole-dataset peak RSS");
  try {
    for (const size of sizes) {
      const rows = BASE_ROWS * size;
      const dir = path.join(root, `${size}x`);
      const compressed = await generate(dir, rows);
      const streaming = inChild("streaming", dir, rows);
      const old = size <= oldUpTo ? inChild("old", dir, rows) : undefined;
      rmSync(dir, { recursive: true, force: true });
      out.push({ size, rows, streaming, old });
      const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
      console.log(
        `${`${size}x`.padEnd(5)} ${String(rows).padEnd(12)} ${mb(rows * SENSORS * 4).padStart(10)} ${mb(rows * CSV_BYTES_PER_ROW).padStart(14)} ${mb(compressed).padStart(8)}   ` +
          `${streaming.peakRssMb.toFixed(0).padStart(6)} MB (${streaming.seconds.toFixed(0)} s)      ` +
          (old ? `${old.peakRssMb.toFixed(0).padStart(6)} MB (${old.seconds.toFixed(0)} s)` : "not run"),
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return out;
}

const args = process.argv.slice(2);
if (args[0] === "--run") {
  process.stdout.write(`${JSON.stringify(await run(args[1] as Mode, args[2]!, Number(args[3])))}\n`);
} else if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const sizesAt = args.indexOf("--sizes");
  const oldAt = args.indexOf("--old-up-to");
  await benchMemory({
    sizes: sizesAt >= 0 ? args[sizesAt + 1]!.split(",").map(Number) : undefined,
    oldUpTo: oldAt >= 0 ? Number(args[oldAt + 1]) : undefined,
  });
}
