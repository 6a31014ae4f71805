/**
 * What every endpoint group builds its route definitions from, so a JSON
 * request body, a JSON answer, an id in the path, a list page or an error
 * response is written, documented and checked the same way everywhere.
 */
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { Cursor } from "../../core/cursor";
import { unauthorized } from "../../core/error";
import type { Env } from "./common";

const withOpenApi = z.ZodType.prototype.openapi as (this: z.ZodType, ...args: unknown[]) => z.ZodType;

/**
 * `schema.openapi(...)` for a schema core built: zod gives each schema its
 * methods when it is built, so one built before @hono/zod-openapi was loaded
 * (a test or a script that imports core first) has no `.openapi` of its own.
 * @example openapi(User.Info, "User"); openapi(User.Email, { example: "ada@example.com" })
 */
export function openapi<T extends z.ZodType>(schema: T, refOrMetadata: string | Record<string, unknown>, metadata?: Record<string, unknown>): T {
  return withOpenApi.call(schema, refOrMetadata, metadata) as T;
}

/** `security` of a route that takes `Authorization: Bearer <access token>`. */
export const bearer = [{ bearer: [] }];

/** A JSON request body (required unless `required: false`). */
export function body<T extends z.ZodType>(schema: T, options: { required?: boolean } = {}) {
  return { required: options.required ?? true, content: { "application/json": { schema } } };
}

/** A JSON answer. */
export function json<T extends z.ZodType>(schema: T, description = "OK") {
  return { description, content: { "application/json": { schema } } };
}

/** The `{ error, code, details }` body every 4xx and 5xx answer carries. */
export const ErrorSchemaDoc = {
  description: "Error",
  content: {
    "application/json": {
      schema: {
        type: "object" as const,
        properties: { error: { type: "string" as const }, code: { type: "string" as const }, details: {} },
        required: ["error", "code"],
      },
    },
  },
};

/** The error answers a route documents, e.g. `...errors(400, 401, 404)`. */
export function errors<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: typeof ErrorSchemaDoc } {
  return Object.fromEntries(statuses.map((status) => [status, ErrorSchemaDoc])) as { [K in S[number]]: typeof ErrorSchemaDoc };
}

/** Signed-in routes answer 401 before their input is even looked at (install with `app.use(path, requireUser)`). */
export const requireUser: MiddlewareHandler<Env> = async (c, next) => {
  if (c.get("actor").type !== "user") throw unauthorized();
  await next();
};

/** Longest resource id a path takes; every id the platform hands out is far shorter. */
const MAX_ID_LENGTH = 64;

/** The `{id}` path parameter of a resource route; `example` shows the resource's id prefix. */
export function idParam(example: string) {
  return z.object({
    id: z.string().min(1).max(MAX_ID_LENGTH).openapi({ param: { name: "id", in: "path" }, example }),
  });
}

/** `limit` and `cursor` of a list route (query strings, so `limit` is coerced). */
export function pageQuery(maxLimit = 100) {
  return z.object({
    limit: z.coerce.number().int().min(1).max(maxLimit).optional(),
    cursor: Cursor.Param.optional(),
  });
}

/** The response header of a list that answers a bare array. */
export const nextCursorHeader = {
  "X-Next-Cursor": { schema: { type: "string" as const }, description: "Cursor of the next page, absent on the last page" },
};

/** A list page as a bare array, with the next page's cursor in `X-Next-Cursor` (see `nextCursorHeader`). */
export function pageAnswer<T>(c: Context, page: { items: T[]; cursor: string | null }) {
  if (page.cursor) c.header("X-Next-Cursor", page.cursor);
  return c.json(page.items, 200);
}
