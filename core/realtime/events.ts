/**
 * Every event Flint sends, in one place: the realtime events of the live
 * channel (WebSocket) and the webhook events. Each has one schema and is
 * published on one kind of topic; publishers import the definition
 * (`Realtime.publish(EpochUpdate, Topic.run(tenantId, runId), payload)`,
 * `Webhook.emit(TrainingCompletedWebhook, ...)`), never a type string. On the
 * local runtime (development and tests) every payload is checked against its
 * schema before it is sent; everywhere its type is checked by the compiler.
 *
 * Naming rule for new events: `<resource>.<past-tense verb>` (`worker.online`
 * style for states), the form of the webhook events (`training.completed`).
 * Older names stay as clients know them: the training events the API contract
 * fixes (`training_queued`, `training_started`, `epoch_update`,
 * `training_complete`, `training_failed`) and `deployment_status`, and the
 * seed's service webhooks (`service:start`, `service:stop`, `service:error`).
 *
 * Schemas are strict: a field that is not in the schema is refused, so a new
 * field is added here first. The messages are `{ type, ...payload }`.
 */
import { z } from "zod";
import { Config } from "../config";

/** What a topic names: a tenant's whole channel or one of its resources. */
export type TopicKind = "tenant" | "run" | "dataset" | "deployment" | "service";

/** A tenant's topic to publish on; `name` is what clients subscribe to (`tenant`, `run:<id>`, ...). */
export interface Topic<Kind extends TopicKind = TopicKind> {
  readonly tenantId: string;
  readonly kind: Kind;
  readonly name: string;
}

/** Topic builders. Publishing on a resource topic also reaches the tenant's `tenant` subscribers. */
export const Topic = {
  tenant: (tenantId: string): Topic<"tenant"> => ({ tenantId, kind: "tenant", name: "tenant" }),
  run: (tenantId: string, runId: string): Topic<"run"> => ({ tenantId, kind: "run", name: `run:${runId}` }),
  dataset: (tenantId: string, datasetId: string): Topic<"dataset"> => ({ tenantId, kind: "dataset", name: `dataset:${datasetId}` }),
  deployment: (tenantId: string, deploymentId: string): Topic<"deployment"> => ({ tenantId, kind: "deployment", name: `deployment:${deploymentId}` }),
  service: (tenantId: string, serviceId: string): Topic<"service"> => ({ tenantId, kind: "service", name: `service:${serviceId}` }),
};

export interface RealtimeEventDefinition<Type extends string = string, Kind extends TopicKind = TopicKind, Schema extends z.ZodType = z.ZodType> {
  readonly channel: "realtime";
  readonly type: Type;
  /** The topic it is published on. */
  readonly topic: Kind;
  readonly schema: Schema;
}

export interface WebhookEventDefinition<Type extends string = string, Schema extends z.ZodType = z.ZodType> {
  readonly channel: "webhook";
  readonly type: Type;
  /** The delivery's `data`. */
  readonly schema: Schema;
}

export type EventDefinition = RealtimeEventDefinition | WebhookEventDefinition;

/** What a publisher passes: the fields without `type`. */
export type PayloadOf<D extends EventDefinition> = z.input<D["schema"]>;
/** What a client receives. */
export type MessageOf<D extends EventDefinition> = { type: D["type"] } & z.output<D["schema"]>;

/** A realtime event of the live channel, published on `topic` topics. */
export function event<Type extends string, Kind extends TopicKind, Schema extends z.ZodType>(
  type: Type,
  topic: Kind,
  schema: Schema,
): RealtimeEventDefinition<Type, Kind, Schema> {
  return { channel: "realtime", type, topic, schema };
}

/** A webhook event; `schema` describes the delivery's `data`. */
export function webhookEvent<Type extends string, Schema extends z.ZodType>(type: Type, schema: Schema): WebhookEventDefinition<Type, Schema> {
  return { channel: "webhook", type, schema };
}

/** A payload that does not match its event's schema (a bug in the publisher, refused on the local runtime). */
export class EventPayloadError extends Error {
  readonly issues: z.core.$ZodIssue[];

  constructor(
    readonly type: string,
    error: z.ZodError,
  ) {
    super(`${type} event payload does not match its schema:\n${z.prettifyError(error)}`, { cause: error });
    this.name = "EventPayloadError";
    this.issues = error.issues;
  }
}

/**
 * Checks `payload` against `definition`'s schema on the local runtime
 * (development and tests) and returns it unchanged; on AWS it is only typed.
 *
 * @throws EventPayloadError when the payload breaks the schema (local runtime only)
 */
export function check<D extends EventDefinition>(definition: D, payload: PayloadOf<D>): PayloadOf<D> {
  if (Config.isLocal()) {
    const parsed = definition.schema.safeParse(payload);
    if (!parsed.success) throw new EventPayloadError(definition.type, parsed.error);
  }
  return payload;
}

