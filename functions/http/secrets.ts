/**
 * The secrets vault (admins only): credentials a tenant keeps with Flint,
 * sealed at rest. Every answer masks the value ("********") but
 * `GET /secrets/{id}?reveal=true`, which is recorded in the audit trail as
 * `secret.reveal`. `POST /secrets/{id}/rotate` replaces the value for good
 * and bumps `version`. Lists answer JSON arrays; the `X-Next-Cursor` header
 * carries the cursor of the next page.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Secrets } from "../../core/secrets";
import { createApp } from "./common";
import { bearer, body, errors, idParam, json, nextCursorHeader, openapi, pageAnswer, pageQuery, requireUser } from "./route";

export const app = createApp();

app.use("/secrets", requireUser);
app.use("/secrets/*", requireUser);

const Secret = openapi(Secrets.Info, "Secret");
const IdParam = idParam("sec_01jd3x5k2m8n9p0q1r2s3t4u5v");
const Page = pageQuery();
const Days = openapi(Secrets.Days, { description: "Secrets whose expiry is at most this many days away (default 30)", example: 30 });

app.openapi(
  createRoute({
    method: "get",
    path: "/secrets",
    tags: ["Secrets"],
    summary: "The tenant's secrets, newest first, values masked",
    security: bearer,
    request: { query: Page.extend({ category: Secrets.Category.optional() }) },
    responses: { 200: { ...json(z.array(Secret), "Secrets"), headers: nextCursorHeader }, ...errors(400, 401, 403) },
  }),
  async (c) => pageAnswer(c, await Secrets.list(c.req.valid("query"))),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/secrets",
    tags: ["Secrets"],
    summary: "Store a secret (its value is sealed and never shown again unless revealed)",
    security: bearer,
    request: { body: body(openapi(Secrets.CreateInput, "CreateSecret")) },
    responses: { 201: json(Secret, "The secret, value masked"), ...errors(400, 401, 403, 409) },
  }),
  async (c) => c.json(await Secrets.create(c.req.valid("json")), 201),
);

// Before /secrets/{id}, which would take "expiring" for an id.
app.openapi(
  createRoute({
    method: "get",
    path: "/secrets/expiring",
    tags: ["Secrets"],
    summary: "Secrets that expire within `days`, soonest first (the expired first, marked `expired`)",
    security: bearer,
    request: { query: Page.extend({ days: Days.optional() }) },
    responses: { 200: { ...json(z.array(Secret), "Secrets, values masked"), headers: nextCursorHeader }, ...errors(400, 401, 403) },
  }),
  async (c) => pageAnswer(c, await Secrets.expiring(c.req.valid("query"))),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/secrets/{id}",
    tags: ["Secrets"],
    summary: "A secret, value masked unless `reveal=true` (audited)",
    security: bearer,
    request: {
      params: IdParam,
      query: z.object({ reveal: z.enum(["true", "false"]).optional().openapi({ description: "Show the value; recorded in the audit trail" }) }),
    },
    responses: { 200: json(Secret, "The secret"), ...errors(400, 401, 403, 404) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json(c.req.valid("query").reveal === "true" ? await Secrets.reveal(id) : await Secrets.get(id), 200);
  },
);

app.openapi(
  createRoute({
    method: "put",
    path: "/secrets/{id}",
    tags: ["Secrets"],
    summary: "Change a secret's name, category, expiry (null: never) or value",
    security: bearer,
    request: { params: IdParam, body: body(openapi(Secrets.UpdateFields, "UpdateSecret")) },
    responses: { 200: json(Secret, "The secret, value masked"), ...errors(400, 401, 403, 404, 409) },
  }),
  async (c) => c.json(await Secrets.update({ ...c.req.valid("json"), id: c.req.valid("param").id }), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/secrets/{id}",
    tags: ["Secrets"],
    summary: "Delete a secret",
    security: bearer,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errors(400, 401, 403, 404) },
  }),
  async (c) => {
    await Secrets.remove(c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/secrets/{id}/rotate",
    tags: ["Secrets"],
    summary: "Replace a secret's value: the old one is gone, `version` goes up",
    security: bearer,
    request: { params: IdParam, body: body(openapi(Secrets.RotateFields, "RotateSecret")) },
    responses: { 200: json(Secret, "The secret, value masked"), ...errors(400, 401, 403, 404) },
  }),
  async (c) => c.json(await Secrets.rotate({ ...c.req.valid("json"), id: c.req.valid("param").id }), 200),
);

export const handler = handle(app);
