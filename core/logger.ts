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

export const logger = new Logger({
  serviceName: "flint",
  logLevel: Config.logLevel() as "INFO",
  persistentLogAttributes: { stage: Config.stage() },
});
