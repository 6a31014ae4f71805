import { describe, expect, it } from "vitest";
import { analyzeBuffer, CsvAnalyzer, DatasetFileError, MAX_COLUMNS, type Profile } from "../../core/dataset/analyze";
import { concatChunks, decodeChunk } from "../../core/dataset/columnar";
import { CELL_MISSING, CELL_NUMBER, CELL_TEXT, classify, parseIsoTimestamp } from "../../core/dataset/parse";
import { referenceStats } from "./helpers";

const utf8 = (text: string) => new TextEncoder().encode(text);

async function analyze(text: string | Uint8Array, pieceSize?: number): Promise<Profile> {
  const bytes = typeof text === "string" ? utf8(text) : text;
  if (!pieceSize) return analyzeBuffer(bytes, { columnar: false });
  const analyzer = new CsvAnalyzer({ columnar: false });
  for (let at = 0; at < bytes.length; at += pieceSize) await analyzer.push(bytes.subarray(at, at + pieceSize));
  return analyzer.finish();
}

async function failureOf(text: string | Uint8Array): Promise<DatasetFileError> {
  try {
    await analyze(text);
  } catch (error) {
    if (error instanceof DatasetFileError) return error;
    throw error;
  }
  throw new Error("expected the file to be rejected");
}

/** Deterministic pseudo-random numbers for fixtures. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

describe("number and timestamp cells", () => {
  it("reads decimal text exactly as Number() does", () => {
    const random = lcg(7);
    for (let i = 0; i < 20_000; i++) {
      const integer = Math.floor(random() * 10 ** Math.floor(random() * 9));
      const decimals = Math.floor(random() * 8);
      const fraction = decimals > 0 ? `.${String(Math.floor(random() * 10 ** decimals)).padStart(decimals, "0")}` : "";
      const text = `${random() < 0.3 ? "-" : ""}${integer}${fraction}`;
      const cell = classify(text);
      expect(cell.kind).toBe(CELL_NUMBER);
      expect(cell.value).toBe(Number(text));
    }
  });

  it.each([
    ["1e3", 1000],
    ["-2.5E-2", -0.025],
    ["12345678901234567890", 12345678901234567890],
    [" 42 ", 42],
    [".5", 0.5],
    ["+7", 7],
  ])("reads %j as a number", (text, expected) => {
    const cell = classify(text);
    expect(cell.kind).toBe(CELL_NUMBER);
    expect(cell.value).toBe(expected);
  });

  it.each(["", "  ", "NA", "N/A", "NaN", "null", "None"])("reads %j as missing", (text) => {
    expect(classify(text).kind).toBe(CELL_MISSING);
  });

  it.each(["abc", "0x1F", "Infinity", "1.2.3", "12abc", "-", "1,5"])("reads %j as text", (text) => {
    expect(classify(text).kind).toBe(CELL_TEXT);
  });

  it.each([
    ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z"],
    ["2026-01-01 12:30:15", "2026-01-01T12:30:15.000Z"],
    ["2026-03-01T10:00:00.250+02:00", "2026-03-01T08:00:00.250Z"],
    ["2024-02-29T23:59:59-0130", "2024-03-01T01:29:59.000Z"],
    ["2026-07-04", "2026-07-04T00:00:00.000Z"],
    ["2026/07/04 06:15", "2026-07-04T06:15:00.000Z"],
  ])("parses the timestamp %s", (text, iso) => {
    const bytes = utf8(text);
    expect(new Date(parseIsoTimestamp(bytes, 0, bytes.length)).toISOString()).toBe(iso);
  });

  it.each(["2026-02-30T00:00:00Z", "2026-13-01", "2026-01-01T25:00", "yesterday", "2026-01-01T00:00:00Q", "2026/01-01"])(
    "rejects the timestamp %s",
    (text) => {
      const bytes = utf8(text);
      expect(parseIsoTimestamp(bytes, 0, bytes.length)).toBeNaN();
    },
  );
});

describe("statistics", () => {
  const random = lcg(42);
  const rows = 5000;
  const a: number[] = [];
  const b: number[] = [];
  let csv = "timestamp,a,b,status\n";
  for (let i = 0; i < rows; i++) {
    const x = Math.round((random() * 200 - 100) * 1000) / 1000;
    const y = Math.round(random() * 1e6) / 100;
    a.push(x);
    b.push(y);
    const time = new Date(Date.UTC(2026, 0, 1) + i * 15_000).toISOString();
    csv += `${time},${x},${y},${i % 3 === 0 ? "on" : "off"}\n`;
  }

  it.each([undefined, 7, 4096])("match a two-pass computation whatever the read size (%s)", async (pieceSize) => {
    const profile = await analyze(csv, pieceSize);
    expect(profile.row_count).toBe(rows);
    for (const [name, values] of [["a", a], ["b", b]] as const) {
      const expected = referenceStats(values);
      const stats = profile.column_stats[name]!;
      expect(stats.count_numeric).toBe(rows);
      expect(stats.min).toBe(expected.min);
      expect(stats.max).toBe(expected.max);
      expect(stats.mean!).toBeCloseTo(expected.mean, 9);
      expect(stats.std!).toBeCloseTo(expected.std, 9);
    }
    expect(profile.column_kinds.status).toBe("text");
    expect(profile.column_stats.status).toMatchObject({ count_numeric: 0, count_non_numeric: rows, min: null });
  });

  it("survives being fed one byte at a time", async () => {
    const small = csv.split("\n").slice(0, 60).join("\n");
    const whole = await analyze(small);
    const byByte = await analyze(small, 1);
    expect(byByte.row_count).toBe(59);
    expect(byByte).toEqual(whole);
  });

  it("finds the time range, the median interval and the regularity", async () => {
    const profile = await analyze(csv);
    expect(profile.timestamp_column).toBe("timestamp");
    expect(profile.timestamp_format).toBe("iso8601");
    expect(profile.time_range).toEqual({
      start: "2026-01-01T00:00:00Z",
      end: new Date(Date.UTC(2026, 0, 1) + (rows - 1) * 15_000).toISOString().replace(".000Z", "Z"),
    });
    expect(profile.sampling_interval_seconds).toBe(15);
    expect(profile.sampling_regularity).toBe(1);
  });

  it("counts numeric, text and missing cells of a mixed column", async () => {
    const profile = await analyze("t,v\n1,1.5\n2,\n3,oops\n4,NA\n5,2.5\n6,n/a\n");
    expect(profile.column_stats.v).toMatchObject({ count_numeric: 2, count_non_numeric: 1, count_missing: 3, mean: 2 });
  });
});

describe("dialects", () => {
  it.each([
    [";", "a;b;c\n1;2;3\n4;5;6\n"],
    ["\t", "a\tb\tc\n1\t2\t3\n4\t5\t6\n"],
    ["|", "a|b|c\n1|2|3\n4|5|6\n"],
    [",", "a,b,c\n1,2,3\n4,5,6\n"],
  ])("detects the %j delimiter", async (delimiter, text) => {
    const profile = await analyze(text);
    expect(profile.delimiter).toBe(delimiter);
    expect(profile.columns).toEqual(["a", "b", "c"]);
    expect(profile.column_stats.c).toMatchObject({ min: 3, max: 6 });
  });

  it("prefers semicolons over decimal commas and reads the decimal commas as numbers", async () => {
    const profile = await analyze("a;b\n1,5;2,5\n3,5;-4,25\n");
    expect(profile.delimiter).toBe(";");
    expect(profile.decimal_separator).toBe(",");
    expect(profile.columns).toEqual(["a", "b"]);
    expect(profile.column_stats.a).toMatchObject({ count_numeric: 2, min: 1.5, max: 3.5 });
    expect(profile.column_stats.b).toMatchObject({ min: -4.25, max: 2.5 });
    expect(classify("1,5").kind).toBe(CELL_TEXT);
  });

  it("keeps dot decimals when a semicolon file uses them", async () => {
    const profile = await analyze("a;b\n1.5;x,y\n2.5;z\n");
    expect(profile.decimal_separator).toBe(".");
    expect(profile.column_stats.a).toMatchObject({ min: 1.5, max: 2.5 });
  });

  it("reads quoted fields holding delimiters, quotes and newlines", async () => {
    const text = 'id,note,value\n1,"hello, world",10\n2,"line one\nline two",20\n3,"say ""hi""",30\n';
    const bytes = utf8(text);
    const chunks: Buffer[] = [];
    const analyzer = new CsvAnalyzer({ onChunk: async (_index, chunk) => void chunks.push(chunk) });
    for (let at = 0; at < bytes.length; at += 5) await analyzer.push(bytes.subarray(at, at + 5));
    const profile = await analyzer.finish();
    expect(profile.row_count).toBe(3);
    expect(profile.quoted_fields).toBe(true);
    expect(profile.column_stats.value).toMatchObject({ min: 10, max: 30, mean: 20 });
    const table = concatChunks(chunks.map(decodeChunk));
    const note = table.columns[1]!;
    expect(note.kind).toBe("text");
    if (note.kind === "text") {
      expect([...note.codes].map((code) => note.dictionary[code - 1])).toEqual(["hello, world", "line one\nline two", 'say "hi"']);
    }
  });

  it.each([
    ["lf", "a,b\n1,2\n3,4\n"],
    ["crlf", "a,b\r\n1,2\r\n3,4\r\n"],
    ["mixed", "a,b\r\n1,2\n3,4\r\n"],
  ])("reports %s line endings and reads the same values", async (endings, text) => {
    const profile = await analyze(text);
    expect(profile.line_endings).toBe(endings);
    expect(profile.row_count).toBe(2);
    expect(profile.columns).toEqual(["a", "b"]);
    expect(profile.column_stats.b).toMatchObject({ min: 2, max: 4, count_non_numeric: 0 });
  });

  it("strips a UTF-8 byte order mark from the first header", async () => {
    const profile = await analyze(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8("temp,flow\n1,2\n")]));
    expect(profile.bom).toBe(true);
    expect(profile.columns).toEqual(["temp", "flow"]);
  });

  it("names the columns of a file without a header row", async () => {
    const profile = await analyze("2026-01-01T00:00:00Z,1,2\n2026-01-01T00:01:00Z,3,4\n");
    expect(profile.has_header).toBe(false);
    expect(profile.columns).toEqual(["timestamp", "column_2", "column_3"]);
    expect(profile.row_count).toBe(2);
  });

  it("ignores blank lines and a missing final newline", async () => {
    const profile = await analyze("a,b\n\n1,2\n\r\n3,4");
    expect(profile.row_count).toBe(2);
    expect(profile.column_stats.b).toMatchObject({ max: 4 });
  });

  it.each([
    ["datetime", "time,v\n2026-01-01 00:00:00,1\n2026-01-01 00:05:00,2\n2026-01-01 00:10:00,3\n", 300],
    ["epoch_s", "timestamp,v\n1767225600,1\n1767225660,2\n1767225720,3\n", 60],
    ["epoch_ms", "ts,v\n1767225600000,1\n1767225601000,2\n1767225602000,3\n", 1],
  ])("detects %s timestamps", async (format, text, interval) => {
    const profile = await analyze(text);
    expect(profile.timestamp_format).toBe(format);
    expect(profile.sampling_interval_seconds).toBe(interval);
    expect(profile.time_range?.start).toMatch(/^2026-01-01T00:00:00/);
    expect(profile.column_stats.v).toMatchObject({ min: 1, max: 3 });
  });

  it("does not take an unnamed column of large numbers for epoch time", async () => {
    const profile = await analyze("reading,v\n1767225600,1\n1767225660,2\n");
    expect(profile.timestamp_column).toBeNull();
    expect(profile.column_kinds.reading).toBe("numeric");
  });

  it("counts ragged rows and keeps the file readable", async () => {
    const profile = await analyze("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n");
    expect(profile.row_count).toBe(4);
    expect(profile.ragged_rows).toBe(2);
    expect(profile.first_ragged_row).toBe(2);
    expect(profile.column_stats.c).toMatchObject({ count_numeric: 3, count_missing: 1 });
  });

  it("spots irregular sampling and out-of-order timestamps", async () => {
    const profile = await analyze(
      "timestamp,v\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,1\n2026-01-01T00:05:00Z,1\n2026-01-01T00:04:00Z,1\n2026-01-01T00:30:00Z,2\n",
    );
    expect(profile.out_of_order_timestamps).toBe(1);
    expect(profile.sampling_regularity).toBeLessThan(0.9);
  });

  it("recognises a 0/1 label column", async () => {
    const labelled = await analyze("v,anomaly\n1,0\n2,1\n3,0\n");
    expect(labelled.label_column).toBe("anomaly");
    const notBinary = await analyze("v,label\n1,0\n2,2\n");
    expect(notBinary.label_column).toBeNull();
  });
});

describe("files that cannot become a dataset", () => {
  it.each([
    ["an empty file", "", "dataset.empty_file"],
    ["only whitespace", "\n\r\n  \n", "dataset.empty_file"],
    ["a header without rows", "timestamp,a,b\n", "dataset.no_rows"],
    ["a duplicate header", "a,b,a\n1,2,3\n", "dataset.duplicate_header"],
    ["an empty header name", "a,,c\n1,2,3\n", "dataset.empty_header"],
    ["an unterminated quote", 'a,b\n1,"oops\n2,3\n', "dataset.unterminated_quote"],
  ])("rejects %s", async (_label, text, code) => {
    expect((await failureOf(text)).code).toBe(code);
  });

  it("rejects binary junk", async () => {
    const random = lcg(3);
    const junk = new Uint8Array(70_000).map(() => Math.floor(random() * 256));
    const error = await failureOf(junk);
    expect(["dataset.binary_file", "dataset.invalid_encoding"]).toContain(error.code);
    expect(error.message).toMatch(/binary|UTF-8/);
  });

  it("rejects text that is not UTF-8, even far into the file", async () => {
    const head = "a,b\n" + "1,2\n".repeat(50_000);
    const latin1 = Buffer.concat([Buffer.from(head), Buffer.from("3,caf\xe9\n", "latin1")]);
    const error = await failureOf(latin1);
    expect(error.code).toBe("dataset.invalid_encoding");
  });

  it("rejects UTF-16 with advice", async () => {
    const error = await failureOf(Buffer.from("\ufeffa,b\n1,2\n", "utf16le"));
    expect(error.code).toBe("dataset.unsupported_encoding");
  });

  it("rejects 10,000 columns with the limit in the reason", async () => {
    const header = Array.from({ length: 10_000 }, (_, i) => `c${i}`).join(",");
    const row = Array.from({ length: 10_000 }, (_, i) => String(i)).join(",");
    const error = await failureOf(`${header}\n${row}\n`);
    expect(error.code).toBe("dataset.too_many_columns");
    expect(error.message).toContain(String(MAX_COLUMNS));
  });
});

describe("columnar copy", () => {
  it("round-trips values, missing cells and text exceptions across chunks", async () => {
    let csv = "timestamp,temp,mode\n";
    const temps: (number | string)[] = [];
    for (let i = 0; i < 1000; i++) {
      const temp = i % 97 === 0 ? "" : i % 101 === 0 ? "ERR" : (i / 8).toFixed(3);
      temps.push(temp);
      csv += `${new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()},${temp},${i % 2 ? "auto" : "manual"}\n`;
    }
    const chunks: Buffer[] = [];
    const analyzer = new CsvAnalyzer({ chunkRows: 300, onChunk: async (index, bytes) => void (chunks[index] = bytes) });
    await analyzer.push(utf8(csv));
    const profile = await analyzer.finish();
    expect(profile.chunk_count).toBe(4);
    const table = concatChunks(chunks.map(decodeChunk));
    expect(table.rows).toBe(1000);
    const [time, temp, mode] = table.columns;
    expect(time?.kind === "time" && time.values[999]).toBe(Date.UTC(2026, 0, 1, 0, 999));
    if (temp?.kind !== "numeric" || mode?.kind !== "text") throw new Error("unexpected kinds");
    temps.forEach((expected, row) => {
      if (expected === "") expect(temp.values[row]).toBeNaN();
      else if (expected === "ERR") expect(temp.exceptions.get(row)).toBe("ERR");
      else expect(temp.values[row]).toBe(Math.fround(Number(expected)));
    });
    expect(mode.dictionary[mode.codes[3]! - 1]).toBe("auto");
  });
});
