/**
 * Dialect detection on the first part of a file: encoding, delimiter, decimal
 * separator, header, column kinds and the timestamp column. The scanner in
 * ./analyze reads the whole file once this has decided how.
 */
import { isUtf8 } from "node:buffer";
import type { ColumnKind } from "./columnar";
import { CELL_MISSING, CELL_NUMBER, parseIsoTimestamp, parseNumber, parsed, type TimestampFormat } from "./parse";

export const MAX_COLUMN_NAME_LENGTH = 128;

const LF = 10;
const CR = 13;

/** A file that cannot become a dataset; `message` is shown to the user as the failure reason. */
export class DatasetFileError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "DatasetFileError";
  }
}

/** Cells that mean "no value" in any column. */
export const NULL_TEXT = new Set(["", "NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none", "#N/A", "-nan"]);
const TIME_NAMES = /^(timestamp|time|datetime|date|ts|epoch|time_?stamp|date_?time|.*[_ ](time|timestamp|ts|date))$/i;

export function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c !== 32 && c !== 9 && c !== LF && c !== CR) return false;
  }
  return true;
}

export function looksBinary(bytes: Buffer): boolean {
  let control = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0) return true;
    if (c < 32 && c !== 9 && c !== LF && c !== CR && c !== 12) control++;
  }
  return control > bytes.length / 100;
}

export function decodeSample(body: Buffer, final: boolean): string {
  // The sniffer only needs whole lines; a trailing partial character is dropped.
  let end = body.length;
  if (!final) {
    const lastNewline = Math.max(body.lastIndexOf(LF), body.lastIndexOf(CR));
    if (lastNewline >= 0) end = lastNewline + 1;
  }
  const slice = body.subarray(0, end);
  if (!isUtf8(slice)) {
    throw new DatasetFileError("dataset.invalid_encoding", "The file is not valid UTF-8 text; save it as UTF-8 CSV");
  }
  return slice.toString("utf8");
}

/** Splits CSV text into rows of cells with the scanner's quoting rules (sniffing only). */
export function splitRows(text: string, delimiter: string, newline: string, maxRows: number, final: boolean): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const n = text.length;
  while (i <= n && rows.length < maxRows) {
    let cell = "";
    if (text[i] === '"') {
      const close = findClosingQuote(text, i + 1);
      if (close === -1) break; // incomplete quoted cell at the end of the sample
      cell = text.slice(i + 1, close).replaceAll('""', '"');
      i = close + 1;
      while (i < n && text[i] !== delimiter && text[i] !== newline) i++;
    } else {
      const start = i;
      while (i < n && text[i] !== delimiter && text[i] !== newline) i++;
      cell = text.slice(start, i).replace(/\r$/, "");
    }
    row.push(cell);
    if (i >= n) {
      if (final && !(row.length === 1 && row[0]!.trim() === "")) rows.push(row);
      break;
    }
    if (text[i] === delimiter) {
      i++;
      continue;
    }
    i++;
    if (!(row.length === 1 && row[0]!.trim() === "")) rows.push(row);
    row = [];
  }
  return rows;
}

function findClosingQuote(text: string, from: number): number {
  let j = from;
  for (;;) {
    j = text.indexOf('"', j);
    if (j === -1) return -1;
    if (text[j + 1] === '"') {
      j += 2;
      continue;
    }
    return j;
  }
}

const DELIMITERS = [",", ";", "\t", "|"];

export function detectDelimiter(text: string, newline: string): string {
  let best = ",";
  let bestScore = -1;
  for (const delimiter of DELIMITERS) {
    const rows = splitRows(text, delimiter, newline, 50, false);
    const considered = rows.length > 0 ? rows : splitRows(text, delimiter, newline, 50, true);
    if (considered.length === 0) continue;
    const counts = new Map<number, number>();
    for (const row of considered) counts.set(row.length, (counts.get(row.length) ?? 0) + 1);
    let mode = 1;
    let modeRows = 0;
    for (const [fields, rowsWith] of counts) {
      if (rowsWith > modeRows || (rowsWith === modeRows && fields > mode)) {
        mode = fields;
        modeRows = rowsWith;
      }
    }
    if (mode < 2) continue;
    const consistency = modeRows / considered.length;
    const score = Math.round(consistency * 100) * 10_000 + Math.min(mode, 9_999);
    if (score > bestScore) {
      bestScore = score;
      best = delimiter;
    }
  }
  return best;
}

