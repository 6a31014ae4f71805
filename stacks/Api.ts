import { Api as HttpApi, use, type FunctionProps, type StackContext } from "sst/constructs";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Storage } from "./Storage";
import { Jobs } from "./Jobs";
import { Realtime } from "./Realtime";
import { access, nodeFunction, secretReadAccess } from "./lib/shared";

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
    bind: [table],
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
    bind: [table, bucket, ingestQueue, realtime, jwt],
  });
  const training = endpoint("HttpTraining", "functions/http/training.handler", {
    bind: [table, bucket, trainingQueue, webhookQueue, realtime, jwt],
  });
  const models = endpoint("HttpModels", "functions/http/models.handler", {
    // Gradient evaluations (/api/v1/evaluations) run on the training queue.
    bind: [table, bucket, trainingQueue, jwt],
  });
  const deployments = endpoint("HttpDeployments", "functions/http/deployments.handler", {
    bind: [table, bucket, compileQueue, realtime, jwt],
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

  const api = new HttpApi(stack, "Api", {
    cors: {
      allowHeaders: ["authorization", "content-type", "idempotency-key", "x-request-id"],
      allowMethods: ["ANY"],
      allowOrigins: ["*"],
      exposeHeaders: ["x-request-id", "retry-after"],
      maxAge: "1 day",
    },
    routes: {
      "GET /health": meta,
      "GET /.well-known/jwks.json": meta,
      "GET /api/v1/openapi.json": meta,
      "GET /docs": meta,
      "GET /api/v1/system/metrics": meta,

      "ANY /api/v1/auth/{proxy+}": accounts,
      "ANY /api/v1/mfa/{proxy+}": accounts,
      "ANY /api/v1/profile": accounts,
      "ANY /api/v1/profile/{proxy+}": accounts,
      "ANY /api/v1/push/{proxy+}": accounts,

      "ANY /api/v1/admin/{proxy+}": admin,
      "ANY /api/v1/audit/{proxy+}": admin,

      "ANY /api/v1/datasets": datasets,
      "ANY /api/v1/datasets/{proxy+}": datasets,

      "ANY /api/v1/training": training,
      "ANY /api/v1/training/{proxy+}": training,
      "ANY /api/v1/webhooks": training,
      "ANY /api/v1/webhooks/{proxy+}": training,

      "ANY /api/v1/models": models,
      "ANY /api/v1/models/{proxy+}": models,
      "ANY /api/v1/evaluations": models,
      "ANY /api/v1/evaluations/{proxy+}": models,

      "ANY /api/v1/deployments": deployments,
      "ANY /api/v1/deployments/{proxy+}": deployments,
      "ANY /api/v1/devices/{proxy+}": deployments,

      "ANY /api/v1/billing/{proxy+}": billing,
      "POST /api/v1/billing/webhook": stripeWebhook,
    },
  });

  stack.addOutputs({
    ApiUrl: api.url,
  });

  return { api };
}
