/**
 * Byte-level value parsers for the CSV scanner: numbers and timestamps are
 * read straight from the bytes of a field, so the hot path creates no strings.
 */

export const CELL_NUMBER = 0;
export const CELL_MISSING = 1;
export const CELL_TEXT = 2;
export type CellKind = typeof CELL_NUMBER | typeof CELL_MISSING | typeof CELL_TEXT;

/** Powers of ten that are exact doubles (10^0 .. 10^22). */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Tokens read as a missing value (besides an empty field), compared case-sensitively. */
const MISSING_TOKENS = ["NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none", "#N/A", "-nan"];
const MISSING_BYTES = MISSING_TOKENS.map((token) => Buffer.from(token, "latin1"));

function isMissingToken(b: Uint8Array, s: number, e: number): boolean {
  const length = e - s;
  for (const token of MISSING_BYTES) {
    if (token.length !== length) continue;
    let same = true;
    for (let k = 0; k < length; k++) {
      if (b[s + k] !== token[k]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

/**
 * Reads a number from `b[s, e)`. The kind of the cell (number, missing, text)
 * is left in `parsed.kind`; the value is NaN unless it is a number.
 *
 * Up to 15 significant digits take an exact fast path (integer mantissa divided
 * by an exact power of ten, which IEEE rounds correctly, so the result equals
 * `Number(text)`); anything longer or with an exponent falls back to `Number`.
 */
export const parsed = {
  kind: CELL_NUMBER as CellKind,
  separator: 0,
  /** Decimal separator byte: 46 '.', or 44 ',' for files that write 20,5 (set per file before scanning). */
  decimal: 46,
};

export function parseNumber(b: Uint8Array, s: number, e: number): number {
  while (s < e && (b[s] === 32 || b[s] === 9)) s++;
  while (e > s && (b[e - 1] === 32 || b[e - 1] === 9 || b[e - 1] === 13)) e--;
  if (s === e) {
    parsed.kind = CELL_MISSING;
    return NaN;
  }
  let i = s;
  let negative = false;
  let c = b[i]!;
  if (c === 45) {
    negative = true;
    i++;
  } else if (c === 43) {
    i++;
  }
  let mantissa = 0;
  let significant = 0;
  let fraction = 0;
  let anyDigit = false;
  let dot = false;
  let slow = false;
  for (; i < e; i++) {
    c = b[i]!;
    const d = c - 48;
    if (d >= 0 && d <= 9) {
      anyDigit = true;
      if (mantissa === 0 && d === 0) {
        if (dot) fraction++;
        continue;
      }
      if (significant < 15) {
        mantissa = mantissa * 10 + d;
        significant++;
        if (dot) fraction++;
      } else {
        slow = true;
      }
    } else if (c === parsed.decimal && !dot) {
      dot = true;
    } else if (c === 101 || c === 69) {
      slow = true;
      break;
    } else {
      return text(b, s, e);
    }
  }
  if (!anyDigit) return text(b, s, e);
  if (slow || fraction > 22) return slowNumber(b, s, e);
  parsed.kind = CELL_NUMBER;
  const value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
  return negative ? -value : value;
}

function slowNumber(b: Uint8Array, s: number, e: number): number {
  const decimal = parsed.decimal;
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    // Only plain decimal notation: Number() would also accept "0x1f" or "Infinity".
    if (!((c >= 48 && c <= 57) || c === decimal || c === 43 || c === 45 || c === 101 || c === 69)) return text(b, s, e);
  }
  let literal = Buffer.from(b.buffer, b.byteOffset + s, e - s).toString("latin1");
  if (decimal === 44) literal = literal.replace(",", ".");
  const value = Number(literal);
  if (Number.isFinite(value)) {
    parsed.kind = CELL_NUMBER;
    return value;
  }
  return text(b, s, e);
}

function text(b: Uint8Array, s: number, e: number): number {
  parsed.kind = isMissingToken(b, s, e) ? CELL_MISSING : CELL_TEXT;
  return NaN;
}

/** Classifies a JS string the same way parseNumber classifies bytes (sniffing and tests). */
export function classify(value: string): { kind: CellKind; value: number } {
  const bytes = Buffer.from(value, "utf8");
  const number = parseNumber(bytes, 0, bytes.length);
  return { kind: parsed.kind, value: number };
}

export type TimestampFormat = "iso8601" | "datetime" | "epoch_s" | "epoch_ms";

function digits(b: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let k = 0; k < count; k++) {
    const d = b[at + k]! - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Reads `YYYY-MM-DD` (or `YYYY/MM/DD`), `YYYY-MM-DD HH:MM[:SS[.fff]]` or the ISO 8601 form with
 * `T`, optionally followed by `Z` or an offset (`+02:00`, `+0200`). Times
 * without an offset are taken as UTC. Returns epoch milliseconds or NaN; the
 * separator seen is left in `parsed.separator` (84 'T', 32 ' ', 0 date only).
 */

export function parseIsoTimestamp(b: Uint8Array, s: number, e: number): number {
  while (s < e && b[s] === 32) s++;
  while (e > s && (b[e - 1] === 32 || b[e - 1] === 13)) e--;
  // YYYY-MM-DD, or YYYY/MM/DD as some building-automation exports write it.
  const dash = b[s + 4];
  if (e - s < 10 || (dash !== 45 && dash !== 47) || b[s + 7] !== dash) return NaN;
  const year = digits(b, s, 4);
  const month = digits(b, s + 5, 2);
  const day = digits(b, s + 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) return NaN;
  let ms = daysFromCivil(year, month, day) * 86_400_000;
  let i = s + 10;
  parsed.separator = 0;
  if (i === e) return ms;
  const sep = b[i];
  if (sep !== 84 && sep !== 32 && sep !== 116) return NaN;
  parsed.separator = sep === 32 ? 32 : 84;
  i++;
  if (e - i < 5 || b[i + 2] !== 58) return NaN;
  const hour = digits(b, i, 2);
  const minute = digits(b, i + 3, 2);
  if (hour < 0 || hour > 24 || minute < 0 || minute > 59) return NaN;
  ms += hour * 3_600_000 + minute * 60_000;
  i += 5;
  if (i < e && b[i] === 58) {
    const second = digits(b, i + 1, 2);
    if (second < 0 || second > 60) return NaN;
    ms += second * 1000;
    i += 3;
    if (i < e && (b[i] === 46 || b[i] === 44)) {
      i++;
      let scale = 100;
      let fraction = 0;
      const start = i;
      while (i < e && b[i]! >= 48 && b[i]! <= 57) {
        fraction += (b[i]! - 48) * scale;
        scale /= 10;
        i++;
      }
      if (i === start) return NaN;
      ms += fraction;
    }
  }
  if (i === e) return ms;
  const zone = b[i];
  if ((zone === 90 || zone === 122) && i + 1 === e) return ms;
  if (zone === 43 || zone === 45) {
    const oh = digits(b, i + 1, 2);
    let om = 0;
    let end = i + 3;
    if (end < e && b[end] === 58) {
      om = digits(b, end + 1, 2);
      end += 3;
    } else if (end + 2 <= e) {
      om = digits(b, end, 2);
      end += 2;
    }
    if (oh < 0 || om < 0 || end !== e) return NaN;
    const offset = (oh * 60 + om) * 60_000;
    return zone === 43 ? ms - offset : ms + offset;
  }
  return NaN;
}

/** Reads a timestamp cell in a known format: epoch milliseconds, or NaN. */
export function parseTimestamp(b: Uint8Array, s: number, e: number, format: TimestampFormat): number {
  if (format === "iso8601" || format === "datetime") return parseIsoTimestamp(b, s, e);
  const value = parseNumber(b, s, e);
  if (parsed.kind !== CELL_NUMBER) return NaN;
  return format === "epoch_s" ? Math.round(value * 1000) : value;
}

/** Formats epoch milliseconds as ISO 8601 UTC, without milliseconds when they are zero. */
export function formatTimestamp(ms: number): string {
  if (!Number.isFinite(ms)) return "";
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

/** The shortest decimal that reads back as the same float32 (20.95, not 20.950000762939453), for preview cells. */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value) || Number.isInteger(value)) return value;
  for (let precision = 6; precision <= 9; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}
