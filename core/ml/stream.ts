/**
 * Training data read chunk by chunk, so that the trainer holds a few chunks plus the model
 * whatever the dataset's size.
 *
 * - One streaming pass (`openWindows`) reads every chunk once, in order: z-score statistics of
 *   the training split (sums in ONNX Runtime, chunk results merged with Chan's formula), the
 *   last `sequence_length − 1` gap-filled rows before each chunk (so windows that cross a chunk
 *   boundary exist), window counts per split and the data fingerprint.
 * - Afterwards a chunk is read back as a *segment*: those carried rows plus the chunk's own,
 *   gap-filled and normalised (in ONNX Runtime). A window belongs to the chunk holding its last
 *   row, so each window is built exactly once.
 * - Validation and test windows stream in chronological order in fixed-size batches (the same
 *   batches as a whole-dataset pass). Training windows come in *blocks* of chunks whose segments
 *   fit the shuffle budget: when the whole training split fits one block, its windows are
 *   permuted exactly as before (one permutation per epoch); otherwise each epoch shuffles the
 *   order of the training chunks and permutes the windows within each block of chunks.
 * - Segments are kept across epochs while they fit the cache budget.
 */
import { createHash, type Hash } from "node:crypto";
import * as ort from "onnxruntime-node";
import { invalid } from "../error";
import { splitBounds, type TrainingData } from "./data";
import { Graph } from "./graph";
import { createSession } from "./io";
import { DataType } from "./onnx";
import type { Rng } from "./rng";
import type { ArchitectureT } from "./schema";

/** Rows per chunk when in-memory data is read chunk-wise (the columnar copy's chunk size). */
export const DEFAULT_CHUNK_ROWS = 131_072;

/** One chunk of a dataset: a column per feature (NaN = missing) and optional 0/1 labels, all `rows` long. */
export interface DataChunk {
  columns: Float32Array[];
  labels?: Uint8Array;
}

/** A dataset the trainer reads chunk by chunk: every chunk has `chunkRows` rows except the last. */
export interface ChunkedData {
  features: string[];
  rows: number;
  chunkRows: number;
  labelled: boolean;
  samplingIntervalSeconds?: number;
  read(index: number): Promise<DataChunk>;
}

/** What the trainer may hold besides the model. */
export interface MemoryBudget {
  /** Bytes of normalised segments a block of training windows may span (the shuffle buffer). */
  shuffleBytes: number;
  /** Bytes of normalised segments kept across epochs (validation, and training data that fits). */
  cacheBytes: number;
}

export const DEFAULT_MEMORY: MemoryBudget = { shuffleBytes: 128 * 1024 * 1024, cacheBytes: 128 * 1024 * 1024 };

export function isChunked(data: TrainingData | ChunkedData): data is ChunkedData {
  return typeof (data as ChunkedData | undefined)?.read === "function";
}

/** In-memory columns read as chunks of `chunkRows` rows (views, no copy). */
export function chunkedFromMemory(data: TrainingData, chunkRows = DEFAULT_CHUNK_ROWS): ChunkedData {
  const rows = data.columns[0]!.length;
  return {
    features: data.features,
    rows,
    chunkRows,
    labelled: data.labels !== undefined,
    samplingIntervalSeconds: data.samplingIntervalSeconds,
    read: async (index) => {
      const from = index * chunkRows;
      const to = Math.min(rows, from + chunkRows);
      return { columns: data.columns.map((column) => column.subarray(from, to)), labels: data.labels?.subarray(from, to) };
    },
  };
}

/** How windows are cut and labelled. */
export interface WindowRules {
  architecture: ArchitectureT;
  supervised: boolean;
  seq: number;
  /** training (and validation-loss) stride */
  stride: number;
}

/** Windows of one split at one stride; with `dropAnomalous`, windows holding a labelled row are left out. */
export interface WindowSpec {
  bounds: [number, number];
  stride: number;
  dropAnomalous: boolean;
  count: number;
}

/** A chunk read back with the rows it needs from before it, gap-filled and normalised, row-major [rows, F]. */
interface Segment {
  /** dataset row of the segment's first row */
  start: number;
  rows: number;
  norm: Float32Array;
  raw?: Float32Array;
  /** prefix sums of labels over the segment's rows (length rows + 1) */
  labelSums?: Uint32Array;
  labels?: Uint8Array;
}

