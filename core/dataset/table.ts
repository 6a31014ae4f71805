/**
 * Reading the columnar copy back: chunks from S3 decoded into one in-memory
 * table, kept in a per-process LRU (a warm Lambda container or the local
 * runtime serves repeated previews without touching S3), plus cached sort
 * orders computed with a radix sort over the typed arrays.
 */
import { getObjectBytes } from "../storage";
import { concatChunks, decodeChunk, type Table, type TableColumn } from "./columnar";
import { formatTimestamp, shortestFloat32 } from "./parse";

/** Bytes of decoded tables kept per process. */
const CACHE_BUDGET_BYTES = 384 * 1024 * 1024;
const PARALLEL_CHUNK_READS = 4;

export function chunkKey(prefix: string, index: number): string {
  return `${prefix}chunk-${String(index).padStart(6, "0")}.flc.zst`;
}

interface Entry {
  table: Table;
  orders: Map<string, Uint32Array>;
  bytes: number;
}

const cache = new Map<string, Entry>();
const loading = new Map<string, Promise<Entry>>();
let cachedBytes = 0;

async function load(prefix: string, chunkCount: number): Promise<Entry> {
  const hit = cache.get(prefix);
  if (hit) {
    cache.delete(prefix);
    cache.set(prefix, hit);
    return hit;
  }
  let pending = loading.get(prefix);
  if (!pending) {
    pending = (async () => {
      const chunks = new Array<ReturnType<typeof decodeChunk>>(chunkCount);
      let next = 0;
      const worker = async () => {
        while (next < chunkCount) {
          const index = next++;
          chunks[index] = decodeChunk(await getObjectBytes(chunkKey(prefix, index)));
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_CHUNK_READS, chunkCount) }, worker));
      const table = concatChunks(chunks);
      const entry: Entry = { table, orders: new Map(), bytes: table.bytes };
      remember(prefix, entry);
      return entry;
    })().finally(() => loading.delete(prefix));
    loading.set(prefix, pending);
  }
  return pending;
}

function remember(prefix: string, entry: Entry): void {
  if (entry.bytes > CACHE_BUDGET_BYTES) return;
  cache.set(prefix, entry);
  cachedBytes += entry.bytes;
  for (const [key, old] of cache) {
    if (cachedBytes <= CACHE_BUDGET_BYTES) break;
    if (key === prefix) continue;
    cache.delete(key);
    cachedBytes -= old.bytes;
  }
}

/** Loads (or reuses) the decoded table stored under `prefix`. */
export async function loadTable(prefix: string, chunkCount: number): Promise<Table> {
  return (await load(prefix, chunkCount)).table;
}

/**
 * Rows [start, end) without loading the whole table: only the chunks that hold
 * them are read (large datasets, unsorted pages). Not cached.
 */
export async function loadRows(
  prefix: string,
  chunkRows: number,
  chunkCount: number,
  start: number,
  end: number,
): Promise<{ table: Table; offset: number }> {
  const cached = cache.get(prefix);
  if (cached) return { table: cached.table, offset: 0 };
  const first = Math.floor(start / chunkRows);
  const last = Math.min(chunkCount - 1, Math.floor(Math.max(start, end - 1) / chunkRows));
  const chunks = [];
  for (let index = first; index <= last; index++) chunks.push(decodeChunk(await getObjectBytes(chunkKey(prefix, index))));
  return { table: concatChunks(chunks), offset: first * chunkRows };
}

/** Drops a table from the cache (dataset deleted). */
export function evict(prefix: string): void {
  const entry = cache.get(prefix);
  if (!entry) return;
  cache.delete(prefix);
  cachedBytes -= entry.bytes;
}

export type SortDirection = "asc" | "desc";

/**
 * Row order of the table sorted by `column`: stable, missing values last in
 * both directions. Cached with the table.
 */
export async function sortOrder(prefix: string, chunkCount: number, column: number, direction: SortDirection): Promise<Uint32Array> {
  const entry = await load(prefix, chunkCount);
  const key = `${column}:${direction}`;
  let order = entry.orders.get(key);
  if (!order) {
    order = computeOrder(entry.table.columns[column]!, direction === "desc");
    entry.orders.set(key, order);
    entry.bytes += order.byteLength;
    cachedBytes += order.byteLength;
  }
  return order;
}