/** Semicolon/tab files from European tools often write 20,5: commas in numbers and no dot decimals. */
export function usesDecimalComma(rows: string[][]): boolean {
  let comma = 0;
  let dot = 0;
  for (const row of rows.slice(1)) {
    for (const cell of row) {
      const trimmed = cell.trim();
      if (/^[+-]?\d*,\d+$/.test(trimmed)) comma++;
      else if (/^[+-]?\d*\.\d+$/.test(trimmed)) dot++;
    }
  }
  return comma > 0 && dot === 0;
}

export function isValueLike(cell: string): boolean {
  const trimmed = cell.trim();
  if (trimmed === "") return true;
  const bytes = Buffer.from(trimmed, "utf8");
  parseNumber(bytes, 0, bytes.length);
  if (parsed.kind === CELL_NUMBER) return true;
  return !Number.isNaN(parseIsoTimestamp(bytes, 0, bytes.length));
}

export function checkHeader(names: string[]): void {
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    if (name === "") {
      throw new DatasetFileError("dataset.empty_header", `Column ${index + 1} has an empty header name`, { column: index + 1 });
    }
    if (name.length > MAX_COLUMN_NAME_LENGTH) {
      throw new DatasetFileError(
        "dataset.header_too_long",
        `Column ${index + 1} has a header name longer than ${MAX_COLUMN_NAME_LENGTH} characters`,
        { column: index + 1 },
      );
    }
    const previous = seen.get(name);
    if (previous !== undefined) {
      throw new DatasetFileError(
        "dataset.duplicate_header",
        `Duplicate column name '${name}' (columns ${previous + 1} and ${index + 1})`,
        { name, columns: [previous + 1, index + 1] },
      );
    }
    seen.set(name, index);
  });
}

export function detectKinds(
  names: string[],
  rows: string[][],
  columns: number,
): { kinds: ColumnKind[]; timestampColumn: number; timestampFormat: TimestampFormat | null } {
  const kinds: ColumnKind[] = [];
  let timestampColumn = -1;
  let timestampFormat: TimestampFormat | null = null;
  for (let c = 0; c < columns; c++) {
    let numeric = 0;
    let textual = 0;
    let iso = 0;
    let spaced = 0;
    let epochSeconds = 0;
    let epochMillis = 0;
    for (const row of rows) {
      const cell = row[c];
      if (cell === undefined) continue;
      const trimmed = cell.trim();
      if (NULL_TEXT.has(trimmed)) continue;
      const bytes = Buffer.from(trimmed, "utf8");
      const value = parseNumber(bytes, 0, bytes.length);
      if (parsed.kind === CELL_NUMBER) {
        numeric++;
        if (value >= 1e8 && value < 1e11) epochSeconds++;
        else if (value >= 1e11 && value < 1e14) epochMillis++;
        continue;
      }
      if (parsed.kind === CELL_MISSING) continue;
      if (!Number.isNaN(parseIsoTimestamp(bytes, 0, bytes.length))) {
        iso++;
        if (parsed.separator === 32) spaced++;
      } else textual++;
    }
    const present = numeric + textual + iso;
    if (timestampColumn < 0 && iso > 0 && iso >= 0.9 * present) {
      timestampColumn = c;
      timestampFormat = spaced > iso / 2 ? "datetime" : "iso8601";
      kinds.push("time");
      continue;
    }
    kinds.push(numeric >= textual + iso ? "numeric" : "text");
  }
  if (timestampColumn < 0) {
    // Epoch numbers only count as time when the column is named like one.
    for (let c = 0; c < columns; c++) {
      if (!TIME_NAMES.test(names[c] ?? "")) continue;
      let seconds = 0;
      let millis = 0;
      let other = 0;
      for (const row of rows) {
        const cell = row[c]?.trim();
        if (cell === undefined || NULL_TEXT.has(cell)) continue;
        const bytes = Buffer.from(cell, "utf8");
        const value = parseNumber(bytes, 0, bytes.length);
        if (parsed.kind !== CELL_NUMBER) other++;
        else if (value >= 1e8 && value < 1e11) seconds++;
        else if (value >= 1e11 && value < 1e14) millis++;
        else other++;
      }
      const present = seconds + millis + other;
      if (present === 0) continue;
      if (seconds >= 0.9 * present) timestampFormat = "epoch_s";
      else if (millis >= 0.9 * present) timestampFormat = "epoch_ms";
      else continue;
      timestampColumn = c;
      kinds[c] = "time";
      break;
    }
  }
  return { kinds, timestampColumn, timestampFormat };
}
