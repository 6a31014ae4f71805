/**
 * The one place that reads process.env. Values are read lazily and once, and a
 * missing required value fails fast with its name (never its value).
 *
 * On AWS, SST v2 binds resources as SST_<Construct>_<prop>_<id> environment
 * variables; the local runtime sets FLINT_* variables with the same meaning.
 */
import os from "node:os";
import path from "node:path";

function required(names: string[]): string {
  for (const name of names) {
    const value = process.env[name];
    if (value) return value;
  }
  throw new Error(`Missing configuration: set ${names.join(" or ")}`);
}

function optional(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
}

function once<T>(read: () => T): () => T {
  let cached: { value: T } | undefined;
  return () => (cached ??= { value: read() }).value;
}

export const Config = {
  stage: once(() => optional("SST_STAGE") ?? optional("FLINT_STAGE") ?? "local"),
  isLocal: once(() => optional("FLINT_LOCAL") === "1"),
  region: once(() => optional("AWS_REGION") ?? "us-east-1"),
  version: once(() => optional("FLINT_VERSION") ?? "0.1.0"),
  logLevel: once(() => optional("FLINT_LOG_LEVEL") ?? optional("POWERTOOLS_LOG_LEVEL") ?? "INFO"),

  tableName: once(() => required(["SST_Table_tableName_Data", "FLINT_TABLE_NAME"])),
  bucketName: once(() => required(["SST_Bucket_bucketName_Files", "FLINT_BUCKET_NAME"])),
  ingestQueueUrl: once(() => required(["SST_Queue_queueUrl_IngestQueue", "FLINT_INGEST_QUEUE_URL"])),
  trainingQueueUrl: once(() => required(["SST_Queue_queueUrl_TrainingQueue", "FLINT_TRAINING_QUEUE_URL"])),
  compileQueueUrl: once(() => required(["SST_Queue_queueUrl_CompileQueue", "FLINT_COMPILE_QUEUE_URL"])),
  importQueueUrl: once(() => required(["SST_Queue_queueUrl_ImportQueue", "FLINT_IMPORT_QUEUE_URL"])),
  webhookQueueUrl: once(() => required(["SST_Queue_queueUrl_WebhookQueue", "FLINT_WEBHOOK_QUEUE_URL"])),
  realtimeQueueUrl: once(() => required(["SST_Queue_queueUrl_RealtimeQueue", "FLINT_REALTIME_QUEUE_URL"])),
  /** HTTPS endpoint of the WebSocket API's Management API (API Gateway) or the local runtime. */
  websocketManagementEndpoint: once(() =>
    optional("FLINT_WS_MANAGEMENT_ENDPOINT") ??
    required(["SST_WebSocketApi_url_Realtime"]).replace(/^wss:/, "https:"),
  ),

  /** Endpoint overrides for the local runtime; undefined on AWS. */
  dynamoEndpoint: once(() => optional("FLINT_DYNAMO_ENDPOINT")),
  s3Endpoint: once(() => optional("FLINT_S3_ENDPOINT")),
  sqsEndpoint: once(() => optional("FLINT_SQS_ENDPOINT")),

  /** Local data directory: DynamoDB files, S3 objects, signing key, mail outbox. */
  dataDir: once(() => path.resolve(optional("FLINT_DATA_DIR") ?? ".flint")),
  /** Public base URL of the HTTP API, for links in emails and presigned flows. */
  publicUrl: once(() => optional("FLINT_PUBLIC_URL") ?? "http://localhost:3030"),
  /** Where verification and reset emails are sent from (SES on AWS). */
  mailFrom: once(() => optional("FLINT_MAIL_FROM") ?? "no-reply@flint.local"),

  /** Lets tests point the stripe client at a local stand-in: "http://127.0.0.1:12111". */
  stripeApiBase: once(() => optional("FLINT_STRIPE_API_BASE")),

  /** ONNX Runtime intra-op threads per session (default: available cores, at most 8). */
  mlThreads: once(() => Number(optional("FLINT_ML_THREADS")) || Math.max(1, Math.min(os.availableParallelism?.() ?? 2, 8))),
  /** Executor for the unrolled training graph: "sequential" (faster steps) or "parallel" (faster session creation). */
  mlTrainExecution: once((): "auto" | "sequential" | "parallel" => {
    const value = optional("FLINT_ML_TRAIN_EXECUTION");
    return value === "parallel" || value === "sequential" ? value : "auto";
  }),

  /**
   * How long a process trusts a session it read for the per-request token check. Logout and revocation in the
   * same process take effect at once; elsewhere within this many seconds. 0 reads the table on every request.
   */
  sessionCacheSeconds: once(() => Number(optional("FLINT_SESSION_CACHE_SECONDS") ?? "5")),

  /**
   * Loopback and private networks outbound calls to user-given addresses may reach anyway (CIDRs,
   * comma-separated): none on AWS by default; the local runtime allows loopback.
   */
  outboundAllow: once(() => (optional("FLINT_OUTBOUND_ALLOW") ?? "").split(",").map((entry) => entry.trim()).filter(Boolean)),
  /** How long an open circuit breaker fails fast before one call may probe the dependency again. */
  breakerCooldownMs: once(() => Number(optional("FLINT_BREAKER_COOLDOWN_MS") ?? "30000")),
  /** A worker without a heartbeat for this long is offline (tests shorten it). */
  workerOfflineAfterMs: once(() => Number(optional("FLINT_WORKER_OFFLINE_AFTER_MS") ?? "120000")),
  /** Where the edge agent's files are when core is bundled (the compile image); unset: next to core/deployment/package.ts. */
  agentDir: once(() => optional("FLINT_AGENT_DIR")),
  /** A service command (start, stop, restart) not done within this long expires. */
  commandTimeoutMs: once(() => Number(optional("FLINT_COMMAND_TIMEOUT_MS") ?? "300000")),
  /** An update command (it waits for a compile and an install) not done within this long expires. */
  updateTimeoutMs: once(() => Number(optional("FLINT_UPDATE_TIMEOUT_MS") ?? "1800000")),
  /** How long POST /datasets/connect's probe lets a source's query run before answering 504. */
  connectorProbeTimeoutMs: once(() => Number(optional("FLINT_CONNECTOR_PROBE_TIMEOUT_MS") ?? "15000")),
  /** The one folder SQLite files may be imported from by path (never any other server path); unset: none. */
  sqliteImportDir: once(() => {
    const value = optional("FLINT_SQLITE_IMPORT_DIR");
    return value ? path.resolve(value) : undefined;
  }),

  /** Platform-wide concurrent training capacity across all tenants. */
  platformTrainingCapacity: once(() => Number(optional("FLINT_TRAINING_CAPACITY") ?? "8")),
};

