/**
 * Ingest benchmark: throughput (MB/s) and peak RSS of the dataset ingest on a
 * generated ~100 MB sensor CSV, side by side with csv-parse and papaparse
 * computing the same statistics (per-column count/min/max/mean/std via
 * Welford, missing and text counts, time range and median interval), and
 * `wc -l` on the same file as the floor. Each parser runs in its own child
 * process so its peak RSS is its own. Then: preview page 500 sorted by a
 * numeric column of a 1,000,000-row dataset (cold sort and warm page).
 *
 *   npx tsx bench/ingest.ts [--mb 100]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { finished } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import type { Cell } from "../core/dataset/table";

const SELF = fileURLToPath(import.meta.url);
const READ_CHUNK = 256 * 1024;

type Worker = "flint" | "flint-stats" | "csv-parse" | "papaparse" | "baseline";

interface WorkerResult {
  worker: Worker;
  ms: number;
  /** User + system CPU time: steadier than wall time on a shared machine. */
  cpuMs: number;
  bytes: number;
  rows: number;
  peakRssMb: number;
  /** A digest of the statistics, to show every parser computed the same thing. */
  check: string;
}

// ---------------------------------------------------------------- shared reference statistics

class Welford {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  missing = 0;
  text = 0;
  add(cell: string): void {
    const trimmed = cell.trim();
    if (trimmed === "" || trimmed === "NA" || trimmed === "NaN" || trimmed === "null") {
      this.missing++;
      return;
    }
    const value = Number(trimmed);
    if (!Number.isFinite(value)) {
      this.text++;
      return;
    }
    this.n++;
    const delta = value - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (value - this.mean);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
}

class TimeStats {
  min = Infinity;
  max = -Infinity;
  prev = NaN;
  deltas: number[] = [];
  add(cell: string): void {
    const t = Date.parse(cell);
    if (Number.isNaN(t)) return;
    if (t < this.min) this.min = t;
    if (t > this.max) this.max = t;
    if (!Number.isNaN(this.prev)) this.deltas.push(t - this.prev);
    this.prev = t;
  }
  median(): number {
    const sorted = Float64Array.from(this.deltas).sort();
    return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
  }
}

function digest(rows: number, columns: { n: number; mean: number; min: number; max: number }[], start: number, end: number, interval: number): string {
  const parts = columns.map((column) => `${column.n}:${column.min}:${column.max}:${column.mean.toFixed(6)}`);
  return `${rows}|${start}|${end}|${interval}|${parts.join(",")}`;
}

class RowStats {
  rows = 0;
  header: string[] | undefined;
  columns: Welford[] = [];
  time = new TimeStats();
  row(cells: string[]): void {
    if (!this.header) {
      this.header = cells;
      this.columns = cells.slice(1).map(() => new Welford());
      return;
    }
    if (cells.length === 1 && cells[0] === "") return;
    this.rows++;
    this.time.add(cells[0]!);
    for (let c = 1; c < this.header.length; c++) this.columns[c - 1]!.add(cells[c] ?? "");
  }
  check(): string {
    return digest(this.rows, this.columns, this.time.min, this.time.max, this.time.median() / 1000);
  }
}

// ---------------------------------------------------------------- workers (child processes)

async function runWorker(worker: Worker, file: string): Promise<WorkerResult> {
  const bytes = statSync(file).size;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let rows = 0;
  let check = "";
  if (worker === "flint" || worker === "flint-stats") {
    const { CsvAnalyzer } = await import("../core/dataset/analyze");
    let stored = 0;
    const analyzer = new CsvAnalyzer({
      columnar: worker === "flint",
      // The chunks are encoded and zstd-compressed exactly as in the ingest; only the S3 PUT is left out.
      onChunk: async (_index, chunk) => {
        stored += chunk.length;
      },
    });
    for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) await analyzer.push(chunk as Buffer);
    const profile = await analyzer.finish();
    rows = profile.row_count;
    const columns = profile.columns.slice(1).map((name) => {
      const stats = profile.column_stats[name]!;
      return { n: stats.count_numeric, mean: stats.mean ?? 0, min: stats.min ?? Infinity, max: stats.max ?? -Infinity };
    });
    const start = profile.time_range ? Date.parse(profile.time_range.start) : NaN;
    const end = profile.time_range ? Date.parse(profile.time_range.end) : NaN;
    check = digest(rows, columns, start, end, profile.sampling_interval_seconds ?? NaN);
    if (worker === "flint" && stored === 0) throw new Error("no columnar output");
  } else if (worker === "csv-parse") {
    const { parse } = await import("csv-parse");
    const stats = new RowStats();
    const parser = createReadStream(file, { highWaterMark: READ_CHUNK }).pipe(parse({ relax_column_count: true }));
    for await (const record of parser) stats.row(record as string[]);
    rows = stats.rows;
    check = stats.check();
  } else if (worker === "papaparse") {
    const Papa = (await import("papaparse")).default;
    const stats = new RowStats();
    await new Promise<void>((resolve, reject) => {
      Papa.parse(createReadStream(file, { highWaterMark: READ_CHUNK }) as unknown as File, {
        step: (result: { data: string[] }) => stats.row(result.data),
        complete: () => resolve(),
        error: (error: Error) => reject(error),
      });
    });
    rows = stats.rows;
    check = stats.check();
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStarted);
  return { worker, ms, cpuMs: (cpu.user + cpu.system) / 1000, bytes, rows, peakRssMb: process.resourceUsage().maxRSS / 1024, check };
}

