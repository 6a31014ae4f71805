/**
 * Structured JSON logs (Powertools Logger). Anything that looks like a secret
 * is redacted before it is written, so a careless log call cannot leak one.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Config } from "./config";

const SECRET_KEYS = /pass(word)?|secret|token|code|authorization|cookie|credential|otp|signature|api[_-]?key/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEYS.test(key) && typeof item !== "object" ? "[redacted]" : redact(item, depth + 1);
  }
  return out;
}

/** Secrets as they appear in free text (a controller's log lines): credentials, tokens, key=value secrets. */
const SECRET_TEXT: [RegExp, string][] = [
  [/\b(fdc|fen)\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*/g, "$1.[redacted]"],
  [/\b(Bearer|Device|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/gi, "$1 [redacted]"],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, "[redacted jwt]"],
  [/\bAKIA[0-9A-Z]{16}\b/g, "[redacted key]"],
  [/\b(pass(?:word|wd)?|secret|token|api[_-]?key|credential)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, "$1$2[redacted]"],
  [/(:\/\/[^:/\s@]+:)[^@\s]+@/g, "$1[redacted]@"],
];

/** Free text with anything that looks like a secret replaced by a marker. */
export function redactText(text: string): string {
  return SECRET_TEXT.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

export const logger = new Logger({
  serviceName: "flint",
  logLevel: Config.logLevel() as "INFO",
  persistentLogAttributes: { stage: Config.stage() },
});
