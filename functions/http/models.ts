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
import { Cursor } from "../../core/cursor";
import { Evaluation } from "../../core/evaluation";
import { invalid } from "../../core/error";
import { Model } from "../../core/model";
import { createApp, ErrorSchemaDoc } from "./common";

/** Scoring requests carry up to 100,000 rows. */
export const app = createApp({ maxBodyBytes: 16 * 1024 * 1024 });

const security = [{ bearer: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const nextCursor = { "X-Next-Cursor": { schema: { type: "string" as const }, description: "Cursor of the next page, absent on the last page" } };
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  cursor: Cursor.Param.optional(),
});
const IdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "mdl_01jd3x5k2m8n9p0q1r2s3t4u5v" }),
});

const ModelInfo = Model.Info.openapi("Model");

app.openapi(
  createRoute({
    method: "get",
    path: "/models",
    tags: ["Models"],
    summary: "List models, newest first",
    security,
    request: { query: Page },
    responses: { 200: { ...json(z.array(ModelInfo), "Models"), headers: nextCursor }, 401: ErrorSchemaDoc },
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
    security,
    request: { params: IdParam },
    responses: { 200: json(ModelInfo, "The model"), 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
  }),
  async (c) => c.json(await Model.detail(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/models/{id}/download",
    tags: ["Models"],
    summary: "Download the ONNX model (float32, or int8 with ?quantized=true)",
    security,
    request: { params: IdParam, query: z.object({ quantized: z.enum(["true", "false", "1", "0"]).optional() }) },
    responses: {
      200: { description: "ONNX bytes", content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } },
      401: ErrorSchemaDoc,
      404: ErrorSchemaDoc,
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
    security,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, 401: ErrorSchemaDoc, 403: ErrorSchemaDoc, 404: ErrorSchemaDoc },
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
    security,
    request: { params: IdParam, body: { required: true, content: { "application/json": { schema: Model.CompareInput.openapi("CompareModels") } } } },
    responses: { 200: json(Model.Comparison.openapi("ModelComparison"), "Both models, the winner and its advantage per metric"), 400: ErrorSchemaDoc, 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
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
    security,
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
    responses: { 200: json(Model.ScoreResult.openapi("ScoreResult"), "Scores and flags per window"), 400: ErrorSchemaDoc, 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
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

const EvaluationInfo = Evaluation.Info.openapi("Evaluation");

app.openapi(
  createRoute({
    method: "get",
    path: "/evaluations",
    tags: ["Evaluations"],
    summary: "List evaluations, newest first (optionally of one model)",
    security,
    request: { query: Page.extend({ model_id: z.string().min(1).max(64).optional() }) },
    responses: { 200: { ...json(z.array(EvaluationInfo), "Evaluations"), headers: nextCursor }, 401: ErrorSchemaDoc },
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
    security,
    request: { params: IdParam },
    responses: { 200: json(EvaluationInfo, "The evaluation"), 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
  }),
  async (c) => c.json(await Evaluation.detail(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/evaluations/{id}/gradient",
    tags: ["Evaluations"],
    summary: "Run the gradient evaluation (asynchronous)",
    security,
    request: { params: IdParam },
    responses: {
      202: json(z.object({ status: z.literal("running"), message: z.string() }), "Started; poll GET /evaluations/:id"),
      401: ErrorSchemaDoc,
      403: ErrorSchemaDoc,
      404: ErrorSchemaDoc,
      409: ErrorSchemaDoc,
    },
  }),
  async (c) => c.json(await Evaluation.startGradient(c.req.valid("param").id), 202),
);

export const handler = handle(app);