function inChild(worker: Worker, file: string): WorkerResult {
  const result = spawnSync(process.execPath, ["--import", "tsx", SELF, "--worker", worker, file], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    // tsx resolves from the working directory: run from the repository root.
    cwd: path.resolve(path.dirname(SELF), ".."),
  });
  if (result.status !== 0) throw new Error(`${worker} failed: ${result.stderr}`);
  const line = result.stdout.trim().split("\n").pop()!;
  return JSON.parse(line) as WorkerResult;
}

// ---------------------------------------------------------------- preview

async function benchPreview(rows: number): Promise<{ rows: number; loadMs: number; coldSortMs: number; warmPageMs: number; page: Cell[] }> {
  const { Synthetic } = await import("../core/synthetic");
  const { CsvAnalyzer } = await import("../core/dataset/analyze");
  const { concatChunks, decodeChunk } = await import("../core/dataset/columnar");
  const { computeOrder, cellValue } = await import("../core/dataset/table");
  const chunks: Buffer[] = [];
  const analyzer = new CsvAnalyzer({ onChunk: async (index, bytes) => void (chunks[index] = bytes) });
  for (const block of Synthetic.csvBlocks({ equipment: "air_handler", rows, faults: true, seed: 5 }, 20_000)) {
    await analyzer.push(Buffer.from(block));
  }
  await analyzer.finish();
  const loadStarted = performance.now();
  const table = concatChunks(chunks.map(decodeChunk));
  const loadMs = performance.now() - loadStarted;
  const column = table.columns.findIndex((item) => item.name === "supply_temp");
  const sortStarted = performance.now();
  const order = computeOrder(table.columns[column]!, true);
  const coldSortMs = performance.now() - sortStarted;
  const pageOf = (page: number, size: number) => {
    const out: Cell[][] = [];
    for (let position = (page - 1) * size; position < Math.min(table.rows, page * size); position++) {
      const row = order[position]!;
      out.push(table.columns.map((item) => cellValue(item, row)));
    }
    return out;
  };
  pageOf(500, 100);
  const runs = 20;
  const warmStarted = performance.now();
  let page: Cell[][] = [];
  for (let i = 0; i < runs; i++) page = pageOf(500, 100);
  const warmPageMs = (performance.now() - warmStarted) / runs;
  return { rows: table.rows, loadMs, coldSortMs, warmPageMs, page: page[0] ?? [] };
}

// ---------------------------------------------------------------- main

