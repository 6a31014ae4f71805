/**
 * The compact columnar copy of a dataset that preview, validation and training
 * read instead of re-parsing CSV. A dataset is a sequence of chunks of up to
 * CHUNK_ROWS rows; each chunk is one zstd-compressed object:
 *
 *   "FLC1" | u32 header length | header JSON | pad to 8 | column bodies (8-aligned)
 *
 * Numeric columns are Float32 (NaN = missing or text), the timestamp column is
 * Float64 epoch milliseconds; text found in those columns is kept sparsely as
 * exceptions (row within chunk -> text). Text columns are dictionary codes
 * (Uint32, 0 = missing) into a per-chunk dictionary. Bodies are little-endian
 * and byte-shuffled (all first bytes, then all second bytes, ...), which lets
 * zstd's fastest level compress sensor floats better and ~6x faster than the
 * raw layout at level 3.
 */
import { compress, decompress } from "zstd-napi";

export const CHUNK_ROWS = 131_072;
const MAGIC = 0x31434c46; // "FLC1"

export type ColumnKind = "numeric" | "time" | "text";

export interface ChunkColumnHeader {
  name: string;
  kind: ColumnKind;
  offset: number;
  byteLength: number;
  exceptionRows?: number[];
  exceptionValues?: string[];
  dictionary?: string[];
  /** Bytes per element when the body is byte-shuffled. */
  shuffle?: number;
}

export interface ChunkHeader {
  rows: number;
  columns: ChunkColumnHeader[];
}

export type ChunkColumn =
  | { name: string; kind: "numeric"; values: Float32Array; exceptions: Map<number, string> }
  | { name: string; kind: "time"; values: Float64Array; exceptions: Map<number, string> }
  | { name: string; kind: "text"; codes: Uint32Array; dictionary: string[] };

export interface DecodedChunk {
  rows: number;
  columns: ChunkColumn[];
}

/** Accumulates one chunk's rows column by column. */
export class ChunkBuilder {
  rows = 0;
  /** Per column: the chunk's Float32 values (numeric columns), written directly by the scanner's hot loop. */
  readonly numeric: (Float32Array | undefined)[] = [];
  readonly time: (Float64Array | undefined)[] = [];
  private readonly codes: (Uint32Array | undefined)[] = [];
  private readonly dictionaries: (Map<string, number> | undefined)[] = [];
  private readonly exceptionRows: number[][] = [];
  private readonly exceptionValues: string[][] = [];

  constructor(
    readonly names: readonly string[],
    readonly kinds: readonly ColumnKind[],
    readonly capacity = CHUNK_ROWS,
  ) {
    kinds.forEach((kind, column) => {
      this.numeric.push(kind === "numeric" ? new Float32Array(capacity) : undefined);
      this.time.push(kind === "time" ? new Float64Array(capacity) : undefined);
      this.codes.push(kind === "text" ? new Uint32Array(capacity) : undefined);
      this.dictionaries.push(kind === "text" ? new Map() : undefined);
      this.exceptionRows[column] = [];
      this.exceptionValues[column] = [];
    });
  }

  get full(): boolean {
    return this.rows >= this.capacity;
  }

  setNumber(column: number, value: number): void {
    this.numeric[column]![this.rows] = value;
  }

  setTime(column: number, value: number): void {
    this.time[column]![this.rows] = value;
  }

  /** Text in a numeric or time column, kept so preview shows what the file said. */
  setException(column: number, value: string): void {
    this.exceptionRows[column]!.push(this.rows);
    this.exceptionValues[column]!.push(value);
  }

  /** A text cell; undefined means missing. */
  setText(column: number, value: string | undefined): void {
    if (value === undefined) {
      this.codes[column]![this.rows] = 0;
      return;
    }
    const dictionary = this.dictionaries[column]!;
    let code = dictionary.get(value);
    if (code === undefined) {
      code = dictionary.size + 1;
      dictionary.set(value, code);
    }
    this.codes[column]![this.rows] = code;
  }

  endRow(): void {
    this.rows++;
  }

  /** Serialises and compresses the chunk. */
  encode(level = 3): Buffer {
    const columns: ChunkColumnHeader[] = [];
    const bodies: Uint8Array[] = [];
    let offset = 0;
    this.kinds.forEach((kind, column) => {
      const name = this.names[column]!;
      let body: Uint8Array;
      const header: ChunkColumnHeader = { name, kind, offset, byteLength: 0 };
      if (kind === "numeric") body = new Uint8Array(this.numeric[column]!.buffer, 0, this.rows * 4);
      else if (kind === "time") body = new Uint8Array(this.time[column]!.buffer, 0, this.rows * 8);
      else {
        body = new Uint8Array(this.codes[column]!.buffer, 0, this.rows * 4);
        header.dictionary = [...this.dictionaries[column]!.keys()];
      }
      if (kind !== "text" && this.exceptionRows[column]!.length > 0) {
        header.exceptionRows = this.exceptionRows[column];
        header.exceptionValues = this.exceptionValues[column];
      }
      header.byteLength = body.byteLength;
      columns.push(header);
      bodies.push(body);
      offset += align8(body.byteLength);
    });
    columns.forEach((column) => (column.shuffle = column.kind === "time" ? 8 : 4));
    const headerBytes = Buffer.from(JSON.stringify({ rows: this.rows, columns } satisfies ChunkHeader), "utf8");
    const start = align8(8 + headerBytes.length);
    const out = Buffer.alloc(start + offset);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(headerBytes.length, 4);
    headerBytes.copy(out, 8);
    columns.forEach((column, index) => shuffleInto(bodies[index]!, column.shuffle!, out, start + column.offset));
    return compress(out, { compressionLevel: level });
  }
}

