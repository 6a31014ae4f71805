/**
 * Datasets: upload (direct multipart, or a presigned S3 URL for large files),
 * list, detail with column statistics, preview, validate/lock, unlock,
 * recommendations and delete.
 *
 * POST /datasets (multipart) ingests the file before answering, so its 201 is
 * the ready dataset with its statistics (the seed's body); a file that cannot
 * become a dataset answers 400 with the reason and leaves nothing behind. On
 * AWS, API Gateway caps request bodies well below the 100 MB direct limit, so
 * large files go through POST /datasets/uploads: the answer is 201 with the
 * dataset id and a presigned PUT URL; the dataset is `pending_upload`, then
 * `processing`, then `ready` or `failed` (poll GET /datasets/:id or listen on
 * the WebSocket topic `dataset:<id>` for `dataset.ready` / `dataset.failed`).
 *
 * GET /datasets answers a JSON array (as the seed does); when more pages
 * exist, the `X-Next-Cursor` response header carries the cursor to pass back
 * as `?cursor=`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Connector } from "../../core/connector";
import { Uploads } from "../../core/connector/uploads";
import { Dataset } from "../../core/dataset";
import { authenticateDevice } from "../../core/deployment/target";
import { MAX_DIRECT_UPLOAD_BYTES } from "../../core/billing/plans";
import { DomainError } from "../../core/error";
import { createApp } from "./common";
import { bearer, body, errors, idParam, json, openapi, pageQuery } from "./route";

/** The multipart envelope around the file is small; the file itself is checked in core. */
export const app = createApp({ maxBodyBytes: MAX_DIRECT_UPLOAD_BYTES + 1024 * 1024, schemes: { device: authenticateDevice } });

const tags = ["Datasets"];

/** A body of sensor rows, as controllers and gateways push them. */
const RowsBodyDoc = {
  required: true,
  content: { "text/csv": { schema: { type: "string" as const } }, "application/json": { schema: { type: "array" as const, items: { type: "object" as const } } } },
};

app.openAPIRegistry.registerComponent("securitySchemes", "uploadKey", {
  type: "apiKey",
  in: "header",
  name: "X-Upload-Auth",
  description: "An upload key (`fup.<id>.<secret>`) created under /upload/keys",
});

const Summary = openapi(Dataset.Summary, "DatasetSummary");
const Info = openapi(Dataset.Info, "Dataset");
const IdParam = idParam("ds_01jd3x5k2m8n9p0q1r2s3t4u5v");

const UploadForm = Dataset.Metadata.extend({
  // Checked in the handler, so a missing file gets its own clear code.
  file: z.any().optional().openapi({ type: "string", format: "binary", description: "CSV file (max 100 MB)" }),
  name: openapi(Dataset.Metadata.shape.name, { description: "Dataset display name" }),
}).openapi("DatasetUploadForm");