interface ChunkInfo {
  start: number;
  rows: number;
  /** the gap-filled rows before `start` that windows ending in this chunk use (NaN: before the first finite value) */
  tail: Float32Array;
  tailLabels?: Uint8Array;
  /** training windows at the training stride: all, and without a labelled row */
  trainAll: number;
  trainKept: number;
}

/** Statistics of values in one chunk, merged across chunks. */
interface Moments {
  n: Float64Array;
  mean: Float64Array;
  m2: Float64Array;
}

/** First window start, and count, of windows of `spec` whose last row lies in [c0, c1). */
function windowRange(bounds: [number, number], stride: number, seq: number, c0: number, c1: number): { first: number; count: number } {
  const lo = Math.max(bounds[0], c0 - seq + 1);
  const hi = Math.min(bounds[1] - seq, c1 - seq);
  if (hi < lo) return { first: lo, count: 0 };
  const first = bounds[0] + Math.ceil((lo - bounds[0]) / stride) * stride;
  return first > hi ? { first, count: 0 } : { first, count: Math.floor((hi - first) / stride) + 1 };
}

/** Window label rule (as windowLabeller): the autoencoder's window is anomalous when any row is; the others take the last row's label. */
function labelRule(architecture: ArchitectureT): "any" | "last" {
  return architecture === "lstm_autoencoder" ? "any" : "last";
}

/** ORT graphs over chunks: per-feature sums for the statistics, and z-scoring. */
class ChunkMath {
  private constructor(
    private readonly stats: ort.InferenceSession,
    private readonly normalise: ort.InferenceSession,
  ) {}

  static async create(F: number): Promise<ChunkMath> {
    // statistics: x [F, R] as read (finite values only) and filled [R, F] gap-filled (NaN = not yet filled)
    const s = new Graph("float64");
    const x = s.input("x", [F, "N"], { elem: DataType.FLOAT });
    const xFinite = s.raw("Not", [s.raw("Or", [s.raw("IsNaN", [x], x.shape, {}, DataType.BOOL), s.raw("IsInf", [x], x.shape, {}, DataType.BOOL)], x.shape, {}, DataType.BOOL)], x.shape, {}, DataType.BOOL);
    const xd = s.raw("Cast", [x], x.shape, { to: DataType.DOUBLE });
    const zero = s.scalar(0);
    s.output(s.reduceSum(s.raw("Where", [xFinite, xd, zero], x.shape), [1], false), "finite_sum");
    s.output(s.reduceSum(s.raw("Cast", [xFinite], x.shape, { to: DataType.DOUBLE }), [1], false), "finite_count");
    const filled = s.input("filled", ["N", F], { elem: DataType.FLOAT });
    const ok = s.raw("Not", [s.raw("IsNaN", [filled], filled.shape, {}, DataType.BOOL)], filled.shape, {}, DataType.BOOL);
    const fd = s.raw("Where", [ok, s.raw("Cast", [filled], filled.shape, { to: DataType.DOUBLE }), zero], filled.shape);
    const count = s.reduceSum(s.raw("Cast", [ok], filled.shape, { to: DataType.DOUBLE }), [0], true);
    const sum = s.reduceSum(fd, [0], true);
    const mean = s.div(sum, s.raw("Max", [count, s.scalar(1)], count.shape));
    const dev = s.raw("Where", [ok, s.sub(fd, mean), zero], filled.shape);
    s.output(s.reshape(count, [F]), "filled_count");
    s.output(s.reshape(mean, [F]), "filled_mean");
    s.output(s.reduceSum(s.mul(dev, dev), [0], false), "filled_m2");
    // z-score in float64, then float32: the same arithmetic as (raw − mean) / std in JavaScript
    const z = new Graph("float64");
    const raw = z.input("raw", ["N", F], { elem: DataType.FLOAT });
    const mu = z.input("mean", [F], { elem: DataType.FLOAT });
    const sd = z.input("std", [F], { elem: DataType.FLOAT });
    const cast = (t: typeof raw) => z.raw("Cast", [t], t.shape, { to: DataType.DOUBLE });
    z.output(z.raw("Cast", [z.div(z.sub(cast(raw), cast(mu)), cast(sd))], raw.shape, { to: DataType.FLOAT }, DataType.FLOAT), "norm");
    return new ChunkMath(await createSession(s.toBytes()), await createSession(z.toBytes()));
  }