/** Writes element byte k of every element together: all byte 0s, then all byte 1s, ... */
function shuffleInto(source: Uint8Array, width: number, target: Uint8Array, at: number): void {
  const count = source.length / width;
  for (let b = 0; b < width; b++) {
    const base = at + b * count;
    for (let i = 0, j = b; i < count; i++, j += width) target[base + i] = source[j]!;
  }
}

function unshuffleInto(source: Uint8Array, width: number, target: Uint8Array, at: number): void {
  const count = source.length / width;
  for (let b = 0; b < width; b++) {
    const base = b * count;
    for (let i = 0, j = at + b; i < count; i++, j += width) target[j] = source[base + i]!;
  }
}

function align8(value: number): number {
  return (value + 7) & ~7;
}

/** Decompresses and decodes one chunk. Throws on a corrupt object. */
export function decodeChunk(compressed: Uint8Array): DecodedChunk {
  const raw = decompress(compressed);
  if (raw.length < 8 || raw.readUInt32LE(0) !== MAGIC) throw new Error("Not a columnar chunk");
  const headerLength = raw.readUInt32LE(4);
  const header = JSON.parse(raw.toString("utf8", 8, 8 + headerLength)) as ChunkHeader;
  const start = align8(8 + headerLength);
  // Copy into a fresh, aligned ArrayBuffer so typed views are valid.
  const body = new Uint8Array(raw.length - start);
  for (const column of header.columns) {
    const source = raw.subarray(start + column.offset, start + column.offset + column.byteLength);
    if (column.shuffle) unshuffleInto(source, column.shuffle, body, column.offset);
    else body.set(source, column.offset);
  }
  const columns = header.columns.map((column): ChunkColumn => {
    const exceptions = new Map<number, string>();
    column.exceptionRows?.forEach((row, index) => exceptions.set(row, column.exceptionValues![index]!));
    if (column.kind === "numeric") {
      return { name: column.name, kind: "numeric", values: new Float32Array(body.buffer, column.offset, header.rows), exceptions };
    }
    if (column.kind === "time") {
      return { name: column.name, kind: "time", values: new Float64Array(body.buffer, column.offset, header.rows), exceptions };
    }
    return {
      name: column.name,
      kind: "text",
      codes: new Uint32Array(body.buffer, column.offset, header.rows),
      dictionary: column.dictionary ?? [],
    };
  });
  return { rows: header.rows, columns };
}

/** A whole dataset's columns, concatenated across chunks. */
export type TableColumn =
  | { name: string; kind: "numeric"; values: Float32Array; exceptions: Map<number, string> }
  | { name: string; kind: "time"; values: Float64Array; exceptions: Map<number, string> }
  | { name: string; kind: "text"; codes: Uint32Array; dictionary: string[] };

export interface Table {
  rows: number;
  columns: TableColumn[];
  /** Approximate bytes held, for the cache budget. */
  bytes: number;
}

/** Concatenates decoded chunks into one table (text dictionaries merged). */
export function concatChunks(chunks: DecodedChunk[]): Table {
  const rows = chunks.reduce((sum, chunk) => sum + chunk.rows, 0);
  const first = chunks[0];
  if (!first) return { rows: 0, columns: [], bytes: 0 };
  let bytes = 0;
  const columns = first.columns.map((template, index): TableColumn => {
    if (template.kind === "text") {
      const codes = new Uint32Array(rows);
      const dictionary: string[] = [];
      const global = new Map<string, number>();
      let at = 0;
      for (const chunk of chunks) {
        const column = chunk.columns[index] as Extract<ChunkColumn, { kind: "text" }>;
        const remap = column.dictionary.map((value) => {
          let code = global.get(value);
          if (code === undefined) {
            dictionary.push(value);
            code = dictionary.length;
            global.set(value, code);
          }
          return code;
        });
        for (let row = 0; row < chunk.rows; row++) {
          const code = column.codes[row]!;
          codes[at + row] = code === 0 ? 0 : remap[code - 1]!;
        }
        at += chunk.rows;
      }
      bytes += codes.byteLength + dictionary.reduce((sum, value) => sum + 2 * value.length + 32, 0);
      return { name: template.name, kind: "text", codes, dictionary };
    }
    const values = template.kind === "numeric" ? new Float32Array(rows) : new Float64Array(rows);
    const exceptions = new Map<number, string>();
    let at = 0;
    for (const chunk of chunks) {
      const column = chunk.columns[index] as Extract<ChunkColumn, { kind: "numeric" | "time" }>;
      values.set(column.values, at);
      for (const [row, value] of column.exceptions) exceptions.set(at + row, value);
      at += chunk.rows;
    }
    bytes += values.byteLength + exceptions.size * 64;
    return template.kind === "numeric"
      ? { name: template.name, kind: "numeric", values: values as Float32Array, exceptions }
      : { name: template.name, kind: "time", values: values as Float64Array, exceptions };
  });
  return { rows, columns, bytes };
}