async function generate(file: string, megabytes: number): Promise<void> {
  if (existsSync(file) && Math.abs(statSync(file).size - megabytes * 1024 * 1024) < 5 * 1024 * 1024) return;
  const { Synthetic } = await import("../core/synthetic");
  // ~71 bytes per row for an air handler with the anomaly column.
  const rows = Math.round((megabytes * 1024 * 1024) / 71.6);
  const out = createWriteStream(file);
  await Synthetic.writeCsv({ equipment: "air_handler", rows, faults: true, seed: 3 }, out);
  out.end();
  await finished(out);
}

const mbps = (result: { bytes: number; ms: number }) => result.bytes / 1024 / 1024 / (result.ms / 1000);
const cpuMbps = (result: { bytes: number; cpuMs: number }) => result.bytes / 1024 / 1024 / (result.cpuMs / 1000);

/** Runs the whole benchmark and prints a table; returns the figures. */
export async function benchIngest(options: { megabytes?: number; previewRows?: number; log?: (line: string) => void } = {}) {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = path.join(os.tmpdir(), "flint-bench");
  mkdirSync(dir, { recursive: true });
  const megabytes = options.megabytes ?? 100;
  const file = path.join(dir, `ingest-${megabytes}mb.csv`);
  await generate(file, megabytes);
  const size = statSync(file).size;
  log(`ingest benchmark: ${file} (${(size / 1024 / 1024).toFixed(1)} MB), ${os.cpus().length} cores, node ${process.version}`);

  const wcStarted = performance.now();
  const lines = Number(execFileSync("wc", ["-l", file], { encoding: "utf8" }).trim().split(/\s+/)[0]);
  const wc = { worker: "wc -l", ms: performance.now() - wcStarted, bytes: size, rows: lines - 1 };

  const baseline = inChild("baseline", file);
  const results = (["flint", "flint-stats", "csv-parse", "papaparse"] as const).map((worker) => inChild(worker, file));
  const reference = results.find((result) => result.worker === "csv-parse")!;
  log("");
  log("parser                       MB/s wall   MB/s CPU      rows    peak RSS   same stats as csv-parse");
  log(`${"wc -l (floor)".padEnd(27)}${mbps(wc).toFixed(1).padStart(10)}          -  ${String(wc.rows).padStart(9)}          -   -`);
  for (const result of results) {
    const label = {
      flint: "flint ingest (stats+columnar)",
      "flint-stats": "flint (stats only)",
      "csv-parse": "csv-parse + stats",
      papaparse: "papaparse + stats",
      baseline: "",
    }[result.worker];
    log(
      `${label.padEnd(27)}${mbps(result).toFixed(1).padStart(10)} ${cpuMbps(result).toFixed(1).padStart(10)}  ${String(result.rows).padStart(9)}  ${result.peakRssMb.toFixed(0).padStart(6)} MB   ${result.check === reference.check ? "yes" : "NO"}`,
    );
  }
  log(`(a child process that only loads the runtime peaks at ${baseline.peakRssMb.toFixed(0)} MB)`);
  const flint = results.find((result) => result.worker === "flint")!;
  const speedup = mbps(flint) / mbps(reference);
  const cpuSpeedup = cpuMbps(flint) / cpuMbps(reference);
  log(`flint ingest vs csv-parse: ${speedup.toFixed(1)}x (wall), ${cpuSpeedup.toFixed(1)}x (CPU); load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);

  const preview = await benchPreview(options.previewRows ?? 1_000_000);
  log("");
  log(
    `preview, ${preview.rows} rows: decode columnar ${preview.loadMs.toFixed(0)} ms, sort by supply_temp desc (cold) ${preview.coldSortMs.toFixed(0)} ms, page 500 x 100 rows (warm) ${preview.warmPageMs.toFixed(2)} ms`,
  );
  return { file, sizeBytes: size, wc, results, speedup, cpuSpeedup, preview };
}

const args = process.argv.slice(2);
if (args[0] === "--worker") {
  const worker = args[1] as Worker;
  const result = await runWorker(worker, args[2]!);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const mbIndex = args.indexOf("--mb");
  await benchIngest({ megabytes: mbIndex >= 0 ? Number(args[mbIndex + 1]) : undefined });
}
