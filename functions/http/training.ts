/**
 * Training runs and tenant webhooks.
 *
 * POST /training/start answers 201 with the run `running` (a worker has its
 * message) or `queued` (the tenant's plan slots or the platform are full; it
 * starts by itself, oldest first, when a slot frees). Live progress: connect
 * to /ws/training/<id>?token=... or send {"action":"subscribe","topic":"run:<id>"}
 * on /ws; events are training_queued, training_started, epoch_update,
 * training_complete (status completed or stopped) and training_failed.
 *
 * POST /training/:id/stop sets a stop flag the worker reads before every
 * batch; the run ends `stopped` within one epoch. The answer waits up to 8 s
 * for that and otherwise reports `stopping`. A stopped run that completed at
 * least one epoch still yields a model (its best weights), flagged
 * `stopped_early`.
 *
 * Webhooks: POST /webhooks registers an HTTPS endpoint for training.completed
 * and/or training.failed (admins; the signing secret is in the 201 answer
 * only). Deliveries are signed `Flint-Signature: t=<unix>,v1=<hex HMAC-SHA256
 * of "<t>.<body>">`, retried with backoff, and listed with their status at
 * GET /webhooks/:id/deliveries.
 *
 * Lists answer JSON arrays (as the seed does); the `X-Next-Cursor` header
 * carries the cursor of the next page.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { handle } from "hono/aws-lambda";
import { Cursor } from "../../core/cursor";
import { TrainingRun } from "../../core/training";
import { Webhook } from "../../core/webhook";
import { createApp, ErrorSchemaDoc } from "./common";

export const app = createApp();

const security = [{ bearer: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const errors = { 400: ErrorSchemaDoc, 401: ErrorSchemaDoc, 403: ErrorSchemaDoc, 404: ErrorSchemaDoc };

const Run = TrainingRun.Info.openapi("TrainingRun");
const IdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "tr_01jd3x5k2m8n9p0q1r2s3t4u5v" }),
});
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  cursor: Cursor.Param.optional(),
});
const nextCursor = { "X-Next-Cursor": { schema: { type: "string" as const }, description: "Cursor of the next page, absent on the last page" } };

app.openapi(
  createRoute({
    method: "get",
    path: "/training",
    tags: ["Training"],
    summary: "List training runs, newest first",
    security,
    request: { query: Page },
    responses: { 200: { ...json(z.array(Run), "Runs"), headers: nextCursor }, 401: ErrorSchemaDoc },
  }),
  async (c) => {
    const page = await TrainingRun.list(c.req.valid("query"));
    if (page.cursor) c.header("X-Next-Cursor", page.cursor);
    return c.json(page.items, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/training/start",
    tags: ["Training"],
    summary: "Start a training run (or queue it when no slot is free)",
    security,
    request: { body: { required: true, content: { "application/json": { schema: TrainingRun.StartInput.openapi("StartTraining") } } } },
    responses: { 201: json(Run, "The run, running or queued"), ...errors },
  }),
  async (c) => c.json(await TrainingRun.start(c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/training/queue",
    tags: ["Training"],
    summary: "The tenant's running and queued runs and free capacity",
    security,
    responses: { 200: json(TrainingRun.QueueInfo.openapi("TrainingQueue"), "Queue status"), 401: ErrorSchemaDoc },
  }),
  async (c) => c.json(await TrainingRun.queue(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/training/{id}",
    tags: ["Training"],
    summary: "A training run with its current metrics",
    security,
    request: { params: IdParam },
    responses: { 200: json(Run, "The run"), 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
  }),
  async (c) => c.json(await TrainingRun.detail(c.req.valid("param").id), 200),
);

const Epoch = z
  .object({
    epoch: z.number(),
    train_loss: z.number(),
    val_loss: z.number(),
    best_val_loss: z.number(),
    learning_rate: z.number(),
    elapsed_seconds: z.number(),
  })
  .openapi("TrainingEpoch");

app.openapi(
  createRoute({
    method: "get",
    path: "/training/{id}/epochs",
    tags: ["Training"],
    summary: "Every finished epoch of a run, in order",
    security,
    request: { params: IdParam },
    responses: { 200: json(z.array(Epoch), "Epochs"), 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
  }),
  async (c) => {
    const run = await TrainingRun.get(c.req.valid("param").id);
    const epochs = await TrainingRun.epochs(run.tenantId, run.runId);
    return c.json(
      epochs.map((e) => ({
        epoch: e.epoch,
        train_loss: e.trainLoss,
        val_loss: e.valLoss,
        best_val_loss: e.bestValLoss,
        learning_rate: e.learningRate,
        elapsed_seconds: e.elapsedSeconds,
      })),
      200,
    );
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/training/{id}/stop",
    tags: ["Training"],
    summary: "Stop a queued or running run (within one epoch)",
    security,
    request: { params: IdParam },
    responses: { 200: json(Run, "The run, stopped (or still stopping)"), 401: ErrorSchemaDoc, 403: ErrorSchemaDoc, 404: ErrorSchemaDoc, 409: ErrorSchemaDoc },
  }),
  async (c) => c.json(await TrainingRun.stop(c.req.valid("param").id), 200),
);

// ---------------------------------------------------------------- webhooks

const WebhookInfo = Webhook.Info.openapi("Webhook");
const CreatedWebhook = Webhook.Info.extend({ secret: z.string().openapi({ description: "Signing secret, shown only in this answer" }) }).openapi("CreatedWebhook");

app.openapi(
  createRoute({
    method: "post",
    path: "/webhooks",
    tags: ["Webhooks"],
    summary: "Register a webhook for training.completed / training.failed",
    security,
    request: { body: { required: true, content: { "application/json": { schema: Webhook.CreateInput.openapi("CreateWebhook") } } } },
    responses: { 201: json(CreatedWebhook, "The webhook and its signing secret"), ...errors },
  }),
  async (c) => c.json(await Webhook.create(c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/webhooks",
    tags: ["Webhooks"],
    summary: "The tenant's webhooks",
    security,
    responses: { 200: json(z.array(WebhookInfo), "Webhooks"), 401: ErrorSchemaDoc },
  }),
  async (c) => c.json(await Webhook.list(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/webhooks/{id}",
    tags: ["Webhooks"],
    summary: "A webhook",
    security,
    request: { params: IdParam },
    responses: { 200: json(WebhookInfo, "The webhook"), 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
  }),
  async (c) => c.json(await Webhook.get(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/webhooks/{id}",
    tags: ["Webhooks"],
    summary: "Delete a webhook",
    security,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, 401: ErrorSchemaDoc, 403: ErrorSchemaDoc, 404: ErrorSchemaDoc },
  }),
  async (c) => {
    await Webhook.remove(c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/webhooks/{id}/deliveries",
    tags: ["Webhooks"],
    summary: "Recent deliveries of a webhook with their status",
    security,
    request: { params: IdParam, query: z.object({ limit: z.coerce.number().int().min(1).max(100).optional() }) },
    responses: { 200: json(z.array(Webhook.DeliveryInfo.openapi("WebhookDelivery")), "Deliveries, newest first"), 401: ErrorSchemaDoc, 404: ErrorSchemaDoc },
  }),
  async (c) => c.json(await Webhook.deliveries(c.req.valid("param").id, c.req.valid("query")), 200),
);

export const handler = handle(app);