  async chunkStats(columns: Float32Array[], filled: Float32Array, rows: number, F: number): Promise<{ finiteSum: Float64Array; finiteCount: Float64Array; moments: Moments }> {
    const x = new Float32Array(F * rows);
    columns.forEach((column, f) => x.set(column.subarray(0, rows), f * rows));
    const out = await this.stats.run({
      x: new ort.Tensor("float32", x, [F, rows]),
      filled: new ort.Tensor("float32", filled.slice(0, rows * F), [rows, F]),
    });
    const get = (name: string) => out[name]!.data as Float64Array;
    return { finiteSum: get("finite_sum"), finiteCount: get("finite_count"), moments: { n: get("filled_count"), mean: get("filled_mean"), m2: get("filled_m2") } };
  }

  async zscore(raw: Float32Array, rows: number, F: number, mean: Float32Array, std: Float32Array): Promise<Float32Array> {
    if (rows === 0) return new Float32Array(0);
    const out = await this.normalise.run({
      raw: new ort.Tensor("float32", raw, [rows, F]),
      mean: new ort.Tensor("float32", mean, [F]),
      std: new ort.Tensor("float32", std, [F]),
    });
    return out["norm"]!.data as Float32Array;
  }

  async release(): Promise<void> {
    await Promise.all([this.stats.release(), this.normalise.release()]);
  }
}

/** Chan et al.: merge a chunk's count / mean / M2 into the running ones, per feature. */
function mergeMoments(into: Moments, add: Moments): void {
  for (let f = 0; f < into.n.length; f++) {
    const nb = add.n[f]!;
    if (nb === 0) continue;
    const na = into.n[f]!;
    const n = na + nb;
    const delta = add.mean[f]! - into.mean[f]!;
    into.mean[f] = into.mean[f]! + (delta * nb) / n;
    into.m2[f] = into.m2[f]! + add.m2[f]! + (delta * delta * na * nb) / n;
    into.n[f] = n;
  }
}

const bytesOf = (a: ArrayBufferView | undefined) => a?.byteLength ?? 0;

/** State of the training-window order that a checkpoint carries. */
export interface ShuffleState {
  /** this block's window permutation (null until the block is read) */
  perm: Uint32Array | null;
  /** next batch within the block */
  cursor: number;
  /** this epoch's order of training chunks (null when the training split is one block) */
  order: Uint32Array | null;
  block: number;
  shuffleRng: Rng;
}

export interface Batch {
  /** normalised windows [count, T, F] */
  x: Float32Array;
  /** window labels (labelled data) */
  labels?: Float32Array;
  count: number;
}

/**
 * A dataset prepared for training: statistics, split bounds and the window streams, all read
 * from a ChunkedData without holding it. Create with `openWindows`; `release()` when done.
 */
export class StreamingWindows {
  private readonly cache = new Map<number, Segment>();
  private cachedBytes = 0;
  /** the training block kept across epochs when the training split is a single block */
  private block?: { index: number; order: Uint32Array | null; segments: Segment[]; segment: Uint32Array; local: Uint32Array; labels?: Float32Array };
  private readonly trainChunks: number[];
  readonly chunksPerBlock: number;
  readonly blocks: number;

  private constructor(
    private readonly source: ChunkedData,
    private readonly math: ChunkMath,
    private readonly rules: WindowRules,
    private readonly memory: MemoryBudget,
    private readonly chunks: ChunkInfo[],
    readonly mean: Float32Array,
    readonly std: Float32Array,
    readonly bounds: { train: [number, number]; val: [number, number]; test: [number, number] },
    readonly fingerprint: string,
    private readonly counts: { trainAll: number; trainKept: number; trainPositive: number; valAll: number; valKept: number },
  ) {
    this.trainChunks = chunks.flatMap((chunk, index) => ((this.dropTrainAnomalies ? chunk.trainKept : chunk.trainAll) > 0 ? [index] : []));
    const segmentBytes = (Math.min(source.chunkRows, source.rows) + rules.seq - 1) * source.features.length * 4;
    this.chunksPerBlock = Math.max(1, Math.floor(memory.shuffleBytes / segmentBytes));
    this.blocks = Math.max(1, Math.ceil(this.trainChunks.length / this.chunksPerBlock));
  }

