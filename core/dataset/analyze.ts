/**
 * Streaming CSV analysis: a byte-level scanner that detects the dialect (./sniff), reads
 * every row once, keeps per-column statistics (Welford) and, optionally, builds
 * the columnar copy chunk by chunk. Memory is bounded by one chunk of rows plus
 * one input buffer, whatever the file size.
 */
import { isUtf8 } from "node:buffer";
import { ChunkBuilder, CHUNK_ROWS, type ColumnKind } from "./columnar";
import {
  CELL_MISSING,
  CELL_NUMBER,
  parseNumber,
  parseTimestamp,
  parsed,
  formatTimestamp,
  type TimestampFormat,
} from "./parse";
import {
  DatasetFileError,
  NULL_TEXT,
  checkHeader,
  decodeSample,
  detectDelimiter,
  detectKinds,
  isBlank,
  isValueLike,
  looksBinary,
  splitRows,
  usesDecimalComma,
} from "./sniff";

export { DatasetFileError, MAX_COLUMN_NAME_LENGTH } from "./sniff";

export const MAX_COLUMNS = 512;
export const MAX_ROW_BYTES = 1024 * 1024;
const SNIFF_BYTES = 64 * 1024;
const CHUNK_BUDGET_BYTES = 32 * 1024 * 1024;
const MAX_SNIFF_BYTES = MAX_ROW_BYTES + SNIFF_BYTES;

const KIND_NUMERIC = 0;
const KIND_TIME = 1;
const KIND_TEXT = 2;

const QUOTE = 34;
const LF = 10;
const CR = 13;

export type LineEndings = "lf" | "crlf" | "mixed" | "cr" | "none";

export interface ColumnStats {
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Sample standard deviation (n - 1), 0 for a single value. */
  std: number | null;
  count_numeric: number;
  count_non_numeric: number;
  count_missing: number;
}

export interface Profile {
  row_count: number;
  columns: string[];
  column_kinds: Record<string, ColumnKind>;
  column_stats: Record<string, ColumnStats>;
  delimiter: string;
  decimal_separator: "." | ",";
  has_header: boolean;
  line_endings: LineEndings;
  bom: boolean;
  quoted_fields: boolean;
  timestamp_column: string | null;
  timestamp_format: TimestampFormat | null;
  time_range: { start: string; end: string } | null;
  sampling_interval_seconds: number | null;
  /** Share of consecutive timestamp deltas within 1% of the median delta (0..1). */
  sampling_regularity: number | null;
  invalid_timestamps: number;
  out_of_order_timestamps: number;
  ragged_rows: number;
  /** 1-based data row number of the first row whose field count differs from the header. */
  first_ragged_row: number | null;
  label_column: string | null;
  file_size_bytes: number;
  chunk_count: number;
  /** Rows in every columnar chunk but the last. */
  chunk_rows: number;
}

export interface AnalyzeOptions {
  /** Build and emit columnar chunks (ingest); false computes statistics only. */
  columnar?: boolean;
  /** Rows per columnar chunk. */
  chunkRows?: number;
  /** Receives each encoded chunk in order; awaited before more input is read. */
  onChunk?: (index: number, bytes: Buffer) => Promise<void>;
  /** zstd level of the chunks (1: float data barely compresses better at higher levels, and costs 3x the time). */
  compressionLevel?: number;
}

interface Dialect {
  /** Decimal separator byte (46 '.' or 44 ','). */
  decimal: number;
  delimiter: number;
  newline: number;
  hasHeader: boolean;
  names: string[];
  kinds: ColumnKind[];
  timestampColumn: number;
  timestampFormat: TimestampFormat | null;
}

const LABEL_NAMES = /^(anomaly|anomalies|is_anomaly|fault|faults|is_fault|label|target)$/i;

/**
 * Streams a CSV through `push` and returns its profile from `finish`. Throws
 * DatasetFileError for files that are not usable CSV.
 */