const MISSING_KEY = 0xffffffff;

export function computeOrder(column: TableColumn, descending: boolean): Uint32Array {
  if (column.kind === "numeric") {
    const values = column.values;
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const keys = new Uint32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (value !== value) {
        keys[i] = MISSING_KEY;
        continue;
      }
      // -0 and 0 are equal: both take the key of 0, so ties keep file order.
      const b = value === 0 ? 0 : bits[i]!;
      let k = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
      if (descending) k = ~k >>> 0;
      keys[i] = k === MISSING_KEY ? MISSING_KEY - 1 : k;
    }
    return radixSort(keys);
  }
  if (column.kind === "time") {
    const values = column.values;
    const words = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
    const hi = new Uint32Array(values.length);
    const lo = new Uint32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (value !== value) {
        hi[i] = MISSING_KEY;
        lo[i] = MISSING_KEY;
        continue;
      }
      let h = value === 0 ? 0 : words[2 * i + 1]!;
      let l = value === 0 ? 0 : words[2 * i]!;
      if (h & 0x80000000) {
        h = ~h >>> 0;
        l = ~l >>> 0;
      } else h = (h | 0x80000000) >>> 0;
      if (descending) {
        h = ~h >>> 0;
        l = ~l >>> 0;
      }
      hi[i] = h === MISSING_KEY ? MISSING_KEY - 1 : h;
      lo[i] = l;
    }
    return radixSort(hi, lo);
  }
  // Text: rank the dictionary once, then sort the ranks.
  const sorted = column.dictionary.map((value, index) => ({ value, index })).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const rank = new Uint32Array(column.dictionary.length + 1);
  sorted.forEach((item, position) => {
    rank[item.index + 1] = descending ? sorted.length - 1 - position : position;
  });
  const keys = new Uint32Array(column.codes.length);
  for (let i = 0; i < keys.length; i++) {
    const code = column.codes[i]!;
    keys[i] = code === 0 ? MISSING_KEY : rank[code]!;
  }
  return radixSort(keys);
}

/**
 * Stable LSD radix sort of row indices by 32-bit keys (16-bit digits), or by
 * 64-bit keys given as high and low words.
 */
export function radixSort(primary: Uint32Array, secondary?: Uint32Array): Uint32Array {
  const n = primary.length;
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let scratch = new Uint32Array(n);
  const count = new Uint32Array(65537);
  const passes: [Uint32Array, number][] = secondary
    ? [
        [secondary, 0],
        [secondary, 16],
        [primary, 0],
        [primary, 16],
      ]
    : [
        [primary, 0],
        [primary, 16],
      ];
  for (const [keys, shift] of passes) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((keys[order[i]!]! >>> shift) & 0xffff) + 1]!++;
    // Skip a pass where every key has the same digit.
    let distinct = 0;
    for (let d = 1; d <= 65536 && distinct < 2; d++) if (count[d]! > 0) distinct++;
    if (distinct < 2) continue;
    for (let d = 1; d <= 65536; d++) count[d]! += count[d - 1]!;
    for (let i = 0; i < n; i++) {
      const row = order[i]!;
      scratch[count[(keys[row]! >>> shift) & 0xffff]!++] = row;
    }
    const swap = order;
    order = scratch;
    scratch = swap;
  }
  return order;
}

/**
 * One preview cell: a number in a numeric column, a timestamp as ISO 8601 UTC,
 * text as in the file (also text found in a numeric or time column); null when missing.
 */
export type Cell = string | number | null;

/** The value a preview shows for one cell. */
export function cellValue(column: TableColumn, row: number): Cell {
  if (column.kind === "text") {
    const code = column.codes[row]!;
    return code === 0 ? null : column.dictionary[code - 1]!;
  }
  const value = column.values[row]!;
  if (value !== value) return column.exceptions.get(row) ?? null;
  if (column.kind === "time") return formatTimestamp(value);
  // JSON has no infinity: a value beyond float32 range reads as missing rather than as a number it is not.
  return Number.isFinite(value) ? shortestFloat32(value) : null;
}