  get F(): number {
    return this.source.features.length;
  }
  get n(): number {
    return this.source.rows;
  }
  get features(): string[] {
    return this.source.features;
  }
  get labelled(): boolean {
    return this.source.labelled;
  }

  /** Unsupervised models learn normal behaviour: training windows holding a labelled row are left out (unless that leaves none). */
  private get dropTrainAnomalies(): boolean {
    return this.source.labelled && !this.rules.supervised && this.counts.trainKept > 0;
  }

  /** Training windows (and their positive labels, for class weights). */
  get training(): { windows: number; positive: number } {
    return { windows: this.dropTrainAnomalies ? this.counts.trainKept : this.counts.trainAll, positive: this.counts.trainPositive };
  }

  /**
   * Windows of a split at a stride. `forTraining` (training and validation loss, at the training
   * stride only) leaves out windows holding a labelled row for unsupervised models.
   */
  spec(split: "train" | "val" | "test", stride: number, forTraining: boolean): WindowSpec {
    const bounds = this.bounds[split];
    const all = bounds[1] - bounds[0] >= this.rules.seq ? Math.floor((bounds[1] - bounds[0] - this.rules.seq) / stride) + 1 : 0;
    if (forTraining && split !== "test" && stride === this.rules.stride && this.source.labelled && !this.rules.supervised) {
      const kept = split === "train" ? this.counts.trainKept : this.counts.valKept;
      if (kept > 0) return { bounds, stride, dropAnomalous: true, count: kept };
    }
    return { bounds, stride, dropAnomalous: false, count: all };
  }

  private windowLabel(segment: Segment, local: number): number {
    const T = this.rules.seq;
    if (labelRule(this.rules.architecture) === "any") return segment.labelSums![local + T]! - segment.labelSums![local]! > 0 ? 1 : 0;
    return segment.labels![local + T - 1] ? 1 : 0;
  }

  private anomalous(segment: Segment, local: number): boolean {
    return segment.labelSums![local + this.rules.seq]! - segment.labelSums![local]! > 0;
  }

  /** Reads chunk `index` back as a segment (from the cache unless raw values are wanted). */
  private async segment(index: number, withRaw = false): Promise<Segment> {
    const cached = this.cache.get(index);
    if (cached && !withRaw) return cached;
    const info = this.chunks[index]!;
    const chunk = await this.source.read(index);
    const F = this.F;
    const tailRows = info.tail.length / F;
    const rows = tailRows + info.rows;
    const raw = new Float32Array(rows * F);
    raw.set(info.tail);
    // before the first finite value a column reads as its training mean
    for (let i = 0; i < info.tail.length; i++) if (raw[i] !== raw[i]) raw[i] = this.mean[i % F]!;
    for (let f = 0; f < F; f++) {
      const column = chunk.columns[f]!;
      let previous = tailRows > 0 ? raw[(tailRows - 1) * F + f]! : this.mean[f]!;
      for (let i = 0; i < info.rows; i++) {
        const value = column[i]!;
        if (Number.isFinite(value)) previous = value;
        raw[(tailRows + i) * F + f] = previous;
      }
    }
    const norm = await this.math.zscore(raw, rows, F, this.mean, this.std);
    const segment: Segment = { start: info.start - tailRows, rows, norm };
    if (this.source.labelled) {
      const labels = new Uint8Array(rows);
      if (info.tailLabels) labels.set(info.tailLabels);
      labels.set(chunk.labels!.subarray(0, info.rows), tailRows);
      const sums = new Uint32Array(rows + 1);
      for (let i = 0; i < rows; i++) sums[i + 1] = sums[i]! + labels[i]!;
      segment.labels = labels;
      segment.labelSums = sums;
    }
    const bytes = bytesOf(segment.norm) + bytesOf(segment.labels) + bytesOf(segment.labelSums);
    if (!cached && this.cachedBytes + bytes <= this.memory.cacheBytes) {
      this.cache.set(index, segment);
      this.cachedBytes += bytes;
    }
    return withRaw ? { ...segment, raw } : segment;
  }

  /** Chunks holding windows of `spec`, with each one's first window and count (before leaving anomalous ones out). */
  private chunksOf(spec: WindowSpec): { index: number; first: number; count: number }[] {
    const out: { index: number; first: number; count: number }[] = [];
    this.chunks.forEach((chunk, index) => {
      const range = windowRange(spec.bounds, spec.stride, this.rules.seq, chunk.start, chunk.start + chunk.rows);
      if (range.count > 0) out.push({ index, ...range });
    });
    return out;
  }

