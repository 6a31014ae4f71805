/**
 * Models and their evaluations.
 *
 * GET /models/:id/download answers the float32 ONNX model (application/octet-stream);
 * `?quantized=true` answers the int8 one. POST /models/:id/score takes rows in
 * the model's feature order, as JSON `{ "rows": [[...], ...] }` or as text/csv
 * (a header row, if present, maps columns by name), and answers one anomaly
 * score per window of `sequence_length` rows, flagged above the threshold.
 *
 * POST /evaluations/:id/gradient answers 202 and computes the gradient
 * evaluation on the training queue; poll GET /evaluations/:id until
 * `gradient_status` is `completed` (or `failed`, with `gradient_error`). Its
 * fields are documented in `gradient_evaluation.metric_definitions`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Evaluation } from "../../core/evaluation";
import { invalid } from "../../core/error";
import { Model } from "../../core/model";
import { createApp } from "./common";
import { bearer, body, errors, idParam, json, nextCursorHeader, openapi, pageQuery } from "./route";

/** Scoring requests carry up to 100,000 rows. */
export const app = createApp({ maxBodyBytes: 16 * 1024 * 1024 });

const Page = pageQuery();
const IdParam = idParam("mdl_01jd3x5k2m8n9p0q1r2s3t4u5v");

const ModelInfo = openapi(Model.Info, "Model");

app.openapi(
  createRoute({
    method: "get",
    path: "/models",
    tags: ["Models"],
    summary: "List models, newest first",
    security: bearer,
    request: { query: Page },
    responses: { 200: { ...json(z.array(ModelInfo), "Models"), headers: nextCursorHeader }, ...errors(401) },
  }),
  async (c) => {
    const page = await Model.list(c.req.valid("query"));
    if (page.cursor) c.header("X-Next-Cursor", page.cursor);
    return c.json(page.items, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/models/{id}",
    tags: ["Models"],
    summary: "Model detail: architecture, hyperparameters and metrics",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(ModelInfo, "The model"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Model.detail(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/models/{id}/download",
    tags: ["Models"],
    summary: "Download the ONNX model (float32, or int8 with ?quantized=true)",
    security: bearer,
    request: { params: IdParam, query: z.object({ quantized: z.enum(["true", "false", "1", "0"]).optional() }) },
    responses: {
      200: { description: "ONNX bytes", content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } },
      ...errors(401, 404),
    },
  }),
  async (c) => {
    const quantized = ["true", "1"].includes(c.req.valid("query").quantized ?? "");
    const file = await Model.download(c.req.valid("param").id, { quantized });
    return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "application/octet-stream",
      "Content-Disposition": `attachment; filename="${file.fileName}"`,
      "Content-Length": String(file.bytes.length),
    });
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/models/{id}",
    tags: ["Models"],
    summary: "Delete a model, its files and its evaluation",
    security: bearer,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errors(401, 403, 404) },
  }),
  async (c) => {
    await Model.remove(c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/models/{id}/compare",
    tags: ["Models"],
    summary: "Compare this model with another",
    security: bearer,
    request: { params: IdParam, body: body(openapi(Model.CompareInput, "CompareModels")) },
    responses: { 200: json(openapi(Model.Comparison, "ModelComparison"), "Both models, the winner and its advantage per metric"), ...errors(400, 401, 404) },
  }),
  async (c) => c.json(await Model.compare(c.req.valid("param").id, c.req.valid("json")), 200),
);

const ScoreBody = z.object({ rows: z.array(z.array(z.number())).min(1).max(Model.MAX_SCORE_ROWS) }).openapi("ScoreRows");

app.openapi(
  createRoute({
    method: "post",
    path: "/models/{id}/score",
    tags: ["Models"],
    summary: "Score sensor rows: one anomaly score per window",
    security: bearer,
    request: {
      params: IdParam,
      // Not `required`: the JSON validator would otherwise reject CSV bodies; the handler checks the shape.
      body: {
        content: {
          "application/json": { schema: ScoreBody },
          "text/csv": { schema: z.string().openapi({ description: "Rows in feature order; an optional header row maps columns by name" }) },
        },
      },
    },
    responses: { 200: json(openapi(Model.ScoreResult, "ScoreResult"), "Scores and flags per window"), ...errors(400, 401, 404) },
  }),
  async (c) => {
    const id = c.req.valid("param").id;
    const type = c.req.header("content-type") ?? "";
    if (/^text\/(csv|plain)/i.test(type)) return c.json(await Model.score(id, { csv: await c.req.text() }), 200);
    const body = c.req.valid("json") as Partial<z.infer<typeof ScoreBody>> | undefined;
    if (!/^application\/json/i.test(type) || !Array.isArray(body?.rows)) {
      throw invalid("request.invalid", "Send rows as application/json {\"rows\": [[...], ...]} or as text/csv", { content_type: type || null });
    }
    return c.json(await Model.score(id, { rows: body.rows }), 200);
  },
);

// ---------------------------------------------------------------- evaluations

const EvaluationInfo = openapi(Evaluation.Info, "Evaluation");

app.openapi(
  createRoute({
    method: "get",
    path: "/evaluations",
    tags: ["Evaluations"],
    summary: "List evaluations, newest first (optionally of one model)",
    security: bearer,
    request: { query: Page.extend({ model_id: z.string().min(1).max(64).optional() }) },
    responses: { 200: { ...json(z.array(EvaluationInfo), "Evaluations"), headers: nextCursorHeader }, ...errors(401) },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await Evaluation.list({ limit: query.limit, cursor: query.cursor, modelId: query.model_id });
    if (page.cursor) c.header("X-Next-Cursor", page.cursor);
    return c.json(page.items, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/evaluations/{id}",
    tags: ["Evaluations"],
    summary: "Evaluation detail: metrics, confusion matrix, training curves, gradient evaluation",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(EvaluationInfo, "The evaluation"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Evaluation.detail(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/evaluations/{id}/gradient",
    tags: ["Evaluations"],
    summary: "Run the gradient evaluation (asynchronous)",
    security: bearer,
    request: { params: IdParam },
    responses: {
      202: json(z.object({ status: z.literal("running"), message: z.string() }), "Started; poll GET /evaluations/:id"),
      ...errors(401, 403, 404, 409),
    },
  }),
  async (c) => c.json(await Evaluation.startGradient(c.req.valid("param").id), 202),
);

export const handler = handle(app);
