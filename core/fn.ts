/**
 * Validation of outside input, once, where core takes it (SST console's
 * `fn`): an exported core function is `fn(schema, impl)`, so whatever its
 * caller (a route, a job, a test) passes is parsed before `impl` runs, and
 * zod's issues become a domain error instead of an unknown one (a 500).
 */
import { z } from "zod";
import { invalid } from "./error";

export interface Issue {
  /** Dotted path of the offending field, "" for the input itself. */
  path: string;
  message: string;
}

/** Zod's issues as `details.issues` of an invalid error. */
export function issuesOf(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): Issue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

/**
 * Parses `input` against `schema`.
 * @throws `code` (invalid, default request.invalid) with the first issue as its
 *   message and every issue in `details.issues`
 */
export function parse<S extends z.ZodType>(schema: S, input: unknown, code = "request.invalid"): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalid(code, result.error.issues[0]?.message ?? "Invalid input", { issues: issuesOf(result.error) });
}

/**
 * A core function whose input is validated against `schema` first; the
 * schema stays reachable as `.schema` (for route documents and tests).
 * @throws `options.code` (invalid, default request.invalid) for input the schema refuses
 * @example
 * export const create = fn(CreateInput, async (input) => { ... });
 * await Dataset.create({ name: "" }); // throws request.invalid with details.issues
 */
export function fn<S extends z.ZodType, R>(schema: S, impl: (input: z.output<S>) => R, options: { code?: string } = {}) {
  const validated = (input: z.input<S>): R => impl(parse(schema, input, options.code));
  return Object.assign(validated, { schema });
}