  /**
   * The windows of `spec` in chronological order, normalised, in batches of `size` (the last
   * one shorter): the same batches a pass over the whole dataset gives.
   */
  async *batches(spec: WindowSpec, size: number): AsyncGenerator<Batch> {
    const T = this.rules.seq;
    const F = this.F;
    const width = T * F;
    let x = new Float32Array(size * width);
    let labels = this.labelled ? new Float32Array(size) : undefined;
    let k = 0;
    for (const { index, first, count } of this.chunksOf(spec)) {
      const segment = await this.segment(index);
      for (let w = 0; w < count; w++) {
        const local = first + w * spec.stride - segment.start;
        if (spec.dropAnomalous && this.anomalous(segment, local)) continue;
        x.set(segment.norm.subarray(local * F, local * F + width), k * width);
        if (labels) labels[k] = this.windowLabel(segment, local);
        if (++k === size) {
          yield { x, labels, count: k };
          x = new Float32Array(size * width);
          labels = this.labelled ? new Float32Array(size) : undefined;
          k = 0;
        }
      }
    }
    if (k > 0) yield { x: x.slice(0, k * width), labels: labels?.slice(0, k), count: k };
  }

  /** Raw (gap-filled, un-normalised) windows of an unfiltered spec, by ascending window ordinal: [ordinals.length, T, F]. */
  async rawWindows(spec: WindowSpec, ordinals: ArrayLike<number>): Promise<Float32Array> {
    const T = this.rules.seq;
    const F = this.F;
    const width = T * F;
    const out = new Float32Array(ordinals.length * width);
    let next = 0;
    let before = 0;
    for (const { index, first, count } of this.chunksOf(spec)) {
      if (next >= ordinals.length) break;
      if (ordinals[next]! < before + count) {
        const segment = await this.segment(index, true);
        while (next < ordinals.length && ordinals[next]! < before + count) {
          const local = first + (ordinals[next]! - before) * spec.stride - segment.start;
          out.set(segment.raw!.subarray(local * F, local * F + width), next * width);
          next++;
        }
      }
      before += count;
    }
    return out;
  }

  private async loadBlock(st: ShuffleState): Promise<NonNullable<StreamingWindows["block"]>> {
    if (this.block && this.block.index === st.block && this.block.order === st.order) return this.block;
    const positions = st.order ?? Uint32Array.from(this.trainChunks.keys());
    const members = Array.from(positions.subarray(st.block * this.chunksPerBlock, (st.block + 1) * this.chunksPerBlock), (position) => this.trainChunks[position]!);
    const spec = this.spec("train", this.rules.stride, true);
    const segments: Segment[] = [];
    const segmentOf: number[] = [];
    const localOf: number[] = [];
    const labels: number[] = [];
    for (const index of members) {
      const info = this.chunks[index]!;
      const range = windowRange(spec.bounds, spec.stride, this.rules.seq, info.start, info.start + info.rows);
      const segment = await this.segment(index);
      segments.push(segment);
      for (let w = 0; w < range.count; w++) {
        const local = range.first + w * spec.stride - segment.start;
        if (spec.dropAnomalous && this.anomalous(segment, local)) continue;
        segmentOf.push(segments.length - 1);
        localOf.push(local);
        if (this.labelled) labels.push(this.windowLabel(segment, local));
      }
    }
    this.block = {
      index: st.block,
      order: st.order,
      segments,
      segment: Uint32Array.from(segmentOf),
      local: Uint32Array.from(localOf),
      labels: this.labelled ? Float32Array.from(labels) : undefined,
    };
    return this.block;
  }

  /** Whether this epoch has training batches left. */
  pending(st: ShuffleState, batchSize: number): boolean {
    return !(st.perm && st.cursor * batchSize >= st.perm.length && st.block >= this.blocks - 1);
  }