export class CsvAnalyzer {
  private readonly options: Required<Omit<AnalyzeOptions, "onChunk">> & Pick<AnalyzeOptions, "onChunk">;
  private sample: Buffer[] = [];
  private sampleBytes = 0;
  private work = Buffer.allocUnsafe(64 * 1024);
  private carryLength = 0;
  private dialect: Dialect | undefined;
  private bom = false;
  private totalBytes = 0;
  private headerPending = false;
  private kindCodes = new Uint8Array(0);

  // Row scanning state.
  private readonly starts = new Int32Array(MAX_COLUMNS + 2);
  private readonly ends = new Int32Array(MAX_COLUMNS + 2);
  private readonly flags = new Uint8Array(MAX_COLUMNS + 2);
  private lf = 0;
  private crlf = 0;
  private crOnly = 0;
  private quoted = false;

  // Statistics, one slot per column.
  private rows = 0;
  private ragged = 0;
  private firstRagged = 0;
  private count = new Float64Array(0);
  private mean = new Float64Array(0);
  private m2 = new Float64Array(0);
  private min = new Float64Array(0);
  private max = new Float64Array(0);
  private missing = new Float64Array(0);
  private text = new Float64Array(0);
  private nonBinary = new Uint8Array(0);

  // Timestamp column.
  private tMin = Infinity;
  private tMax = -Infinity;
  private tPrev = NaN;
  private tInvalid = 0;
  private tOutOfOrder = 0;
  private deltas = new Float64Array(1 << 16);
  private deltaCount = 0;
  private deltaSeen = 0;
  private deltaStride = 1;

  // Columnar output.
  private builder: ChunkBuilder | undefined;
  private chunkIndex = 0;
  private pending: Buffer[] = [];
  private chunkRows = CHUNK_ROWS;

  constructor(options: AnalyzeOptions = {}) {
    this.options = {
      columnar: options.columnar ?? true,
      chunkRows: options.chunkRows ?? CHUNK_ROWS,
      compressionLevel: options.compressionLevel ?? 1,
      onChunk: options.onChunk,
    };
  }

  /** Feeds the next bytes of the file. */
  async push(chunk: Uint8Array): Promise<void> {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.totalBytes += bytes.length;
    if (!this.dialect) {
      this.sample.push(bytes);
      this.sampleBytes += bytes.length;
      if (this.sampleBytes < SNIFF_BYTES) return;
      const sample = Buffer.concat(this.sample);
      if (!this.tryStart(sample, false)) {
        if (sample.length > MAX_SNIFF_BYTES) {
          throw new DatasetFileError("dataset.row_too_long", `The first row is longer than ${MAX_ROW_BYTES} bytes; is this a CSV file?`);
        }
        this.sample = [sample];
        return;
      }
      this.sample = [];
      this.feed(sample, false);
    } else {
      this.feed(bytes, false);
    }
    await this.drain();
  }

