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
import { Model } from "../../core/model";
import { TrainingRun } from "../../core/training";
import { TrainingLeaderboard } from "../../core/training/leaderboard";
import { Webhook } from "../../core/webhook";
import { createApp } from "./common";
import { bearer, body, errors, idParam, json, nextCursorHeader, openapi, pageQuery } from "./route";

export const app = createApp();


const Run = openapi(TrainingRun.Info, "TrainingRun");
const IdParam = idParam("tr_01jd3x5k2m8n9p0q1r2s3t4u5v");
const Page = pageQuery();

app.openapi(
  createRoute({
    method: "get",
    path: "/training",
    tags: ["Training"],
    summary: "List training runs, newest first",
    security: bearer,
    request: { query: Page },
    responses: { 200: { ...json(z.array(Run), "Runs"), headers: nextCursorHeader }, ...errors(401) },
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
    security: bearer,
    request: { body: body(openapi(TrainingRun.StartInput, "StartTraining")) },
    responses: { 201: json(Run, "The run, running or queued"), ...errors(400, 401, 403, 404) },
  }),
  async (c) => c.json(await TrainingRun.start(c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/training/queue",
    tags: ["Training"],
    summary: "The tenant's running and queued runs and free capacity",
    security: bearer,
    responses: { 200: json(openapi(TrainingRun.QueueInfo, "TrainingQueue"), "Queue status"), ...errors(401) },
  }),
  async (c) => c.json(await TrainingRun.queue(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/training/{id}",
    tags: ["Training"],
    summary: "A training run with its current metrics",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(Run, "The run"), ...errors(401, 404) },
  }),
  async (c) => c.json(await TrainingRun.detail(c.req.valid("param").id), 200),
);

const Epoch = openapi(TrainingRun.EpochInfo, "TrainingEpoch");

app.openapi(
  createRoute({
    method: "get",
    path: "/training/{id}/epochs",
    tags: ["Training"],
    summary: "Every finished epoch of a run, in order",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(z.array(Epoch), "Epochs"), ...errors(401, 404) },
  }),
  async (c) => c.json(await TrainingRun.epochHistory(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/training/{id}/stop",
    tags: ["Training"],
    summary: "Stop a queued or running run (within one epoch)",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(Run, "The run, stopped (or still stopping)"), ...errors(401, 403, 404, 409) },
  }),
  async (c) => c.json(await TrainingRun.stop(c.req.valid("param").id), 200),
);

// ---------------------------------------------------------------- auto: the leaderboard

const Leaderboard = openapi(TrainingLeaderboard.Info, "TrainingLeaderboard");
const CandidateParams = IdParam.extend({
  candidate: z.string().min(1).max(64).openapi({ param: { name: "candidate", in: "path" }, example: "pca" }),
});

app.openapi(
  createRoute({
    method: "get",
    path: "/training/{id}/leaderboard",
    tags: ["Training"],
    summary: "An auto run's candidates, ranked on the same held-out rows",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(Leaderboard, "Candidates with their figures, best first"), ...errors(401, 404) },
  }),
  async (c) => c.json(await TrainingLeaderboard.get(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/training/{id}/leaderboard/{candidate}/keep",
    tags: ["Training"],
    summary: "Make another candidate of a finished auto run a model of its own",
    security: bearer,
    request: { params: CandidateParams },
    responses: { 201: json(openapi(Model.Info, "Model"), "The new model"), ...errors(400, 401, 403, 404, 409) },
  }),
  async (c) => {
    const { id, candidate } = c.req.valid("param");
    return c.json(await TrainingLeaderboard.keep({ run_id: id, candidate }), 201);
  },
);

// ---------------------------------------------------------------- webhooks

const WebhookInfo = openapi(Webhook.Info, "Webhook");
const CreatedWebhook = Webhook.Info.extend({ secret: z.string().openapi({ description: "Signing secret, shown only in this answer" }) }).openapi("CreatedWebhook");

app.openapi(
  createRoute({
    method: "post",
    path: "/webhooks",
    tags: ["Webhooks"],
    summary: "Register a webhook for training.completed / training.failed",
    security: bearer,
    request: { body: body(openapi(Webhook.CreateInput, "CreateWebhook")) },
    responses: { 201: json(CreatedWebhook, "The webhook and its signing secret"), ...errors(400, 401, 403, 404) },
  }),
  async (c) => c.json(await Webhook.create(c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/webhooks",
    tags: ["Webhooks"],
    summary: "The tenant's webhooks",
    security: bearer,
    responses: { 200: json(z.array(WebhookInfo), "Webhooks"), ...errors(401) },
  }),
  async (c) => c.json(await Webhook.list(), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/webhooks/{id}",
    tags: ["Webhooks"],
    summary: "A webhook",
    security: bearer,
    request: { params: IdParam },
    responses: { 200: json(WebhookInfo, "The webhook"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Webhook.get(c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/webhooks/{id}",
    tags: ["Webhooks"],
    summary: "Delete a webhook",
    security: bearer,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errors(401, 403, 404) },
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
    security: bearer,
    request: { params: IdParam, query: Page.pick({ limit: true }) },
    responses: { 200: json(z.array(openapi(Webhook.DeliveryInfo, "WebhookDelivery")), "Deliveries, newest first"), ...errors(401, 404) },
  }),
  async (c) => c.json(await Webhook.deliveries(c.req.valid("param").id, c.req.valid("query")), 200),
);

export const handler = handle(app);