  /**
   * The epoch's next training batch (call while `pending`). Draws the epoch's chunk order and
   * each block's permutation from `st.shuffleRng` when first needed, so a checkpoint of `st`
   * resumes at the same batch.
   */
  async next(st: ShuffleState, batchSize: number): Promise<Batch> {
    for (;;) {
      if (this.blocks > 1 && !st.order) {
        st.order = Uint32Array.from(this.trainChunks.keys());
        st.shuffleRng.shuffle(st.order);
        st.block = 0;
      }
      const block = await this.loadBlock(st);
      if (!st.perm) {
        st.perm = Uint32Array.from({ length: block.local.length }, (_, i) => i);
        st.shuffleRng.shuffle(st.perm);
        st.cursor = 0;
      }
      const from = st.cursor * batchSize;
      if (from < st.perm.length) {
        const to = Math.min(st.perm.length, from + batchSize);
        const count = to - from;
        const F = this.F;
        const width = this.rules.seq * F;
        const x = new Float32Array(count * width);
        const labels = block.labels ? new Float32Array(count) : undefined;
        for (let i = 0; i < count; i++) {
          const w = st.perm[from + i]!;
          const local = block.local[w]!;
          x.set(block.segments[block.segment[w]!]!.norm.subarray(local * F, local * F + width), i * width);
          if (labels) labels[i] = block.labels![w]!;
        }
        st.cursor++;
        if (st.cursor * batchSize >= st.perm.length && st.block < this.blocks - 1) {
          st.block++;
          st.perm = null;
          st.cursor = 0;
        }
        return { x, labels, count };
      }
      if (st.block >= this.blocks - 1) throw new Error("no training batch left in this epoch");
      st.block++;
      st.perm = null;
    }
  }

  /** Resets the window order for the next epoch. */
  endEpoch(st: ShuffleState): void {
    st.perm = null;
    st.cursor = 0;
    st.order = null;
    st.block = 0;
    if (this.blocks > 1) this.block = undefined;
  }

  async release(): Promise<void> {
    this.cache.clear();
    this.block = undefined;
    await this.math.release();
  }