app.openapi(
  createRoute({
    method: "get",
    path: "/datasets",
    tags,
    summary: "The tenant's datasets, newest first",
    description: "Paginated: pass `limit` (1-100, default 50) and the `X-Next-Cursor` header of the previous page as `cursor`.",
    security: bearer,
    request: {
      query: pageQuery(),
    },
    responses: {
      200: {
        ...json(z.array(Summary), "Datasets"),
        headers: { "X-Next-Cursor": { schema: { type: "string" }, description: "Cursor of the next page, absent on the last page" } },
      },
      ...errors(400, 401),
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await Dataset.list({ limit: query.limit, cursor: query.cursor });
    if (page.cursor) c.header("X-Next-Cursor", page.cursor);
    return c.json(page.data, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/datasets",
    tags,
    summary: "Upload a CSV dataset (multipart/form-data, max 100 MB); answers the ingested dataset",
    security: bearer,
    request: { body: { required: true, content: { "multipart/form-data": { schema: UploadForm } } } },
    responses: {
      201: json(Info, "The ingested dataset"),
      ...errors(400, 401, 403, 413),
    },
  }),
  async (c) => {
    const form = c.req.valid("form") as Record<string, unknown>;
    const file = form.file;
    if (!(file instanceof File)) {
      throw new DomainError("invalid", "dataset.file_required", "A CSV file is required in the multipart field 'file'", {
        field: "file",
      });
    }
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    const dataset = await Dataset.upload({
      name: text(form.name) ?? "",
      equipment_type: text(form.equipment_type) as Dataset.EquipmentType,
      location: text(form.location) || undefined,
      unit: text(form.unit) || undefined,
      file: new Uint8Array(await file.arrayBuffer()),
    });
    return c.json(dataset, 201);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/datasets/uploads",
    tags,
    summary: "Start a large upload: a presigned S3 PUT URL for the file; its arrival starts the ingest",
    security: bearer,
    request: { body: body(openapi(Dataset.CreateUploadInput, "DatasetUploadRequest")) },
    responses: {
      201: json(
        z
          .object({
            dataset_id: z.string(),
            upload_url: z.string(),
            expires_at: z.string(),
            method: z.literal("PUT"),
            headers: z.record(z.string(), z.string()),
          })
          .openapi("DatasetUpload"),
        "Where to PUT the file (exactly file_size_bytes bytes, before expires_at)",
      ),
      ...errors(400, 401, 403),
    },
  }),
  async (c) => c.json(await Dataset.createUpload(c.req.valid("json")), 201),
);

/** Documented loosely: core checks the fields of each source type and answers connector.* codes. */
const ConnectRequest = openapi(
  z.looseObject({
    source_type: z.string().optional().openapi({ description: `One of ${Connector.SOURCE_TYPES.join(", ")}; default aegis_bridge` }),
    name: z.string(),
    equipment_type: z.enum(Dataset.EQUIPMENT_TYPES),
  }),
  "DatasetConnectRequest",
  {
    description: [
      "Per source_type (seed 002):",
      "postgresql | tidb: connection_string (postgresql:// or mysql:// URL) or api_url (+ api_key), and query (one SELECT);",
      "sqlite: connection_string (a file in the platform's import folder), query;",
      "influxdb: url, database, measurement, time_range?, influx_version? (auto | 3 | 1), token? or username/password?;",
      "mongodb: api_url (Data API), api_key, database, mongodb_collection, filter?, data_source?;",
      "spacetimedb: api_url, database, query, auth_token?;",
      "aegis_bridge | edge_bridge: controller_ip or target_id, collection?, time_range?.",
    ].join(" "),
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/datasets/connect",
    tags,
    summary: "Import a dataset from an external source (database, historian, HTTP API or edge controller)",
    description:
      "The source is checked first (connect, the query's first rows, a time column and a numeric one): 400 for a bad spec or query, 502 when the source cannot be reached or refuses the credentials, 504 when it does not answer in time. Then the import runs as a job: the answer is the dataset, `processing`; `dataset.rows_imported` and then `dataset.ready` (or `dataset.failed`) follow on the WebSocket topic `dataset:<id>`.",
    security: bearer,
    request: { body: body(ConnectRequest) },
    responses: {
      201: json(Info, "The dataset, processing while its rows are imported"),
      ...errors(400, 401, 403, 502, 504),
    },
  }),
  async (c) => c.json(await Connector.connect(c.req.valid("json")), 201),
);

const ConnectSqliteForm = openapi(
  z.looseObject({
    name: z.string(),
    equipment_type: z.string(),
    query: z.string(),
    file: z.any().optional().openapi({ type: "string", format: "binary", description: "The SQLite database (max 100 MB)" }),
  }),
  "DatasetConnectSqliteFile",
);

