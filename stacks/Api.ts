import { Api as HttpApi, use, type Function, type FunctionProps, type StackContext } from "sst/constructs";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Storage } from "./Storage";
import { Jobs } from "./Jobs";
import { Realtime } from "./Realtime";
import { access, nodeFunction, secretReadAccess } from "./lib/shared";
import { endpointGroupRoutes } from "../functions/http/routes";

/**
 * The HTTP API (API Gateway v2). One Lambda per endpoint group, each a Hono
 * app exported as `handler`, bound to only the resources it uses.
 */
export function Api({ stack }: StackContext) {
  const storage = use(Storage);
  const jobs = use(Jobs);
  // Endpoints that change a run, dataset or deployment push the change to subscribers.
  const { realtime } = use(Realtime);
  const { secrets } = storage;
  const jwt = secrets.JWT_SIGNING_KEY;
  const table = access.table(storage.table);
  const bucket = access.bucket(storage.bucket);
  const ingestQueue = access.producer(jobs.ingestQueue);
  const trainingQueue = access.producer(jobs.trainingQueue);
  const webhookQueue = access.producer(jobs.webhookQueue);
  const compileQueue = access.producer(jobs.compileQueue);
  const importQueue = access.producer(jobs.importQueue);

  const endpoint = (id: string, handler: string, props: Omit<FunctionProps, "handler"> = {}) => {
    const bound = props.bind ?? [];
    const boundSecrets = Object.values(secrets).filter((secret) => bound.includes(secret));
    return nodeFunction(stack, id, {
      timeout: "29 seconds",
      memorySize: 1024,
      ...props,
      handler,
      permissions: [...secretReadAccess(boundSecrets), ...((props.permissions as PolicyStatement[]) ?? [])],
    });
  };

  const meta = endpoint("HttpMeta", "functions/http/meta.handler", {
    memorySize: 512,
    // /.well-known/jwks.json publishes the public half of the signing key.
    bind: [table, jwt],
  });
  const accounts = endpoint("HttpAccounts", "functions/http/accounts.handler", {
    memorySize: 2048,
    bind: [table, jwt],
    permissions: [
      new PolicyStatement({
        actions: ["ses:SendEmail", "ses:SendRawEmail"],
        resources: [`arn:${stack.partition}:ses:${stack.region}:${stack.account}:identity/*`],
      }),
    ],
  });
  const admin = endpoint("HttpAdmin", "functions/http/admin.handler", {
    bind: [table, jwt],
  });
  const datasets = endpoint("HttpDatasets", "functions/http/datasets.handler", {
    // POST /datasets/connect probes the source, seals its spec and queues the import.
    bind: [table, bucket, ingestQueue, importQueue, realtime, jwt, secrets.SECRETS_MASTER_KEY],
  });
  const connections = endpoint("HttpConnections", "functions/http/connections.handler", {
    // A sync reads the connection's vault secrets, probes the source and queues the import.
    bind: [table, bucket, importQueue, jwt, secrets.SECRETS_MASTER_KEY],
  });
  const training = endpoint("HttpTraining", "functions/http/training.handler", {
    bind: [table, bucket, trainingQueue, webhookQueue, realtime, jwt],
  });
  const models = endpoint("HttpModels", "functions/http/models.handler", {
    // Gradient evaluations (/api/v1/evaluations) run on the training queue.
    bind: [table, bucket, trainingQueue, jwt],
  });
  const deployments = endpoint("HttpDeployments", "functions/http/deployments.handler", {
    // A device's heartbeat may announce worker.online (live channel and webhooks).
    bind: [table, bucket, compileQueue, webhookQueue, realtime, jwt],
  });
  const workers = endpoint("HttpWorkers", "functions/http/workers.handler", {
    // Heartbeats announce worker.online; a worker's tasks carry a presigned package link.
    bind: [table, bucket, webhookQueue, realtime, jwt],
    // GET /workers/agent/:file serves the reference agent.
    copyFiles: [{ from: "core/deployment/agent", to: "agent" }],
    environment: { FLINT_AGENT_DIR: "/var/task/agent" },
  });
  const services = endpoint("HttpServices", "functions/http/services.handler", {
    // update builds the newer model (the compile queue); commands are published on the service's topic.
    bind: [table, bucket, compileQueue, webhookQueue, realtime, jwt],
  });
  const secretsVault = endpoint("HttpSecrets", "functions/http/secrets.handler", {
    // Values are sealed and opened with the master key.
    bind: [table, jwt, secrets.SECRETS_MASTER_KEY],
  });
  const billing = endpoint("HttpBilling", "functions/http/billing.handler", {
    bind: [
      table,
      jwt,
      secrets.STRIPE_SECRET_KEY,
      secrets.STRIPE_WEBHOOK_SECRET,
      secrets.STRIPE_PRICE_PRO,
      secrets.STRIPE_PRICE_ENTERPRISE,
    ],
  });
  const stripeWebhook = endpoint("HttpStripeWebhook", "functions/http/stripe-webhook.handler", {
    bind: [table, secrets.STRIPE_SECRET_KEY, secrets.STRIPE_WEBHOOK_SECRET],
  });

  // The route table is shared with the local runtime (functions/http/routes.ts),
  // so both expose exactly the same surface.
  const groups: Record<string, Function> = {
    meta,
    accounts,
    admin,
    datasets,
    connections,
    training,
    models,
    deployments,
    secrets: secretsVault,
    workers,
    services,
    billing,
    "stripe-webhook": stripeWebhook,
  };
  const routes: Record<string, Function> = {};
  for (const group of endpointGroupRoutes) {
    const fn = groups[group.name];
    if (!fn) throw new Error(`stacks/Api.ts has no function for endpoint group "${group.name}"`);
    for (const route of group.routes) routes[route] = fn;
  }
  const unrouted = Object.keys(groups).filter((name) => !endpointGroupRoutes.some((group) => group.name === name));
  if (unrouted.length > 0) throw new Error(`endpoint groups without routes: ${unrouted.join(", ")}`);

  const api = new HttpApi(stack, "Api", {
    cors: {
      allowHeaders: ["authorization", "content-type", "idempotency-key", "x-request-id"],
      allowMethods: ["ANY"],
      allowOrigins: ["*"],
      exposeHeaders: ["x-request-id", "retry-after", "x-next-cursor", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"],
      maxAge: "1 day",
    },
    routes,
  });

  // Links in emails and Stripe's portal return URL point at the web app when
  // FLINT_PUBLIC_URL is set at deploy time, else at this API. The sender
  // address must be an SES-verified identity (FLINT_MAIL_FROM at deploy time).
  const publicUrl = process.env.FLINT_PUBLIC_URL || api.url;
  for (const fn of [accounts, billing]) fn.addEnvironment("FLINT_PUBLIC_URL", publicUrl);
  if (process.env.FLINT_MAIL_FROM) accounts.addEnvironment("FLINT_MAIL_FROM", process.env.FLINT_MAIL_FROM);

  stack.addOutputs({
    ApiUrl: api.url,
  });

  return { api };
}