  /**
   * The streaming pass: reads every chunk once, in order. Validates chunk shapes, computes the
   * training split's z-score statistics, the carried rows of each chunk, window counts and the
   * fingerprint (sha256 over feature names and per-column digests of values and labels).
   *
   * @throws training.invalid_data, training.insufficient_data (DomainError "invalid")
   */
  static async open(source: ChunkedData, rules: WindowRules, memory: MemoryBudget = DEFAULT_MEMORY): Promise<StreamingWindows> {
    const F = source.features.length;
    const n = source.rows;
    const T = rules.seq;
    if (F === 0) throw invalid("training.invalid_data", "At least one feature is required");
    if (!(source.chunkRows >= 1)) throw invalid("training.invalid_data", "chunkRows must be at least 1");
    const bounds = splitBounds(n, T);
    const trainEnd = bounds.train[1];
    const math = await ChunkMath.create(F);
    try {
      const hashes: Hash[] = source.features.map(() => createHash("sha256"));
      const labelHash = createHash("sha256");
      const finiteSum = new Float64Array(F);
      const finiteCount = new Float64Array(F);
      const moments: Moments = { n: new Float64Array(F), mean: new Float64Array(F), m2: new Float64Array(F) };
      const chunks: ChunkInfo[] = [];
      const counts = { trainAll: 0, trainKept: 0, trainPositive: 0, valAll: 0, valKept: 0 };
      const carryRows = T - 1;
      let tail = new Float32Array(0);
      let tailLabels = source.labelled ? new Uint8Array(0) : undefined;
      const rule = labelRule(rules.architecture);
      const chunkCount = Math.ceil(n / source.chunkRows);
      for (let index = 0; index < chunkCount; index++) {
        const start = index * source.chunkRows;
        const rows = Math.min(source.chunkRows, n - start);
        const chunk = await source.read(index);
        if (chunk.columns.length !== F) throw invalid("training.invalid_data", "features and columns differ in length", { features: F, columns: chunk.columns.length, chunk: index });
        chunk.columns.forEach((column, f) => {
          if (column.length !== rows) throw invalid("training.invalid_data", "All columns must have the same length", { feature: source.features[f], chunk: index, length: column.length, expected: rows });
          hashes[f]!.update(new Uint8Array(column.buffer, column.byteOffset, column.byteLength));
        });
        if (source.labelled) {
          if (chunk.labels?.length !== rows) throw invalid("training.invalid_data", "labels must have one value per row", { chunk: index, length: chunk.labels?.length ?? 0, expected: rows });
          labelHash.update(chunk.labels);
        }
        // gap-filled rows, NaN until a column's first finite value (filled with the mean once it is known)
        const filled = new Float32Array(rows * F);
        const tailRows = tail.length / F;
        for (let f = 0; f < F; f++) {
          const column = chunk.columns[f]!;
          let previous = tailRows > 0 ? tail[(tailRows - 1) * F + f]! : NaN;
          for (let i = 0; i < rows; i++) {
            const value = column[i]!;
            if (Number.isFinite(value)) previous = value;
            filled[i * F + f] = previous;
          }
        }
        const trainRows = Math.max(0, Math.min(rows, trainEnd - start));
        if (trainRows > 0) {
          const stats = await math.chunkStats(chunk.columns, filled, trainRows, F);
          for (let f = 0; f < F; f++) {
            finiteSum[f] = finiteSum[f]! + stats.finiteSum[f]!;
            finiteCount[f] = finiteCount[f]! + stats.finiteCount[f]!;
          }
          mergeMoments(moments, stats.moments);
        }
        const info: ChunkInfo = { start, rows, tail, tailLabels, trainAll: 0, trainKept: 0 };
        const train = windowRange(bounds.train, rules.stride, T, start, start + rows);
        const val = windowRange(bounds.val, rules.stride, T, start, start + rows);
        info.trainAll = train.count;
        info.trainKept = train.count;
        counts.trainAll += train.count;
        counts.valAll += val.count;
        let segmentLabels: Uint8Array | undefined;
        if (tailLabels) {
          segmentLabels = new Uint8Array(tailRows + rows);
          segmentLabels.set(tailLabels);
          segmentLabels.set(chunk.labels!, tailRows);
          const sums = new Uint32Array(segmentLabels.length + 1);
          for (let i = 0; i < segmentLabels.length; i++) sums[i + 1] = sums[i]! + segmentLabels[i]!;
          const segmentStart = start - tailRows;
          const anomalous = (local: number) => sums[local + T]! - sums[local]! > 0;
          for (let w = 0; w < train.count; w++) {
            const local = train.first + w * rules.stride - segmentStart;
            if (anomalous(local)) info.trainKept--;
            if (rule === "any" ? anomalous(local) : segmentLabels[local + T - 1]) counts.trainPositive++;
          }
          let valKept = val.count;
          for (let w = 0; w < val.count; w++) if (anomalous(val.first + w * rules.stride - segmentStart)) valKept--;
          counts.trainKept += info.trainKept;
          counts.valKept += valKept;
        } else {
          counts.trainKept += train.count;
          counts.valKept += val.count;
        }
        chunks.push(info);
        // the rows the next chunk's windows reach back to
        const keep = Math.min(carryRows, tailRows + rows);
        const fromChunk = Math.min(keep, rows);
        const next = new Float32Array(keep * F);
        next.set(tail.subarray(tail.length - (keep - fromChunk) * F));
        next.set(filled.subarray((rows - fromChunk) * F), (keep - fromChunk) * F);
        tail = next;
        if (segmentLabels) tailLabels = segmentLabels.slice(segmentLabels.length - keep);
      }
      const mean = new Float32Array(F);
      const std = new Float32Array(F);
      for (let f = 0; f < F; f++) {
        const m = finiteCount[f]! > 0 ? finiteSum[f]! / finiteCount[f]! : 0;
        // filled values before a column's first finite one equal the mean: they add nothing to the squares
        const ss = moments.m2[f]! + moments.n[f]! * (moments.mean[f]! - m) ** 2;
        const sd = Math.sqrt(ss / Math.max(1, trainEnd));
        mean[f] = m;
        std[f] = sd > 1e-6 * Math.max(1, Math.abs(m)) ? sd : 1;
      }
      const fingerprint = createHash("sha256");
      fingerprint.update(JSON.stringify(source.features));
      for (const hash of hashes) fingerprint.update(hash.digest("hex"));
      if (source.labelled) fingerprint.update(labelHash.digest("hex"));
      return new StreamingWindows(source, math, rules, memory, chunks, mean, std, bounds, fingerprint.digest("hex"), counts);
    } catch (error) {
      await math.release();
      throw error;
    }
  }
}

/** Prepares `source` for training (see StreamingWindows.open). */
export const openWindows = StreamingWindows.open;