app.openapi(
  createRoute({
    method: "post",
    path: "/datasets/connect/sqlite",
    tags,
    summary: "Import a dataset from an uploaded SQLite file (multipart: name, equipment_type, query, file)",
    description: "As POST /datasets/connect with source_type sqlite, the database sent with the request; the file is kept only until its import ends.",
    security: bearer,
    request: { body: { required: true, content: { "multipart/form-data": { schema: ConnectSqliteForm } } } },
    responses: {
      201: json(Info, "The dataset, processing while its rows are imported"),
      ...errors(400, 401, 403, 413),
    },
  }),
  async (c) => {
    const { file, ...fields } = c.req.valid("form") as Record<string, unknown>;
    if (!(file instanceof File)) {
      throw new DomainError("invalid", "dataset.file_required", "A SQLite file is required in the multipart field 'file'", { field: "file" });
    }
    return c.json(await Connector.connectFile({ fields, file: new Uint8Array(await file.arrayBuffer()) }), 201);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/devices/telemetry",
    tags: ["Devices"],
    summary: "A controller pushes sensor rows (CSV or JSON, gzip allowed), buffered for aegis_bridge imports",
    description:
      "Authorization: Device <credential>. The body is CSV with a header (`Content-Type: text/csv`) or a JSON array of row objects / `{ rows: [...] }` (`application/json`), " +
      "optionally `Content-Encoding: gzip`; one column is the time (timestamp, time, ts or datetime: ISO 8601 or epoch seconds/milliseconds). " +
      `At most ${Connector.MAX_TELEMETRY_BYTES / 1024 / 1024} MB of rows per push. Import them with POST /datasets/connect (source_type aegis_bridge).`,
    security: [{ device: [] }],
    request: {
      query: z.object({ collection: z.string().optional().openapi({ description: "Default hardware_metrics" }) }),
      body: RowsBodyDoc,
    },
    responses: {
      202: json(z.object({ collection: z.string(), rows: z.number(), time_range: z.object({ start: z.string(), end: z.string() }) }).openapi("TelemetryAccepted"), "Rows stored"),
      ...errors(400, 401, 413),
    },
  }),
  async (c) => {
    const accepted = await Connector.pushTelemetry({
      collection: c.req.valid("query").collection ?? "hardware_metrics",
      body: new Uint8Array(await c.req.arrayBuffer()),
      contentType: c.req.header("content-type") ?? "text/csv",
      gzip: /gzip/i.test(c.req.header("content-encoding") ?? ""),
    });
    return c.json(accepted, 202);
  },
);

const UploadKey = openapi(Uploads.KeyInfo, "UploadKey");

app.openapi(
  createRoute({
    method: "post",
    path: "/upload/keys",
    tags: ["Upload API"],
    summary: "Create an upload key for one stream (admin); the key is shown only in this answer",
    security: bearer,
    request: { body: body(openapi(Uploads.CreateKeyInput, "CreateUploadKey")) },
    responses: { 201: json(UploadKey.extend({ key: z.string() }).openapi("CreatedUploadKey"), "The key, for X-Upload-Auth"), ...errors(400, 401, 403) },
  }),
  async (c) => c.json(await Uploads.createKey(c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/upload/keys",
    tags: ["Upload API"],
    summary: "The tenant's upload keys, without their secrets (admin)",
    security: bearer,
    responses: { 200: json(z.array(UploadKey), "Upload keys, newest first"), ...errors(401, 403) },
  }),
  async (c) => c.json(await Uploads.listKeys({}), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/upload/keys/{id}",
    tags: ["Upload API"],
    summary: "Revoke an upload key (admin); the stream's rows stay",
    security: bearer,
    request: { params: idParam("upk_01jd3x5k2m8n9p0q1r2s3t4u5v") },
    responses: { 200: json(UploadKey, "The revoked key"), ...errors(401, 403, 404) },
  }),
  async (c) => c.json(await Uploads.revokeKey(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/upload/batch",
    tags: ["Upload API"],
    summary: "A gateway pushes sensor rows to its key's stream (X-Upload-Auth); cut them into datasets with source_type upload_stream",
    description:
      "The body is CSV with a header or JSON rows, `Content-Encoding: gzip` allowed, with a time column (timestamp, time, ts or datetime). " +
      `At most ${Connector.MAX_TELEMETRY_BYTES / 1024 / 1024} MB of rows per push.`,
    security: [{ uploadKey: [] }],
    request: { body: RowsBodyDoc },
    responses: {
      202: json(z.object({ stream: z.string(), rows: z.number(), time_range: z.object({ start: z.string(), end: z.string() }) }).openapi("UploadAccepted"), "Rows stored"),
      ...errors(400, 401, 413),
    },
  }),
  async (c) => {
    const accepted = await Uploads.pushBatch({
      uploadAuth: c.req.header("x-upload-auth"),
      body: new Uint8Array(await c.req.arrayBuffer()),
      contentType: c.req.header("content-type") ?? "text/csv",
      gzip: /gzip/i.test(c.req.header("content-encoding") ?? ""),
    });
    return c.json(accepted, 202);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/datasets/{id}",
    tags,
    summary: "Dataset detail with status, column statistics, time range and sampling interval",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(Info, "Dataset"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Dataset.get(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/datasets/{id}/preview",
    tags,
    summary: "A page of rows, optionally sorted by a column",
    security: bearer,
    request: {
      params: IdParam,
      query: z.object({
        page: z.coerce.number().int().min(1).optional(),
        page_size: z.coerce.number().int().min(1).max(Dataset.MAX_PREVIEW_PAGE_SIZE).optional(),
        sort_col: z.string().min(1).max(200).optional(),
        sort_dir: z.enum(["asc", "desc"]).optional(),
      }),
    },
    responses: {
      200: json(
        z
          .object({
            headers: z.array(z.string()),
            rows: z.array(z.array(z.union([z.number(), z.string()]).nullable())).openapi({
              description:
                "One array per row, in headers order: numbers in numeric columns, ISO 8601 UTC timestamps, text as in the file (also text found in a numeric column); null when the value is missing",
              example: [
                ["2026-01-01T00:00:00Z", 55.2, 72.1],
                ["2026-01-01T00:15:00Z", 55.4, null],
              ],
            }),
            total_rows: z.number(),
            page: z.number(),
            page_size: z.number(),
            total_pages: z.number(),
            sort_col: z.string().nullable(),
            sort_dir: z.enum(["asc", "desc"]),
          })
          .openapi("DatasetPreview"),
        "Rows of the page",
      ),
      ...errors(400, 401, 404, 409),
    },
  }),
  async (c) => c.json(await Dataset.preview(c.req.valid("param").id, c.req.valid("query")), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/datasets/{id}",
    tags,
    summary: "Delete a dataset and its stored data (models trained on it keep working)",
    security: bearer,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errors(401, 403, 404) },
  }),
  async (c) => {
    await Dataset.remove(c.req.valid("param").id);
    return c.body(null, 204);
  },
);

