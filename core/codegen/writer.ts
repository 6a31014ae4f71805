/**
 * C literals for the generator: float and int8 arrays, escaped strings and
 * identifiers. Every emitter writes numbers and names through these, so a
 * float prints the same way (9 significant digits, enough to round-trip
 * float32) wherever it lands in the program.
 */

/** A float32 C literal (`0.0f`, `1.5f`, `-2.34567891e-05f`) of `value` rounded to float32. */
export function floatLiteral(value: number): string {
  const v = Math.fround(value);
  if (!Number.isFinite(v)) throw new Error("weights contain a non-finite value");
  if (v === 0) return "0.0f";
  const text = v.toPrecision(9);
  return /[.e]/.test(text) ? `${text}f` : `${text}.0f`;
}

/** The body of a C float array initializer, 16 values a line. */
export function floatArray(values: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; i++) parts.push(floatLiteral(values[i]!));
  return wrap(parts);
}

/** The body of a C integer array initializer, 16 values a line. */
export function intArray(values: Int8Array): string {
  return wrap(Array.from(values, String));
}

function wrap(parts: string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < parts.length; i += 16) lines.push(`  ${parts.slice(i, i + 16).join(", ")}`);
  return lines.join(",\n");
}

/** A C string literal; anything outside printable ASCII (and `?`, against trigraphs) is written as octal escapes. */
export function cString(text: string): string {
  let out = '"';
  for (const byte of new TextEncoder().encode(text)) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f && byte !== 0x3f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString(8).padStart(3, "0")}`;
  }
  return `${out}"`;
}

/** A C identifier from a weight name (`lstm.enc.0.W` → `lstm_enc_0_W`). */
export function ident(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, "_");
}
