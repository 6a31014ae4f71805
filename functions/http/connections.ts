/**
 * Saved connections: a source (the body of POST /datasets/connect) kept with
 * its credentials in the secrets vault, tested and synced on demand or on a
 * schedule. Each sync is a new dataset version with only the rows newer than
 * the last version's.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Connections } from "../../core/connector/connections";
import { Dataset } from "../../core/dataset";
import { createApp } from "./common";
import { bearer, body, errors, idParam, json, nextCursorHeader, openapi, pageQuery } from "./route";

export const app = createApp();

const tags = ["Connections"];
const Info = openapi(Connections.Info, "Connection");
const IdParam = idParam("conn_01jd3x5k2m8n9p0q1r2s3t4u5v");
const ConnectionBody = openapi(
  z.looseObject({
    source_type: z.string().optional(),
    name: z.string(),
    equipment_type: z.string(),
    sync_every_minutes: z.number().nullable().optional(),
  }),
  "ConnectionRequest",
  {
    description:
      "The fields of POST /datasets/connect for the source type, plus `sync_every_minutes` (15 to 10080, or null). A credential field " +
      "(connection_string, api_key, token, password, auth_token) is either the value, stored as a vault secret the connection owns, or `secret:<id>` naming a secret of the vault.",
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/connections",
    tags,
    summary: "Save a connection (admin); its credentials go to the secrets vault",
    security: bearer,
    request: { body: body(ConnectionBody) },
    responses: { 201: json(Info, "The connection, credentials masked"), ...errors(400, 401, 403, 409) },
  }),
  async (c) => c.json(await Connections.create(c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/connections",
    tags,
    summary: "The tenant's connections, newest first",
    security: bearer,
    request: { query: pageQuery() },
    responses: { 200: { ...json(z.array(Info), "Connections"), headers: nextCursorHeader }, ...errors(400, 401) },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await Connections.list({ limit: query.limit ?? 50, cursor: query.cursor });
    if (page.cursor) c.header("X-Next-Cursor", page.cursor);
    return c.json(page.data, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/connections/{id}",
    tags,
    summary: "A connection, credentials masked",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(Info, "The connection"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Connections.get(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/connections/{id}",
    tags,
    summary: "Change a connection (admin): any of its fields, new credentials, or its schedule",
    security: bearer,
    request: { params: IdParam, body: body(openapi(z.looseObject({ sync_every_minutes: z.number().nullable().optional() }), "ConnectionChanges")) },
    responses: { 200: json(Info, "The connection"), ...errors(400, 401, 403, 404, 409) },
  }),
  async (c) => c.json(await Connections.update({ id: c.req.valid("param").id, changes: c.req.valid("json") }), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/connections/{id}",
    tags,
    summary: "Delete a connection (admin) and the vault secrets it created; its datasets stay",
    security: bearer,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errors(401, 403, 404) },
  }),
  async (c) => {
    await Connections.remove(c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/connections/{id}/test",
    tags,
    summary: "Check the source now: connect, read its first rows, find the time column (operator)",
    security: bearer,
    request: { params: IdParam },
    responses: {
      200: json(
        z
          .object({
            ok: z.literal(true),
            columns: z.array(z.string()),
            time_column: z.string(),
            numeric_columns: z.array(z.string()),
            rows_sampled: z.number(),
            latency_ms: z.number(),
          })
          .openapi("ConnectionTest"),
        "The source answers and its rows can become a dataset",
      ),
      ...errors(400, 401, 403, 404, 502, 504),
    },
  }),
  async (c) => c.json(await Connections.test(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/connections/{id}/sync",
    tags,
    summary: "Import what is new at the source as the next dataset version (operator)",
    description:
      "201 with the new version (`processing`; its `connection` field links the version before it) when the source has rows after the newest row of the last ready version; 200 `{ up_to_date: true }` when it has none; 409 `connection.sync_in_progress` while the last version is still importing.",
    security: bearer,
    request: { params: IdParam },
    responses: {
      201: json(openapi(Dataset.Info, "Dataset"), "The new version"),
      200: json(z.object({ up_to_date: z.literal(true), last_row_time: z.string() }).openapi("ConnectionUpToDate"), "Nothing new"),
      ...errors(400, 401, 403, 404, 409, 502, 504),
    },
  }),
  async (c) => {
    const outcome = await Connections.sync(c.req.valid("param").id);
    return "dataset" in outcome ? c.json(outcome.dataset, 201) : c.json(outcome, 200);
  },
);

export const handler = handle(app);