const Validation = z
  .object({
    valid: z.boolean(),
    issues: z.array(z.string()),
    columns_checked: z.number(),
    rows_checked: z.number(),
    is_validated: z.boolean(),
    locked: z.boolean(),
  })
  .openapi("DatasetValidation");

app.openapi(
  createRoute({
    method: "post",
    path: "/datasets/{id}/validate",
    tags,
    summary: "Validate for training readiness; a valid dataset is locked",
    security: bearer,
    request: { params: IdParam },
    responses: {
      200: json(Validation, "Validation result"),
      ...errors(401, 403, 404, 409),
    },
  }),
  async (c) => c.json(await Dataset.validate(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/datasets/{id}/unlock",
    tags,
    summary: "Unlock a validated dataset; training needs a new validation",
    security: bearer,
    request: { params: IdParam },
    responses: {
      200: json(
        z.object({ message: z.string(), is_validated: z.literal(false), locked: z.literal(false) }).openapi("DatasetUnlocked"),
        "Unlocked",
      ),
      ...errors(401, 403, 404),
    },
  }),
  async (c) => c.json(await Dataset.unlock(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/datasets/{id}/recommend",
    tags,
    summary: "Model architecture recommendations computed from the data",
    security: bearer,
    request: { params: IdParam },
    responses: {
      200: json(
        z
          .object({
            dataset_id: z.string(),
            recommendations: z.array(
              z.object({
                architecture: z.enum(["lstm_autoencoder", "gru_predictor", "sentinel"]),
                match_score: z.number(),
                use_case: z.string(),
                description: z.string(),
                inputs: z.string(),
                outputs: z.string(),
                inference_result: z.string(),
                hyperparameters: z.record(z.string(), z.union([z.number(), z.string()])),
                reasons: z.array(z.string()),
              }),
            ),
            analysis: z.record(z.string(), z.unknown()),
          })
          .openapi("DatasetRecommendations"),
        "Recommendations, best first",
      ),
      ...errors(401, 404, 409),
    },
  }),
  async (c) => c.json(await Dataset.recommendations(c.req.valid("param").id), 200),
);

export const handler = handle(app);