  /** Ends the input and returns the profile. */
  async finish(): Promise<Profile> {
    if (!this.dialect) {
      const sample = Buffer.concat(this.sample);
      this.sample = [];
      this.tryStart(sample, true);
      this.feed(sample, true);
    } else {
      this.feed(Buffer.alloc(0), true);
    }
    if (this.rows === 0) {
      throw new DatasetFileError("dataset.no_rows", "The file has a header but no data rows");
    }
    if (this.builder && this.builder.rows > 0) this.flushChunk();
    await this.drain();
    return this.profile();
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const bytes = this.pending.shift()!;
      const index = this.chunkIndex++;
      if (this.options.onChunk) await this.options.onChunk(index, bytes);
    }
  }

  /** Sniffs the dialect from the first bytes; false when more bytes are needed. */
  private tryStart(sample: Buffer, final: boolean): boolean {
    try {
      return this.sniff(sample, final);
    } finally {
      parsed.decimal = 46;
    }
  }

  private sniff(sample: Buffer, final: boolean): boolean {
    let offset = 0;
    if (sample.length >= 2 && ((sample[0] === 0xff && sample[1] === 0xfe) || (sample[0] === 0xfe && sample[1] === 0xff))) {
      throw new DatasetFileError("dataset.unsupported_encoding", "The file is UTF-16 encoded; save it as UTF-8 CSV");
    }
    if (sample.length >= 3 && sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) {
      this.bom = true;
      offset = 3;
    }
    const body = sample.subarray(offset);
    if (isBlank(body)) {
      if (!final) return false;
      throw new DatasetFileError("dataset.empty_file", "The file is empty");
    }
    const probe = body.subarray(0, Math.min(body.length, SNIFF_BYTES));
    if (looksBinary(probe)) {
      throw new DatasetFileError("dataset.binary_file", "The file looks like binary data, not CSV text");
    }
    const newline = body.indexOf(LF) === -1 && body.indexOf(CR) !== -1 ? CR : LF;
    if (!final && body.indexOf(newline) === -1) return false;
    const text = decodeSample(body, final);
    const delimiter = detectDelimiter(text, newline === CR ? "\r" : "\n");
    const rows = splitRows(text, delimiter, newline === CR ? "\r" : "\n", 1000, final);
    const decimal = delimiter !== "," && usesDecimalComma(rows) ? 44 : 46;
    parsed.decimal = decimal;
    const first = rows[0];
    if (!first) {
      if (!final) return false;
      throw new DatasetFileError("dataset.empty_file", "The file is empty");
    }
    if (first.length > MAX_COLUMNS) {
      throw new DatasetFileError(
        "dataset.too_many_columns",
        `The file has ${first.length} columns; at most ${MAX_COLUMNS} are supported`,
        { columns: first.length, max_columns: MAX_COLUMNS },
      );
    }
    const hasHeader = !first.every((cell) => isValueLike(cell));
    const dataRows = hasHeader ? rows.slice(1) : rows;
    let names = hasHeader ? first.map((name) => name.trim()) : first.map((_, index) => `column_${index + 1}`);
    if (hasHeader) checkHeader(names);
    const { kinds, timestampColumn, timestampFormat } = detectKinds(names, dataRows, first.length);
    if (!hasHeader && timestampColumn >= 0 && !names.includes("timestamp")) {
      names = names.map((name, index) => (index === timestampColumn ? "timestamp" : name));
    }
    this.dialect = {
      decimal,
      delimiter: delimiter.charCodeAt(0),
      newline,
      hasHeader,
      names,
      kinds,
      timestampColumn,
      timestampFormat,
    };
    this.headerPending = hasHeader;
    this.kindCodes = Uint8Array.from(kinds, (kind) => (kind === "numeric" ? KIND_NUMERIC : kind === "time" ? KIND_TIME : KIND_TEXT));
    const columns = names.length;
    this.count = new Float64Array(columns);
    this.mean = new Float64Array(columns);
    this.m2 = new Float64Array(columns);
    this.min = new Float64Array(columns).fill(Infinity);
    this.max = new Float64Array(columns).fill(-Infinity);
    this.missing = new Float64Array(columns);
    this.text = new Float64Array(columns);
    this.nonBinary = new Uint8Array(columns);
    // Wide files get shorter chunks so one chunk's arrays stay near CHUNK_BUDGET_BYTES.
    this.chunkRows = Math.min(this.options.chunkRows, Math.max(1024, Math.floor(CHUNK_BUDGET_BYTES / (columns * 8))));
    if (this.options.columnar) this.builder = new ChunkBuilder(names, kinds, this.chunkRows);
    // Drop the BOM from the bytes the scanner sees.
    if (offset > 0) this.skip = offset;
    return true;
  }

  private skip = 0;

  private feed(bytes: Buffer, final: boolean): void {
    // The number parser is shared: this file's decimal separator holds for this (synchronous) scan only.
    parsed.decimal = this.dialect!.decimal;
    try {
      this.feedBytes(bytes, final);
    } finally {
      parsed.decimal = 46;
    }
  }

  private feedBytes(bytes: Buffer, final: boolean): void {
    let buf: Buffer;
    if (this.carryLength > 0) {
      // The incomplete row left over from the last buffer goes in front of the new bytes, in a reused work buffer.
      const need = this.carryLength + bytes.length;
      if (need > this.work.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, this.work.length * 2));
        this.work.copy(grown, 0, 0, this.carryLength);
        this.work = grown;
      }
      bytes.copy(this.work, this.carryLength);
      buf = this.work.subarray(0, need);
    } else buf = bytes;
    if (this.skip > 0) {
      buf = buf.subarray(this.skip);
      this.skip = 0;
    }
    const consumed = this.scan(buf, final);
    if (consumed > 0 && !isUtf8(buf.subarray(0, consumed))) {
      throw new DatasetFileError(
        "dataset.invalid_encoding",
        "The file is not valid UTF-8 text; save it as UTF-8 CSV",
      );
    }
    const rest = buf.length - consumed;
    if (rest > MAX_ROW_BYTES) {
      throw new DatasetFileError(
        "dataset.row_too_long",
        `Row ${this.rows + 1} is longer than ${MAX_ROW_BYTES} bytes (unbalanced quote?)`,
      );
    }
    if (rest > 0) {
      if (buf.buffer === this.work.buffer) this.work.copyWithin(0, buf.byteOffset - this.work.byteOffset + consumed, buf.byteOffset - this.work.byteOffset + buf.length);
      else {
        if (rest > this.work.length) this.work = Buffer.allocUnsafe(Math.max(rest, 64 * 1024));
        buf.copy(this.work, 0, consumed);
      }
    }
    this.carryLength = rest;
  }

  /** Scans whole rows of `buf`; returns where the first incomplete row starts. */
  private scan(buf: Buffer, final: boolean): number {
    const n = buf.length;
    const D = this.dialect!.delimiter;
    const NL = this.dialect!.newline;
    const starts = this.starts;
    const ends = this.ends;
    const flags = this.flags;
    const limit = MAX_COLUMNS + 1;
    let i = 0;
    while (i < n) {
      const rowStart = i;
      let fields = 0;
      for (;;) {
        if (i < n && buf[i] === QUOTE) {
          this.quoted = true;
          let j = i + 1;
          let escaped = 0;
          for (;;) {
            j = buf.indexOf(QUOTE, j);
            if (j === -1) {
              if (!final) return rowStart;
              throw new DatasetFileError("dataset.unterminated_quote", `Row ${this.rows + 1} has a quoted field that is never closed`);
            }
            if (j + 1 < n) {
              if (buf[j + 1] === QUOTE) {
                escaped = 2;
                j += 2;
                continue;
              }
              break;
            }
            if (!final) return rowStart;
            break;
          }
          if (fields < limit) {
            starts[fields] = i + 1;
            ends[fields] = j;
            flags[fields] = 1 | escaped;
          }
          fields++;
          i = j + 1;
          while (i < n) {
            const c = buf[i];
            if (c === D || c === NL) break;
            i++;
          }
        } else {
          const s = i;
          while (i < n) {
            const c = buf[i];
            if (c === D || c === NL) break;
            i++;
          }
          if (fields < limit) {
            starts[fields] = s;
            ends[fields] = i;
            flags[fields] = 0;
          }
          fields++;
        }
        if (i >= n) {
          if (!final) return rowStart;
          break;
        }
        if (buf[i] === D) {
          i++;
          if (i >= n && !final) return rowStart;
          continue;
        }
        if (NL === LF) {
          if (i > 0 && buf[i - 1] === CR) this.crlf++;
          else this.lf++;
        } else {
          this.crOnly++;
        }
        i++;
        break;
      }
      this.commitRow(buf, fields);
    }
    return n;
  }

  private commitRow(buf: Buffer, fields: number): void {
    const starts = this.starts;
    const ends = this.ends;
    // Blank line (possibly just "\r"): not a row.
    if (fields === 1) {
      let s = starts[0]!;
      const e = ends[0]!;
      if (this.flags[0] === 0) {
        while (s < e && (buf[s] === CR || buf[s] === 32 || buf[s] === 9)) s++;
        if (s === e) return;
      }
    }
    if (this.headerPending) {
      this.headerPending = false;
      return;
    }
    const codes = this.kindCodes;
    const columns = codes.length;
    this.rows++;
    if (fields !== columns) {
      if (this.ragged === 0) this.firstRagged = this.rows;
      this.ragged++;
    }
    const builder = this.builder;
    const row = builder ? builder.rows : 0;
    const numericOut = builder ? builder.numeric : undefined;
    const flags = this.flags;
    const count = this.count;
    const mean = this.mean;
    const m2 = this.m2;
    const min = this.min;
    const max = this.max;
    for (let c = 0; c < columns; c++) {
      const kind = codes[c];
      if (c >= fields) {
        this.missing[c]!++;
        if (builder) {
          if (kind === KIND_NUMERIC) numericOut![c]![row] = NaN;
          else if (kind === KIND_TIME) builder.setTime(c, NaN);
          else builder.setText(c, undefined);
        }
        continue;
      }
      const s = starts[c]!;
      const e = ends[c]!;
      if (kind === KIND_TIME) {
        this.timeCell(buf, s, e, c);
        continue;
      }
      const value = parseNumber(buf, s, e);
      const cell = parsed.kind;
      if (cell === CELL_NUMBER) {
        const n = ++count[c]!;
        const delta = value - mean[c]!;
        const next = mean[c]! + delta / n;
        mean[c] = next;
        m2[c]! += delta * (value - next);
        if (value < min[c]!) min[c] = value;
        if (value > max[c]!) max[c] = value;
        if (value !== 0 && value !== 1) this.nonBinary[c] = 1;
        if (numericOut) {
          if (kind === KIND_NUMERIC) numericOut[c]![row] = value;
          else builder!.setText(c, cellText(buf, s, e, flags[c]!));
        }
      } else if (cell === CELL_MISSING) {
        this.missing[c]!++;
        if (builder) {
          if (kind === KIND_NUMERIC) numericOut![c]![row] = NaN;
          else builder.setText(c, undefined);
        }
      } else {
        this.text[c]!++;
        if (builder) {
          const raw = cellText(buf, s, e, flags[c]!);
          if (kind === KIND_NUMERIC) {
            numericOut![c]![row] = NaN;
            builder.setException(c, raw);
          } else builder.setText(c, raw);
        }
      }
    }
    if (builder) {
      builder.endRow();
      if (builder.full) this.flushChunk();
    }
  }

  private timeCell(buf: Buffer, s: number, e: number, c: number): void {
    const builder = this.builder;
    const t = parseTimestamp(buf, s, e, this.dialect!.timestampFormat!);
    if (t === t) {
      this.observeTime(t);
      if (builder) builder.setTime(c, t);
      return;
    }
    const raw = cellText(buf, s, e, this.flags[c]!);
    if (NULL_TEXT.has(raw)) this.missing[c]!++;
    else {
      this.tInvalid++;
      this.text[c]!++;
      if (builder) builder.setException(c, raw);
    }
    if (builder) builder.setTime(c, NaN);
  }

  private observeTime(t: number): void {
    if (t < this.tMin) this.tMin = t;
    if (t > this.tMax) this.tMax = t;
    const prev = this.tPrev;
    this.tPrev = t;
    if (prev !== prev) return;
    const delta = t - prev;
    if (delta < 0) this.tOutOfOrder++;
    // Systematic sample of deltas with bounded memory: keep every stride-th one.
    if (this.deltaSeen++ % this.deltaStride !== 0) return;
    if (this.deltaCount === this.deltas.length) {
      if (this.deltas.length < 1 << 20) {
        const grown = new Float64Array(this.deltas.length * 2);
        grown.set(this.deltas);
        this.deltas = grown;
      } else {
        for (let k = 0; k < this.deltaCount / 2; k++) this.deltas[k] = this.deltas[2 * k]!;
        this.deltaCount = Math.floor(this.deltaCount / 2);
        this.deltaStride *= 2;
      }
    }
    this.deltas[this.deltaCount++] = delta;
  }

  private flushChunk(): void {
    const builder = this.builder!;
    this.pending.push(builder.encode(this.options.compressionLevel));
    this.builder = new ChunkBuilder(builder.names, builder.kinds, this.chunkRows);
  }

  private profile(): Profile {
    const dialect = this.dialect!;
    const columnStats: Record<string, ColumnStats> = {};
    const columnKinds: Record<string, ColumnKind> = {};
    let labelColumn: string | null = null;
    dialect.names.forEach((name, c) => {
      columnKinds[name] = dialect.kinds[c]!;
      if (c === dialect.timestampColumn) return;
      const n = this.count[c]!;
      columnStats[name] = {
        min: n > 0 ? this.min[c]! : null,
        max: n > 0 ? this.max[c]! : null,
        mean: n > 0 ? this.mean[c]! : null,
        std: n > 1 ? Math.sqrt(this.m2[c]! / (n - 1)) : n === 1 ? 0 : null,
        count_numeric: n,
        count_non_numeric: this.text[c]!,
        count_missing: this.missing[c]!,
      };
      if (!labelColumn && LABEL_NAMES.test(name) && n > 0 && this.nonBinary[c] === 0 && this.text[c] === 0) {
        labelColumn = name;
      }
    });
    const timestampColumn = dialect.timestampColumn;
    let interval: number | null = null;
    let regularity: number | null = null;
    if (this.deltaCount > 0) {
      const sample = this.deltas.slice(0, this.deltaCount).sort();
      const median = sample[Math.floor((sample.length - 1) / 2)]!;
      interval = median / 1000;
      const tolerance = Math.max(Math.abs(median) * 0.01, 1);
      let within = 0;
      for (const delta of sample) if (Math.abs(delta - median) <= tolerance) within++;
      regularity = within / sample.length;
    }
    const timeColumnName = timestampColumn >= 0 ? dialect.names[timestampColumn]! : null;
    if (timeColumnName) {
      columnKinds[timeColumnName] = "time";
    }
    return {
      row_count: this.rows,
      columns: [...dialect.names],
      column_kinds: columnKinds,
      column_stats: columnStats,
      delimiter: String.fromCharCode(dialect.delimiter),
      decimal_separator: dialect.decimal === 44 ? "," : ".",
      has_header: dialect.hasHeader,
      line_endings: this.lineEndings(),
      bom: this.bom,
      quoted_fields: this.quoted,
      timestamp_column: timeColumnName,
      timestamp_format: dialect.timestampFormat,
      time_range:
        this.tMin <= this.tMax ? { start: formatTimestamp(this.tMin), end: formatTimestamp(this.tMax) } : null,
      sampling_interval_seconds: interval,
      sampling_regularity: regularity,
      invalid_timestamps: this.tInvalid,
      out_of_order_timestamps: this.tOutOfOrder,
      ragged_rows: this.ragged,
      first_ragged_row: this.ragged > 0 ? this.firstRagged : null,
      label_column: labelColumn,
      file_size_bytes: this.totalBytes,
      chunk_count: this.chunkIndex,
      chunk_rows: this.chunkRows,
    };
  }

  private lineEndings(): LineEndings {
    if (this.crOnly > 0) return "cr";
    if (this.crlf > 0 && this.lf > 0) return "mixed";
    if (this.crlf > 0) return "crlf";
    if (this.lf > 0) return "lf";
    return "none";
  }
}

/** The text of a cell: quotes unescaped, surrounding spaces and CR removed. */
function cellText(buf: Buffer, s: number, e: number, flag: number): string {
  if (flag === 0) {
    while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
    while (e > s && (buf[e - 1] === 32 || buf[e - 1] === 9 || buf[e - 1] === CR)) e--;
    return buf.toString("utf8", s, e);
  }
  const raw = buf.toString("utf8", s, e);
  return flag & 2 ? raw.replaceAll('""', '"') : raw;
}

/** Convenience for tests and tools: analyses a whole in-memory file. */
export async function analyzeBuffer(bytes: Uint8Array, options: AnalyzeOptions = {}): Promise<Profile> {
  const analyzer = new CsvAnalyzer(options);
  const step = 64 * 1024;
  for (let at = 0; at < bytes.length; at += step) await analyzer.push(bytes.subarray(at, Math.min(bytes.length, at + step)));
  return analyzer.finish();
}