/**
 * The message clients receive for a realtime event: `{ type, ...payload }`,
 * checked like `check`. Snapshots build their replayed events with it.
 *
 * @throws EventPayloadError when the payload breaks the schema (local runtime only)
 */
export function message<D extends RealtimeEventDefinition>(definition: D, payload: PayloadOf<D>): MessageOf<D> {
  return { type: definition.type, ...(check(definition, payload) as object) } as MessageOf<D>;
}

// ------------------------------------------------------------ fields

/** A loss as the worker has it: NaN or ±Infinity (a diverged run) go out as JSON null, a stored one is null. */
const Loss = z.custom<number>((value) => typeof value === "number", "Expected a number (NaN and ±Infinity included) or null").nullable();
const Count = z.number().int().min(0);
const Seconds = z.number().min(0);

// ------------------------------------------------------------ training (topic run:<id>)

/** A run was queued for lack of a free slot (plan or platform). */
export const TrainingQueued = event(
  "training_queued",
  "run",
  z.strictObject({ status: z.literal("queued"), queue_position: Count.nullable(), run_id: z.string() }),
);

/** A worker was handed the run. */
export const TrainingStarted = event(
  "training_started",
  "run",
  z.strictObject({ status: z.literal("running"), total_epochs: Count, started_at: z.string().nullable(), run_id: z.string() }),
);

/** One epoch finished (live from the worker, or replayed from the epoch records in a snapshot). */
export const EpochUpdate = event(
  "epoch_update",
  "run",
  z.strictObject({
    current_epoch: Count,
    total_epochs: Count,
    train_loss: Loss,
    val_loss: Loss,
    best_val_loss: Loss,
    learning_rate: z.number(),
    elapsed_seconds: Seconds,
    estimated_remaining_seconds: Seconds,
    epoch_seconds: Seconds,
    /** Absent when replayed from a record written before setup time was stored. */
    setup_seconds: Seconds.optional(),
    /** When the epoch ended (epoch ms): clients measure delivery latency against it; null for old records. */
    ended_at: z.number().nullable(),
    /** architecture "auto": the candidate this epoch trained and its own epoch number (current_epoch counts over all) */
    candidate: z.string().optional(),
    candidate_epoch: Count.optional(),
    run_id: z.string(),
  }),
);

/** The run ended with a model (`completed`) or was stopped (`stopped`, a model only if an epoch finished). */
export const TrainingComplete = event(
  "training_complete",
  "run",
  z.strictObject({
    status: z.enum(["completed", "stopped"]),
    current_epoch: Count,
    total_epochs: Count,
    best_val_loss: Loss,
    final_metrics: z.array(z.strictObject({ train_loss: Loss, val_loss: Loss })),
    model_id: z.string().nullable(),
    /** Only for `completed`. */
    evaluation_id: z.string().nullable().optional(),
    training_time_seconds: Seconds.optional(),
    run_id: z.string(),
  }),
);

/** The run failed; `error` is readable. */
export const TrainingFailed = event(
  "training_failed",
  "run",
  z.strictObject({ status: z.literal("failed"), error: z.string().nullable(), current_epoch: Count, total_epochs: Count, run_id: z.string() }),
);

// ------------------------------------------------------------ datasets (topic dataset:<id>)

/** Ingest finished: the dataset can be validated and previewed. */
export const DatasetReady = event(
  "dataset.ready",
  "dataset",
  z.strictObject({ dataset_id: z.string(), row_count: Count.nullable(), columns: z.array(z.string()) }),
);

/** Ingest refused the file; `code` is the domain error's code. */
export const DatasetFailed = event(
  "dataset.failed",
  "dataset",
  z.strictObject({ dataset_id: z.string(), code: z.string(), reason: z.string() }),
);

/** An import from a connected source is under way: rows and CSV bytes read so far (about every 2 s, and once at the end). */
export const DatasetRowsImported = event(
  "dataset.rows_imported",
  "dataset",
  z.strictObject({ dataset_id: z.string(), rows: Count, bytes: Count, done: z.boolean() }),
);

/** Validation passed: the dataset is locked and trainable. */
export const DatasetValidated = event("dataset.validated", "dataset", z.strictObject({ dataset_id: z.string() }));

// ------------------------------------------------------------ deployments (topic deployment:<id>)

/** A deployment moved to another status (one event per transition; `status` is Deployment's Status). */
export const DeploymentStatus = event(
  "deployment_status",
  "deployment",
  z.strictObject({
    deployment_id: z.string(),
    status: z.string(),
    reason: z.string().nullable(),
    model_id: z.string(),
    target_id: z.string(),
    binary_size_bytes: Count.nullable(),
    sha256: z.string().nullable(),
  }),
);