/**
 * Secrets: SST v2 Config.Secret values live in SSM Parameter Store; SST puts a
 * placeholder in the environment and the value is fetched (decrypted) on first
 * use. Locally they come from the environment. Returns undefined when unset.
 */
export type SecretName =
  | "JWT_SIGNING_KEY"
  | "STRIPE_SECRET_KEY"
  | "STRIPE_WEBHOOK_SECRET"
  | "STRIPE_PRICE_PRO"
  | "STRIPE_PRICE_ENTERPRISE"
  | "SECRETS_MASTER_KEY";

const secretCache = new Map<SecretName, Promise<string | undefined>>();

export function secret(name: SecretName): Promise<string | undefined> {
  let pending = secretCache.get(name);
  if (!pending) {
    pending = readSecret(name);
    secretCache.set(name, pending);
  }
  return pending;
}

async function readSecret(name: SecretName): Promise<string | undefined> {
  const bound = optional(`SST_Secret_value_${name}`);
  if (bound === undefined) return optional(name);
  if (bound !== "__FETCH_FROM_SSM__") return bound;
  const { SSMClient, GetParameterCommand } = await import("@aws-sdk/client-ssm");
  const ssm = new SSMClient({ region: Config.region() });
  const app = required(["SST_APP"]);
  for (const stage of [Config.stage(), ".fallback"]) {
    try {
      const result = await ssm.send(
        new GetParameterCommand({ Name: `/sst/${app}/${stage}/Secret/${name}/value`, WithDecryption: true }),
      );
      if (result.Parameter?.Value) return result.Parameter.Value;
    } catch (error) {
      if ((error as { name?: string }).name !== "ParameterNotFound") throw error;
    }
  }
  return undefined;
}
