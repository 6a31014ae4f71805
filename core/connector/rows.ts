/**
 * What every source hands the import: column names and rows of plain values,
 * turned into the CSV text the dataset ingest reads. Types are mapped one
 * way for every source: timestamps (Date, or the driver's text) become ISO
 * 8601 UTC, numbers and big integers their decimal text, booleans 1/0,
 * null/undefined a missing value, anything else its JSON text.
 */

export type Value = unknown;

export interface SourceRows {
  columns: string[];
  rows: AsyncIterable<Value[]>;
  /** Ends the query and the connection early (after an error, a cap or a probe). */
  close(): Promise<void>;
}

/** How many rows the synchronous probe reads. */
export const PROBE_ROWS = 100;

/** One CSV cell. */
export function cell(value: Value): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "" : value.toISOString();
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? "1" : "0";
  const text = typeof value === "string" ? value : Buffer.isBuffer(value) ? value.toString("base64") : JSON.stringify(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: Value[]): string {
  return values.map(cell).join(",") + "\n";
}

/** Column names that say "the time of the row", in order of preference. */
export const TIME_COLUMN_NAMES = ["timestamp", "time", "ts", "datetime", "date_time", "_time", "event_time", "recorded_at", "time_stamp", "created_at", "date"];
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

function isNumeric(value: Value): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value === "bigint") return true;
  return typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value));
}

function isTimestamp(value: Value): boolean {
  return value instanceof Date || (typeof value === "string" && ISO_LIKE.test(value) && !Number.isNaN(Date.parse(value)));
}

export interface ProbeShape {
  time_column: string;
  numeric_columns: string[];
}

/**
 * Checks that the first rows of a source can become a dataset: one time
 * column (timestamps in every sampled row) and at least one numeric column.
 * Returns undefined with the problem's code otherwise.
 */
export function shapeOf(columns: string[], sample: Value[][]): ProbeShape | { problem: "no_rows" | "no_time_column" | "no_numeric_columns" } {
  if (sample.length === 0) return { problem: "no_rows" };
  const present = (index: number) => sample.map((row) => row[index]).filter((value) => value !== null && value !== undefined && value !== "");
  const timeColumns = columns.filter((_, index) => {
    const values = present(index);
    return values.length === sample.length && values.every(isTimestamp);
  });
  const timeColumn = timeColumns.find((name) => TIME_COLUMN_NAMES.includes(name.toLowerCase())) ?? timeColumns[0];
  if (!timeColumn) return { problem: "no_time_column" };
  const numeric = columns.filter((name, index) => {
    if (name === timeColumn) return false;
    const values = present(index);
    return values.length > 0 && values.every(isNumeric);
  });
  if (numeric.length === 0) return { problem: "no_numeric_columns" };
  return { time_column: timeColumn, numeric_columns: numeric };
}

/**
 * JSON objects as rows: the columns are the keys of the first batch (in order
 * of appearance); keys that appear only later are not imported.
 */
export async function objectSource(
  batches: AsyncIterable<Record<string, Value>[]>,
  close: () => Promise<void> = async () => {},
): Promise<SourceRows> {
  const iterator = batches[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head = first.done ? [] : first.value;
  const columns: string[] = [];
  for (const object of head) for (const key of Object.keys(object)) if (!columns.includes(key)) columns.push(key);
  async function* rows(): AsyncGenerator<Value[]> {
    for (const object of head) yield columns.map((column) => object[column]);
    if (first.done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      for (const object of next.value) yield columns.map((column) => object[column]);
    }
  }
  return { columns, rows: rows(), close: async () => { await iterator.return?.(); await close(); } };
}