// ------------------------------------------------------------ workers (the tenant topic)

/** A worker as the online/offline events carry it. */
const WorkerTransition = z.strictObject({
  worker_id: z.string(),
  name: z.string(),
  group: z.string().nullable(),
  last_seen: z.string(),
});

/** A worker's first heartbeat after being offline (or ever): once per transition. */
export const WorkerOnline = event("worker.online", "tenant", WorkerTransition);
/** A worker missed its heartbeats for the offline window: once per transition. */
export const WorkerOffline = event("worker.offline", "tenant", WorkerTransition);

// ------------------------------------------------------------ services (topic service:<id>)

/** The model service on a worker changed state, as the agent reported it. */
const ServiceTransition = z.strictObject({
  service_id: z.string(),
  worker_id: z.string(),
  worker_name: z.string(),
  status: z.enum(["running", "stopped", "failed", "installing"]),
  deployment_id: z.string().nullable(),
  model_id: z.string().nullable(),
  restart_count: Count,
  exit_code: z.number().int().nullable(),
  error: z.string().nullable(),
  at: z.string(),
});

/** The service started (first start, a restart, or after a crash). */
export const ServiceStarted = event("service.started", "service", ServiceTransition);
/** The service was stopped on purpose. */
export const ServiceStopped = event("service.stopped", "service", ServiceTransition);
/** The service exited unexpectedly or could not start; the agent restarts it with backoff. */
export const ServiceFailed = event("service.failed", "service", ServiceTransition);

/** A command to a service moved on (delivered, succeeded, failed or expired). */
export const CommandUpdated = event(
  "command.updated",
  "service",
  z.strictObject({
    command_id: z.string(),
    service_id: z.string(),
    worker_id: z.string(),
    command: z.enum(["start", "stop", "restart", "update"]),
    state: z.enum(["queued", "delivered", "succeeded", "failed", "expired"]),
    result: z.string().nullable(),
    reason: z.string().nullable(),
    deployment_id: z.string().nullable(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  }),
);

// ------------------------------------------------------------ webhooks

/** A finished run as GET /training/:id returns it (TrainingRun.Info, which lives above this module). */
const WebhookRun = z.looseObject({ id: z.string(), status: z.string() });

/** A run completed: its model and evaluation are ready. */
export const TrainingCompletedWebhook = webhookEvent("training.completed", WebhookRun);
/** A run failed; the run's `error` says why. */
export const TrainingFailedWebhook = webhookEvent("training.failed", WebhookRun);

/** A worker came online / went offline (the same data as the live channel's events). */
export const WorkerOnlineWebhook = webhookEvent("worker.online", WorkerTransition);
export const WorkerOfflineWebhook = webhookEvent("worker.offline", WorkerTransition);

/** The service events under seed 004's names, with the live channel's data. */
export const ServiceStartWebhook = webhookEvent("service:start", ServiceTransition);
export const ServiceStopWebhook = webhookEvent("service:stop", ServiceTransition);
export const ServiceErrorWebhook = webhookEvent("service:error", ServiceTransition);

/** The webhook events a tenant can subscribe to (in the order the API lists them). */
export const WEBHOOK_EVENTS = [
  TrainingCompletedWebhook.type,
  TrainingFailedWebhook.type,
  WorkerOnlineWebhook.type,
  WorkerOfflineWebhook.type,
  ServiceStartWebhook.type,
  ServiceStopWebhook.type,
  ServiceErrorWebhook.type,
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
export type WebhookEvent =
  | typeof TrainingCompletedWebhook
  | typeof TrainingFailedWebhook
  | typeof WorkerOnlineWebhook
  | typeof WorkerOfflineWebhook
  | typeof ServiceStartWebhook
  | typeof ServiceStopWebhook
  | typeof ServiceErrorWebhook;

/** The registry: every event definition, realtime and webhook. */
export const all: readonly EventDefinition[] = [
  TrainingQueued,
  TrainingStarted,
  EpochUpdate,
  TrainingComplete,
  TrainingFailed,
  DatasetReady,
  DatasetFailed,
  DatasetRowsImported,
  DatasetValidated,
  DeploymentStatus,
  WorkerOnline,
  WorkerOffline,
  ServiceStarted,
  ServiceStopped,
  ServiceFailed,
  CommandUpdated,
  TrainingCompletedWebhook,
  TrainingFailedWebhook,
  WorkerOnlineWebhook,
  WorkerOfflineWebhook,
  ServiceStartWebhook,
  ServiceStopWebhook,
  ServiceErrorWebhook,
];

/** The live channel's event types, which a client may also subscribe to one by one (`{"type":"subscribe","event":…}`). */
export const REALTIME_EVENT_TYPES: readonly string[] = all.filter((definition) => definition.channel === "realtime").map((definition) => definition.type);
