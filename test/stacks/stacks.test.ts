/**
 * Infrastructure tests: synthesize the SST app offline (see ./synth.ts) and
 * assert on the CloudFormation templates.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CfnElement, Stack as CdkStack } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import type { Template } from "aws-cdk-lib/assertions";
import type { Function as SstFunction, Stack } from "sst/constructs";
import { CACHE_CONTROL, contentSecurityPolicy, pageHeaders, type Page } from "../../core/web/headers";
import { endpointGroupRoutes } from "../../functions/http/routes";
import { API_PATH_PATTERNS, VIEWER_REQUEST_CODE } from "../../stacks/lib/web-routing";
import { synth, type Synth } from "./synth";

type Json = Record<string, any>;
type StackName = keyof Synth["stacks"];

let test: Synth;
let production: Synth;
let fargateFlag: Synth;

beforeAll(async () => {
  // Context pins the training switch, whatever FLINT_TRAINING_ON_FARGATE says.
  test = await synth("test", { "flint:trainingOnFargate": "false" });
  production = await synth("production");
  fargateFlag = await synth("test", { "flint:trainingOnFargate": "true" });
});

// ----------------------------------------------------------------- helpers

function resources(template: Template, type: string): [string, Json][] {
  return Object.entries(template.findResources(type)) as [string, Json][];
}

function child(s: Synth, stack: StackName, id: string): IConstruct {
  const found = s.stacks[stack].node.tryFindChild(id);
  if (!found) throw new Error(`no construct ${id} in ${stack}`);
  return found;
}

function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return CdkStack.of(construct).getLogicalId(element);
}

/** Logical id of a construct's main resource, e.g. the AWS::SQS::Queue inside an SST Queue. */
function innerLogicalId(s: Synth, stack: StackName, id: string, inner?: string): string {
  const outer = child(s, stack, id);
  return logicalId(inner ? outer.node.findChild(inner) : outer);
}

function functionLogicalId(s: Synth, stack: StackName, id: string): string {
  return logicalId(child(s, stack, id));
}

function functionResource(s: Synth, stack: StackName, id: string): Json {
  const resource = s.templates[stack].toJSON().Resources[functionLogicalId(s, stack, id)];
  if (!resource) throw new Error(`no function resource for ${id}`);
  return resource as Json;
}

function roleStatements(s: Synth, stack: StackName, roleLogicalId: string): Json[] {
  return resources(s.templates[stack], "AWS::IAM::Policy")
    .filter(([, policy]) =>
      (policy.Properties.Roles as Json[]).some((role) => role.Ref === roleLogicalId),
    )
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Json[]);
}

function functionStatements(s: Synth, stack: StackName, id: string): Json[] {
  const fn = child(s, stack, id) as unknown as { role: IConstruct };
  return roleStatements(s, stack, logicalId(fn.role));
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

interface Ids {
  table: string;
  bucket: string;
  realtime: string;
  queues: Record<string, string>;
}

function ids(s: Synth): Ids {
  const queues: Record<string, string> = {};
  for (const id of ["IngestQueue", "ImportQueue", "TrainingQueue", "CompileQueue", "WebhookQueue"]) {
    queues[id] = innerLogicalId(s, "Jobs", id, "Queue");
  }
  for (const id of ["IngestDLQ", "ImportDLQ", "TrainingDLQ", "CompileDLQ", "WebhookDLQ"]) {
    queues[id] = innerLogicalId(s, "Jobs", id);
  }
  queues.RealtimeQueue = innerLogicalId(s, "Realtime", "RealtimeQueue", "Queue");
  queues.RealtimeDLQ = innerLogicalId(s, "Realtime", "RealtimeDLQ");
  return {
    table: innerLogicalId(s, "Storage", "Data", "Table"),
    bucket: innerLogicalId(s, "Storage", "Files", "Bucket"),
    realtime: innerLogicalId(s, "Realtime", "Realtime", "Api"),
    queues,
  };
}

/**
 * What a role may touch, as a set of names: "table", "bucket", "realtime",
 * "ses", "secret:<NAME>", "queue:<Id>" and "send:<Id>" (sqs:SendMessage).
 * Anything unrecognised (another service, or a wildcard resource outside
 * X-Ray) shows up as "unexpected:..." so the exact comparison fails on it.
 */
function grants(statements: Json[], known: Ids): Set<string> {
  const out = new Set<string>();
  for (const statement of statements) {
    expect(statement.Effect).toBe("Allow");
    const actions = asList(statement.Action as string | string[]);
    const resourceText = JSON.stringify(statement.Resource);
    for (const action of actions) {
      const service = action.split(":")[0];
      if (service === "xray") continue;
      if (statement.Resource === "*" || resourceText.includes('"*"')) {
        out.add(`unexpected:${action} on *`);
        continue;
      }
      if (service === "dynamodb") {
        out.add(resourceText.includes(known.table) ? "table" : `unexpected:${action}`);
      } else if (service === "s3") {
        out.add(resourceText.includes(known.bucket) ? "bucket" : `unexpected:${action}`);
      } else if (service === "execute-api") {
        out.add(resourceText.includes(known.realtime) ? "realtime" : `unexpected:${action}`);
      } else if (service === "ses") {
        out.add("ses");
      } else if (service === "ssm") {
        const names = [...resourceText.matchAll(/\/Secret\/([A-Z_]+)\/value/g)].map((m) => m[1]);
        if (names.length === 0) out.add(`unexpected:${action}`);
        for (const name of names) out.add(`secret:${name}`);
      } else if (service === "sqs") {
        const queues = Object.entries(known.queues).filter(([, id]) => resourceText.includes(id));
        if (queues.length === 0) out.add(`unexpected:${action}`);
        for (const [name] of queues) {
          out.add(`queue:${name}`);
          if (action === "sqs:SendMessage" || action === "sqs:*") out.add(`send:${name}`);
        }
      } else {
        out.add(`unexpected:${action}`);
      }
    }
  }
  return out;
}

const sorted = (set: Set<string>) => [...set].sort();

// ------------------------------------------------------------------ storage

describe("Storage", () => {
  it("has one DynamoDB table with the single-table keys, GSIs, TTL and PITR", () => {
    const tables = resources(test.templates.Storage, "AWS::DynamoDB::Table");
    expect(tables).toHaveLength(1);
    const [, table] = tables[0]!;
    const props = table.Properties;
    expect(props.KeySchema).toEqual([
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ]);
    const attributes = Object.fromEntries(
      (props.AttributeDefinitions as Json[]).map((a) => [a.AttributeName, a.AttributeType]),
    );
    expect(attributes).toEqual({ pk: "S", sk: "S", gsi1pk: "S", gsi1sk: "S", gsi2pk: "S", gsi2sk: "S" });
    const indexes = Object.fromEntries(
      (props.GlobalSecondaryIndexes as Json[]).map((index) => [index.IndexName, index.KeySchema]),
    );
    expect(indexes).toEqual({
      gsi1: [
        { AttributeName: "gsi1pk", KeyType: "HASH" },
        { AttributeName: "gsi1sk", KeyType: "RANGE" },
      ],
      gsi2: [
        { AttributeName: "gsi2pk", KeyType: "HASH" },
        { AttributeName: "gsi2sk", KeyType: "RANGE" },
      ],
    });
    expect(props.TimeToLiveSpecification).toEqual({ AttributeName: "expires_at", Enabled: true });
    expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(props.BillingMode).toBe("PAY_PER_REQUEST");
  });

  it("keeps the table on production: Retain and deletion protection", () => {
    const [[, prod]] = resources(production.templates.Storage, "AWS::DynamoDB::Table") as [[string, Json]];
    expect(prod.DeletionPolicy).toBe("Retain");
    expect(prod.UpdateReplacePolicy).toBe("Retain");
    expect(prod.Properties.DeletionProtectionEnabled).toBe(true);
    expect(prod.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });

    const [[, dev]] = resources(test.templates.Storage, "AWS::DynamoDB::Table") as [[string, Json]];
    expect(dev.DeletionPolicy).toBe("Delete");
    expect(dev.Properties.DeletionProtectionEnabled).toBe(false);
  });

  it("has one private, encrypted, TLS-only bucket with upload lifecycle rules and CORS for presigned PUT", () => {
    const buckets = resources(test.templates.Storage, "AWS::S3::Bucket");
    expect(buckets).toHaveLength(1);
    const [bucketId, bucket] = buckets[0]!;
    const props = bucket.Properties;
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const encryption = props.BucketEncryption.ServerSideEncryptionConfiguration as Json[];
    expect(encryption.length).toBeGreaterThan(0);
    expect(["AES256", "aws:kms"]).toContain(encryption[0]!.ServerSideEncryptionByDefault.SSEAlgorithm);

    const rules = props.LifecycleConfiguration.Rules as Json[];
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Status: "Enabled", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        expect.objectContaining({ Status: "Enabled", Prefix: "uploads/", ExpirationInDays: 7 }),
      ]),
    );
    const cors = props.CorsConfiguration.CorsRules as Json[];
    expect(cors.some((rule) => (rule.AllowedMethods as string[]).includes("PUT"))).toBe(true);

    // enforceSSL: a Deny on aws:SecureTransport=false in the bucket policy.
    const policies = resources(test.templates.Storage, "AWS::S3::BucketPolicy").filter(
      ([, policy]) => policy.Properties.Bucket.Ref === bucketId,
    );
    expect(policies).toHaveLength(1);
    const statements = policies[0]![1].Properties.PolicyDocument.Statement as Json[];
    expect(
      statements.some(
        (s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false",
      ),
    ).toBe(true);
  });

  it("declares the six secrets with the ids the app reads", () => {
    const secrets = test.stacks.Storage.node.children
      .filter((c) => c.constructor.name === "Secret")
      .map((c) => c.node.id)
      .sort();
    expect(secrets).toEqual([
      "JWT_SIGNING_KEY",
      "SECRETS_MASTER_KEY",
      "STRIPE_PRICE_ENTERPRISE",
      "STRIPE_PRICE_PRO",
      "STRIPE_SECRET_KEY",
      "STRIPE_WEBHOOK_SECRET",
    ]);
  });

  it("outputs the table and bucket names", () => {
    const outputs = test.templates.Storage.toJSON().Outputs as Json;
    expect(outputs.TableName).toBeDefined();
    expect(outputs.BucketName).toBeDefined();
  });
});

// --------------------------------------------------------------------- jobs

describe("Jobs", () => {
  it("gives every queue that is not a DLQ a redrive policy to its own DLQ", () => {
    const queues = resources(test.templates.Jobs, "AWS::SQS::Queue");
    const known = ids(test);
    const dlqIds = new Set(
      queues.flatMap(([, q]) => {
        const target = q.Properties.RedrivePolicy?.deadLetterTargetArn;
        return target ? [target["Fn::GetAtt"][0] as string] : [];
      }),
    );
    const work = queues.filter(([id]) => !dlqIds.has(id));
    expect(work.length).toBe(5);
    expect(dlqIds.size).toBe(5); // one DLQ each, none shared
    for (const [, queue] of work) {
      const redrive = queue.Properties.RedrivePolicy;
      expect(redrive).toBeDefined();
      expect(queues.some(([id]) => id === redrive.deadLetterTargetArn["Fn::GetAtt"][0])).toBe(true);
    }
    const maxReceive = (id: string) =>
      test.templates.Jobs.toJSON().Resources[known.queues[id]!].Properties.RedrivePolicy.maxReceiveCount;
    expect(maxReceive("IngestQueue")).toBe(3);
    expect(maxReceive("ImportQueue")).toBe(3);
    expect(maxReceive("TrainingQueue")).toBe(2);
    expect(maxReceive("CompileQueue")).toBe(3);
    expect(maxReceive("WebhookQueue")).toBe(3);
    const target = (id: string) =>
      test.templates.Jobs.toJSON().Resources[known.queues[id]!].Properties.RedrivePolicy
        .deadLetterTargetArn["Fn::GetAtt"][0];
    expect(target("IngestQueue")).toBe(known.queues.IngestDLQ);
    expect(target("ImportQueue")).toBe(known.queues.ImportDLQ);
    expect(target("TrainingQueue")).toBe(known.queues.TrainingDLQ);
    expect(target("CompileQueue")).toBe(known.queues.CompileDLQ);
    expect(target("WebhookQueue")).toBe(known.queues.WebhookDLQ);
  });

  it("keeps each queue's visibility timeout at or above its consumer's timeout, with partial batch failures", () => {
    const template = test.templates.Jobs.toJSON();
    const mappings = resources(test.templates.Jobs, "AWS::Lambda::EventSourceMapping");
    expect(mappings.length).toBe(7); // ingest, import, training, compile, webhooks, dead-letter x2
    for (const [, mapping] of mappings) {
      const props = mapping.Properties;
      expect(props.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
      const queue = template.Resources[props.EventSourceArn["Fn::GetAtt"][0]];
      const fn = template.Resources[props.FunctionName.Ref];
      const visibility = queue.Properties.VisibilityTimeout ?? 30;
      const timeout = fn.Properties.Timeout ?? 3;
      expect(visibility).toBeGreaterThanOrEqual(timeout);
    }
  });

  it("runs ingest on a 15-minute Lambda fed by S3 ObjectCreated events under uploads/", () => {
    const known = ids(test);
    const ingest = functionResource(test, "Jobs", "IngestWorker").Properties;
    expect(ingest.Timeout).toBe(900);
    expect(ingest.MemorySize).toBeGreaterThanOrEqual(1024);
    expect(ingest.MemorySize).toBeLessThanOrEqual(2048);
    const mapping = resources(test.templates.Jobs, "AWS::Lambda::EventSourceMapping").find(
      ([, m]) => m.Properties.FunctionName.Ref === functionLogicalId(test, "Jobs", "IngestWorker"),
    );
    expect(mapping?.[1].Properties.EventSourceArn["Fn::GetAtt"][0]).toBe(known.queues.IngestQueue);

    const [[, notifications]] = resources(test.templates.Jobs, "Custom::S3BucketNotifications") as [[string, Json]];
    expect(JSON.stringify(notifications.Properties.BucketName)).toContain(known.bucket);
    expect(notifications.Properties.NotificationConfiguration.QueueConfigurations).toEqual([
      {
        Events: ["s3:ObjectCreated:*"],
        Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "uploads/" }] } },
        QueueArn: { "Fn::GetAtt": [known.queues.IngestQueue, "Arn"] },
      },
    ]);
    // S3 may send to the ingest queue, and only from this bucket.
    const queuePolicies = resources(test.templates.Jobs, "AWS::SQS::QueuePolicy").filter(([, p]) =>
      (p.Properties.Queues as Json[]).some((q) => q.Ref === known.queues.IngestQueue),
    );
    const s3Statements = queuePolicies
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[])
      .filter((s) => s.Principal?.Service === "s3.amazonaws.com");
    expect(s3Statements.length).toBe(1);
    expect(JSON.stringify(s3Statements[0]!.Condition)).toContain(known.bucket);
  });

  it("runs training and compile as container-image Lambdas, one message at a time", () => {
    const known = ids(test);
    const training = functionResource(test, "Jobs", "TrainingWorker").Properties;
    expect(training.PackageType).toBe("Image");
    expect(training.ImageConfig.Command).toEqual(["functions/jobs/train.handler"]);
    expect(training.Timeout).toBe(900);
    expect(training.MemorySize).toBeGreaterThanOrEqual(4096);
    expect(training.MemorySize).toBeLessThanOrEqual(10240);

    const compile = functionResource(test, "Jobs", "CompileWorker").Properties;
    expect(compile.PackageType).toBe("Image");
    expect(compile.ImageConfig.Command).toEqual(["functions/jobs/compile.handler"]);

    const mappings = resources(test.templates.Jobs, "AWS::Lambda::EventSourceMapping");
    for (const [fnId, queueId] of [
      ["TrainingWorker", "TrainingQueue"],
      ["CompileWorker", "CompileQueue"],
    ] as const) {
      const mapping = mappings.find(
        ([, m]) => m.Properties.FunctionName.Ref === functionLogicalId(test, "Jobs", fnId),
      );
      expect(mapping, fnId).toBeDefined();
      expect(mapping![1].Properties.EventSourceArn["Fn::GetAtt"][0]).toBe(known.queues[queueId]);
      expect(mapping![1].Properties.BatchSize).toBe(1);
      expect(mapping![1].Properties.Enabled).not.toBe(false);
    }
    // Container Lambdas get the same SST_* binding variables as SST Functions.
    expect(Object.keys(training.Environment.Variables)).toEqual(
      expect.arrayContaining([
        "SST_Table_tableName_Data",
        "SST_Bucket_bucketName_Files",
        "SST_Queue_queueUrl_TrainingQueue",
        "SST_Queue_queueUrl_WebhookQueue",
        "SST_WebSocketApi_url_Realtime",
      ]),
    );
    expect(resources(test.templates.Jobs, "AWS::ECS::Service")).toHaveLength(0);
  });

  for (const [label, getSynth] of [
    ["production", () => production],
    ["the flint:trainingOnFargate flag", () => fargateFlag],
  ] as const) {
    it(`moves training to a queue-scaled Fargate service on ${label}, Lambda mapping disabled`, () => {
      const s = getSynth();
      const template = s.templates.Jobs;
      const known = ids(s);
      expect(resources(template, "AWS::ECS::Service")).toHaveLength(1);
      const [[, taskDef]] = resources(template, "AWS::ECS::TaskDefinition") as [[string, Json]];
      const container = (taskDef.Properties.ContainerDefinitions as Json[])[0]!;
      expect(container.Command).toEqual(["node", "functions/jobs/train-worker.js"]);
      const envNames = (container.Environment as Json[]).map((e) => e.Name);
      expect(envNames).toEqual(
        expect.arrayContaining(["SST_Table_tableName_Data", "SST_Queue_queueUrl_TrainingQueue"]),
      );
      // Same image as the training Lambda.
      const lambdaImage = JSON.stringify(functionResource(s, "Jobs", "TrainingWorker").Properties.Code.ImageUri);
      expect(JSON.stringify(container.Image)).toBe(lambdaImage);
      // Scaled on the training queue's depth.
      const alarms = resources(template, "AWS::CloudWatch::Alarm");
      expect(alarms.length).toBeGreaterThan(0);
      for (const [, alarm] of alarms) {
        expect(alarm.Properties.MetricName).toBe("ApproximateNumberOfMessagesVisible");
        expect(JSON.stringify(alarm.Properties.Dimensions)).toContain(known.queues.TrainingQueue!);
      }
      // Only one consumer is active: the Lambda's mapping exists but is disabled.
      const mapping = resources(template, "AWS::Lambda::EventSourceMapping").find(
        ([, m]) => m.Properties.FunctionName.Ref === functionLogicalId(s, "Jobs", "TrainingWorker"),
      );
      expect(mapping?.[1].Properties.Enabled).toBe(false);
      expect(template.toJSON().Outputs.TrainingConsumer.Value).toBe("fargate");
    });
  }

  it("drains the training and compile DLQs into their dead-letter functions", () => {
    const known = ids(test);
    const sourcesOf = (id: string) =>
      resources(test.templates.Jobs, "AWS::Lambda::EventSourceMapping")
        .filter(([, m]) => m.Properties.FunctionName.Ref === functionLogicalId(test, "Jobs", id))
        .map(([, m]) => m.Properties.EventSourceArn["Fn::GetAtt"][0]);
    expect(sourcesOf("TrainingDeadLetter")).toEqual([known.queues.TrainingDLQ]);
    expect(sourcesOf("CompileDeadLetter")).toEqual([known.queues.CompileDLQ]);
  });

  it("points each zip worker at its handler", () => {
    const handlers: Record<string, string> = {
      IngestWorker: "functions/jobs/ingest.handler",
      ImportWorker: "functions/jobs/import.handler",
      WebhookWorker: "functions/jobs/webhooks.handler",
      TrainingDeadLetter: "functions/jobs/training-dead-letter.handler",
      CompileDeadLetter: "functions/jobs/compile-dead-letter.handler",
      RetentionWorker: "functions/jobs/retention.handler",
      SyncSchedule: "functions/jobs/sync-schedule.handler",
    };
    for (const [id, handler] of Object.entries(handlers)) {
      const fn = child(test, "Jobs", id) as unknown as { props: { handler: string } };
      expect(fn.props.handler, id).toBe(handler);
    }
  });

  it("schedules retention daily, the connection syncs every 5 minutes and the fleet's offline sweep every minute, each against its function", () => {
    const rules = resources(test.templates.Jobs, "AWS::Events::Rule");
    expect(rules).toHaveLength(3);
    const targetOf = (expression: string) => rules.find(([, rule]) => rule.Properties.ScheduleExpression === expression)?.[1].Properties.Targets;
    expect(targetOf("rate(1 day)")).toEqual([
      expect.objectContaining({ Arn: { "Fn::GetAtt": [functionLogicalId(test, "Jobs", "RetentionWorker"), "Arn"] } }),
    ]);
    expect(targetOf("rate(5 minutes)")).toEqual([
      expect.objectContaining({ Arn: { "Fn::GetAtt": [functionLogicalId(test, "Jobs", "SyncSchedule"), "Arn"] } }),
    ]);
    expect(targetOf("rate(1 minute)")).toEqual([
      expect.objectContaining({ Arn: { "Fn::GetAtt": [functionLogicalId(test, "Jobs", "FleetSweep"), "Arn"] } }),
    ]);
  });
});

// --------------------------------------------------------------- realtime

describe("Realtime", () => {
  it("has the WebSocket routes with action-based route selection", () => {
    const [[, api]] = resources(test.templates.Realtime, "AWS::ApiGatewayV2::Api") as [[string, Json]];
    expect(api.Properties.ProtocolType).toBe("WEBSOCKET");
    expect(api.Properties.RouteSelectionExpression).toBe("$request.body.action");
    const routes = resources(test.templates.Realtime, "AWS::ApiGatewayV2::Route")
      .map(([, r]) => r.Properties.RouteKey)
      .sort();
    expect(routes).toEqual(["$connect", "$default", "$disconnect", "subscribe", "unsubscribe"].sort());
    expect(test.templates.Realtime.toJSON().Outputs.WebSocketUrl).toBeDefined();
  });
});

// -------------------------------------------------------------------- api

const expectedRoutes: Record<string, string> = {
  "GET /health": "HttpMeta",
  "GET /.well-known/jwks.json": "HttpMeta",
  "GET /api/v1/openapi.json": "HttpMeta",
  "GET /api/v1/system/metrics": "HttpMeta",
  "ANY /api/v1/auth/{proxy+}": "HttpAccounts",
  "ANY /api/v1/mfa/{proxy+}": "HttpAccounts",
  "ANY /api/v1/profile": "HttpAccounts",
  "ANY /api/v1/profile/{proxy+}": "HttpAccounts",
  "ANY /api/v1/push/{proxy+}": "HttpAccounts",
  "ANY /api/v1/admin/{proxy+}": "HttpAdmin",
  "ANY /api/v1/audit/{proxy+}": "HttpAdmin",
  "ANY /api/v1/datasets": "HttpDatasets",
  "ANY /api/v1/datasets/{proxy+}": "HttpDatasets",
  "ANY /api/v1/training": "HttpTraining",
  "ANY /api/v1/training/{proxy+}": "HttpTraining",
  "ANY /api/v1/webhooks": "HttpTraining",
  "ANY /api/v1/webhooks/{proxy+}": "HttpTraining",
  "ANY /api/v1/models": "HttpModels",
  "ANY /api/v1/models/{proxy+}": "HttpModels",
  "ANY /api/v1/evaluations": "HttpModels",
  "ANY /api/v1/evaluations/{proxy+}": "HttpModels",
  "ANY /api/v1/deployments": "HttpDeployments",
  "ANY /api/v1/deployments/{proxy+}": "HttpDeployments",
  "ANY /api/v1/devices/{proxy+}": "HttpDeployments",
  "ANY /api/v1/connections": "HttpConnections",
  "ANY /api/v1/connections/{proxy+}": "HttpConnections",
  "ANY /api/v1/secrets": "HttpSecrets",
  "ANY /api/v1/secrets/{proxy+}": "HttpSecrets",
  "ANY /api/v1/workers/{proxy+}": "HttpWorkers",
  "ANY /api/v1/admin/workers": "HttpWorkers",
  "ANY /api/v1/admin/workers/{proxy+}": "HttpWorkers",
  "ANY /api/v1/services": "HttpServices",
  "ANY /api/v1/services/{proxy+}": "HttpServices",
  "GET /api/v1/system/stats": "HttpServices",
  "ANY /api/v1/billing/{proxy+}": "HttpBilling",
  "POST /api/v1/billing/webhook": "HttpStripeWebhook",
  "POST /api/v1/devices/telemetry": "HttpDatasets",
  "ANY /api/v1/upload/{proxy+}": "HttpDatasets",
};

const expectedHandlers: Record<string, string> = {
  HttpMeta: "functions/http/meta.handler",
  HttpAccounts: "functions/http/accounts.handler",
  HttpAdmin: "functions/http/admin.handler",
  HttpDatasets: "functions/http/datasets.handler",
  HttpTraining: "functions/http/training.handler",
  HttpModels: "functions/http/models.handler",
  HttpDeployments: "functions/http/deployments.handler",
  HttpSecrets: "functions/http/secrets.handler",
  HttpWorkers: "functions/http/workers.handler",
  HttpServices: "functions/http/services.handler",
  HttpConnections: "functions/http/connections.handler",
  HttpBilling: "functions/http/billing.handler",
  HttpStripeWebhook: "functions/http/stripe-webhook.handler",
};

describe("Api", () => {
  it("is an HTTP API whose routes each reach the right endpoint-group function", () => {
    const template = test.templates.Api.toJSON();
    const [[, api]] = resources(test.templates.Api, "AWS::ApiGatewayV2::Api") as [[string, Json]];
    expect(api.Properties.ProtocolType).toBe("HTTP");

    const routes = resources(test.templates.Api, "AWS::ApiGatewayV2::Route");
    const actual: Record<string, string> = {};
    const byLogicalId = Object.fromEntries(
      Object.keys(expectedHandlers).map((id) => [functionLogicalId(test, "Api", id), id]),
    );
    for (const [, route] of routes) {
      const integrationRef = route.Properties.Target["Fn::Join"][1][1].Ref as string;
      const integration = template.Resources[integrationRef];
      const fnLogicalId = integration.Properties.IntegrationUri["Fn::GetAtt"][0] as string;
      actual[route.Properties.RouteKey] = byLogicalId[fnLogicalId] ?? fnLogicalId;
    }
    expect(actual).toEqual(expectedRoutes);
    expect(template.Outputs.ApiUrl).toBeDefined();
  });

  it("uses one function per endpoint group with the expected handler", () => {
    for (const [id, handler] of Object.entries(expectedHandlers)) {
      const fn = child(test, "Api", id) as unknown as { props: { handler: string } };
      expect(fn.props.handler, id).toBe(handler);
    }
  });
});

// -------------------------------------------------------------------- web

// AWS managed policies (their ids are fixed).
const CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
/** Stands for a deploy-time value (the WebSocket API's endpoint, the bucket's host) in the rendered CSP. */
const DEPLOY_TIME = "<deploy-time>";
/** connect-src on AWS: the WebSocket API and the files bucket, both known only at deploy. */
const CONNECT_SOURCES = [DEPLOY_TIME, `https://${DEPLOY_TIME}`];

describe("Web", () => {
  const distribution = () => {
    const distributions = resources(test.templates.Web, "AWS::CloudFront::Distribution");
    expect(distributions).toHaveLength(1);
    return distributions[0]![1].Properties.DistributionConfig as Json;
  };
  const behavior = (pattern: string) => {
    const found = (distribution().CacheBehaviors as Json[]).find((b) => b.PathPattern === pattern);
    if (!found) throw new Error(`no behaviour for ${pattern}`);
    return found;
  };
  const origin = (id: string) => (distribution().Origins as Json[]).find((o) => o.Id === id)!;
  const policyId = (id: string) => innerLogicalId(test, "Web", id);

  /** A response headers policy as the headers it puts on a response, the CSP's deploy-time parts as DEPLOY_TIME. */
  function renderedHeaders(logicalId: string): Record<string, string> {
    const config = test.templates.Web.toJSON().Resources[logicalId].Properties.ResponseHeadersPolicyConfig as Json;
    const security = config.SecurityHeadersConfig as Json;
    const csp = security.ContentSecurityPolicy.ContentSecurityPolicy as string | Json;
    const cspText = typeof csp === "string" ? csp : (csp["Fn::Join"][1] as (string | Json)[]).map((part) => (typeof part === "string" ? part : DEPLOY_TIME)).join("");
    const hsts = security.StrictTransportSecurity as Json;
    return {
      "Content-Security-Policy": cspText,
      ...(security.ContentTypeOptions ? { "X-Content-Type-Options": "nosniff" } : {}),
      "Referrer-Policy": security.ReferrerPolicy.ReferrerPolicy,
      "X-Frame-Options": security.FrameOptions.FrameOption,
      ...Object.fromEntries((config.CustomHeadersConfig.Items as Json[]).map((item) => [item.Header, item.Value])),
      "Strict-Transport-Security": `max-age=${hsts.AccessControlMaxAgeSec}${hsts.IncludeSubdomains ? "; includeSubDomains" : ""}`,
    };
  }

  it("builds the dashboard from web/ with Vite into web/dist, with the WebSocket URL filled in at deploy", () => {
    const site = child(test, "Web", "Dashboard") as unknown as { props: Json };
    expect(site.props.path).toBe("web");
    expect(site.props.buildCommand).toMatch(/\bvite build --config vite\.config\.ts$/);
    expect(site.props.buildOutput).toBe("dist");
    expect(Object.keys(site.props.environment)).toEqual(["VITE_WS_URL"]);
    // SST's Vite typing goes to its own folder, not into the dashboard's sources.
    expect(site.props.vite.types).not.toMatch(/^src\//);
    expect(test.templates.Web.toJSON().Outputs.DashboardUrl).toBeDefined();
  });

  it("uploads hashed assets as immutable and every other file as no-cache, as the local runtime serves them", () => {
    const site = child(test, "Web", "Dashboard") as unknown as { props: Json };
    expect(site.props.assets.fileOptions).toEqual([
      { files: "**", cacheControl: CACHE_CONTROL.other },
      { files: "assets/**", cacheControl: CACHE_CONTROL.hashed },
    ]);
  });

  it.each(API_PATH_PATTERNS)("sends %s to the HTTP API uncached, with every viewer header but Host", (pattern) => {
    const api = behavior(pattern);
    expect(api.CachePolicyId).toBe(CACHING_DISABLED);
    expect(api.OriginRequestPolicyId).toBe(ALL_VIEWER_EXCEPT_HOST_HEADER);
    expect(api.AllowedMethods).toEqual(expect.arrayContaining(["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]));
    expect(api.ViewerProtocolPolicy).toBe("https-only");
    expect(api.FunctionAssociations).toBeUndefined();
    const target = origin(api.TargetOriginId);
    expect(target.CustomOriginConfig.OriginProtocolPolicy).toBe("https-only");
    expect(JSON.stringify(target.DomainName)).toContain(innerLogicalId(test, "Api", "Api", "Api"));
  });

  it("covers every root route of the API with an API behaviour, and nothing of the dashboard", () => {
    const toRegExp = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
    const apiPatterns = API_PATH_PATTERNS.map(toRegExp);
    const paths = endpointGroupRoutes.flatMap((group) => group.routes.map((route) => route.split(" ")[1]!.replace(/\{[^}]+\}/g, "x")));
    expect(paths.filter((path) => !apiPatterns.some((pattern) => pattern.test(path)))).toEqual([]);
    for (const page of ["/", "/datasets/ds_1", "/docs/", "/assets/index-abc.js"]) {
      expect(apiPatterns.some((pattern) => pattern.test(page)), page).toBe(false);
    }
  });

  it("serves the dashboard and /docs/* from the bucket with their headers policies and the routing function", () => {
    const config = distribution();
    const routing = { EventType: "viewer-request", FunctionARN: { "Fn::GetAtt": [innerLogicalId(test, "Web", "WebRouting"), "FunctionARN"] } };
    const fallback = config.DefaultCacheBehavior as Json;
    const docs = behavior("/docs/*");
    for (const [page, policy] of [[fallback, "DashboardHeaders"], [docs, "DocsHeaders"]] as const) {
      expect(origin(page.TargetOriginId).S3OriginConfig).toBeDefined();
      expect(page.ResponseHeadersPolicyId).toEqual({ Ref: policyId(policy) });
      expect(page.FunctionAssociations).toEqual([routing]);
      expect(page.ViewerProtocolPolicy).toBe("redirect-to-https");
    }
    // One origin for the bucket, one for the API.
    expect(config.Origins).toHaveLength(2);
  });

  it("has no distribution-wide error pages, which would turn the API's 403 and 404 into the dashboard", () => {
    expect(distribution().CustomErrorResponses).toBeUndefined();
  });

  it.each([
    ["DashboardHeaders", "dashboard"],
    ["DocsHeaders", "docs"],
  ] as [string, Page][])("puts the shared security headers and CSP on every %s response, HSTS included", (id, page) => {
    expect(renderedHeaders(policyId(id))).toEqual(pageHeaders(page, { connectSources: CONNECT_SOURCES, https: true }));
    const csp = test.templates.Web.toJSON().Resources[policyId(id)].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy;
    expect(csp.Override).toBe(true);
    // connect-src names the Realtime stack's WebSocket API.
    expect(JSON.stringify(csp.ContentSecurityPolicy)).toContain(ids(test).realtime);
    expect(renderedHeaders(policyId(id))["Content-Security-Policy"]).toBe(contentSecurityPolicy(page, CONNECT_SOURCES));
  });

  describe("routing function", () => {
    const handler = new Function(`${VIEWER_REQUEST_CODE}; return handler;`)() as (event: Json) => Json;
    const route = (uri: string) => handler({ request: { uri, headers: {} } });

    it("is the code deployed on both page behaviours", () => {
      const deployed = test.templates.Web.toJSON().Resources[innerLogicalId(test, "Web", "WebRouting")].Properties.FunctionCode;
      expect(deployed).toBe(VIEWER_REQUEST_CODE);
    });

    it.each([
      ["/", "/index.html"],
      ["/datasets/ds_123", "/index.html"],
      ["/training/run_1/epochs", "/index.html"],
      ["/docs/", "/docs/index.html"],
      ["/docs/init.js", "/docs/init.js"],
      ["/assets/index-abc123.js", "/assets/index-abc123.js"],
    ])("asks the bucket for %s as %s", (uri, key) => {
      expect(route(uri).uri).toBe(key);
    });

    it("redirects /docs to /docs/", () => {
      expect(route("/docs")).toEqual({ statusCode: 302, statusDescription: "Found", headers: { location: { value: "/docs/" } } });
    });
  });
});

// ---------------------------------------------------------- least privilege

describe("least privilege", () => {
  const S = (...names: string[]) => names.map((n) => `secret:${n}`);
  const expected: [StackName, string, string[]][] = [
    // The JWKS endpoint publishes the public half of the signing key.
    ["Api", "HttpMeta", ["table", ...S("JWT_SIGNING_KEY")]],
    ["Api", "HttpAccounts", ["table", "ses", ...S("JWT_SIGNING_KEY")]],
    ["Api", "HttpAdmin", ["table", ...S("JWT_SIGNING_KEY")]],
    // Endpoints that change runs, datasets or deployments also push to subscribers (realtime).
    [
      "Api",
      "HttpDatasets",
      // POST /datasets/connect seals the source's credentials and queues the import.
      ["table", "bucket", "realtime", "queue:IngestQueue", "send:IngestQueue", "queue:ImportQueue", "send:ImportQueue", ...S("JWT_SIGNING_KEY", "SECRETS_MASTER_KEY")],
    ],
    [
      "Api",
      "HttpTraining",
      [
        "table",
        "bucket",
        "realtime",
        "queue:TrainingQueue",
        "send:TrainingQueue",
        "queue:WebhookQueue",
        "send:WebhookQueue",
        ...S("JWT_SIGNING_KEY"),
      ],
    ],
    // Gradient evaluations are queued on the training queue.
    ["Api", "HttpModels", ["table", "bucket", "queue:TrainingQueue", "send:TrainingQueue", ...S("JWT_SIGNING_KEY")]],
    [
      "Api",
      "HttpDeployments",
      ["table", "bucket", "realtime", "queue:CompileQueue", "send:CompileQueue", "queue:WebhookQueue", "send:WebhookQueue", ...S("JWT_SIGNING_KEY")],
    ],
    // Heartbeats announce worker.online; tasks carry a presigned package link.
    ["Api", "HttpWorkers", ["table", "bucket", "realtime", "queue:WebhookQueue", "send:WebhookQueue", ...S("JWT_SIGNING_KEY")]],
    // update builds the newer model; commands and transitions are published.
    [
      "Api",
      "HttpServices",
      ["table", "bucket", "realtime", "queue:CompileQueue", "send:CompileQueue", "queue:WebhookQueue", "send:WebhookQueue", ...S("JWT_SIGNING_KEY")],
    ],
    // Seals and opens the vault's values.
    ["Api", "HttpSecrets", ["table", ...S("JWT_SIGNING_KEY", "SECRETS_MASTER_KEY")]],
    // A sync reads the vault, probes the source and queues the import (a failed queueing removes the dataset).
    ["Api", "HttpConnections", ["table", "bucket", "queue:ImportQueue", "send:ImportQueue", ...S("JWT_SIGNING_KEY", "SECRETS_MASTER_KEY")]],
    [
      "Api",
      "HttpBilling",
      [
        "table",
        ...S("JWT_SIGNING_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_PRICE_PRO", "STRIPE_PRICE_ENTERPRISE"),
      ],
    ],
    ["Api", "HttpStripeWebhook", ["table", ...S("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")]],
    // SST's WebSocketApi lets its own route handlers post to connections.
    // A topic subscribed to on connect gets its snapshot through RealtimeQueue (no post before $connect returns).
    ["Realtime", "WsConnect", ["table", "realtime", "queue:RealtimeQueue", "send:RealtimeQueue", ...S("JWT_SIGNING_KEY")]],
    ["Realtime", "WsDisconnect", ["table", "realtime", ...S("JWT_SIGNING_KEY")]],
    ["Realtime", "WsSubscribe", ["table", "realtime", ...S("JWT_SIGNING_KEY")]],
    // Sends the deferred snapshot; queues it again while the connection is still opening.
    ["Realtime", "WsSnapshot", ["table", "realtime", "queue:RealtimeQueue", "send:RealtimeQueue"]],
    // Workers also hold receive/delete on the queue they consume (event source).
    ["Jobs", "IngestWorker", ["table", "bucket", "realtime", "queue:IngestQueue"]],
    // Opens the sealed source spec; re-queues a deferred import; hands the rows to ingest (which may defer too).
    [
      "Jobs",
      "ImportWorker",
      ["table", "bucket", "realtime", "queue:ImportQueue", "send:ImportQueue", "queue:IngestQueue", "send:IngestQueue", ...S("SECRETS_MASTER_KEY")],
    ],
    [
      "Jobs",
      "TrainingWorker",
      ["table", "bucket", "realtime", "queue:TrainingQueue", "send:TrainingQueue", "queue:WebhookQueue", "send:WebhookQueue"],
    ],
    ["Jobs", "CompileWorker", ["table", "bucket", "realtime", "queue:CompileQueue"]],
    // Failed deliveries are re-enqueued with a delay.
    ["Jobs", "WebhookWorker", ["table", "queue:WebhookQueue", "send:WebhookQueue"]],
    // Failing a run frees its slot (next queued run starts) and emits a webhook.
    [
      "Jobs",
      "TrainingDeadLetter",
      ["table", "realtime", "queue:TrainingDLQ", "queue:TrainingQueue", "send:TrainingQueue", "queue:WebhookQueue", "send:WebhookQueue"],
    ],
    ["Jobs", "CompileDeadLetter", ["table", "realtime", "queue:CompileDLQ"]],
    ["Jobs", "RetentionWorker", ["table", "bucket"]],
    // Queues the due connections' syncs.
    ["Jobs", "SyncSchedule", ["table", "queue:ImportQueue", "send:ImportQueue"]],
    ["Jobs", "FleetSweep", ["table", "realtime", "queue:WebhookQueue", "send:WebhookQueue"]],
  ];

  for (const [stack, id, want] of expected) {
    it(`${id} is granted exactly what it binds`, () => {
      const got = grants(functionStatements(test, stack, id), ids(test));
      expect(sorted(got)).toEqual([...want].sort());
    });
  }

  it("spells out the headline cases", () => {
    const known = ids(test);
    const actionsOf = (stack: StackName, id: string) =>
      functionStatements(test, stack, id).flatMap((s) => asList(s.Action as string | string[]));
    // meta: no S3, no SQS
    expect(actionsOf("Api", "HttpMeta").filter((a) => /^(s3|sqs):/.test(a))).toEqual([]);
    // billing: no S3
    expect(actionsOf("Api", "HttpBilling").filter((a) => a.startsWith("s3:"))).toEqual([]);
    // datasets: sqs:SendMessage on the ingest and import queues and nowhere else
    const sends = functionStatements(test, "Api", "HttpDatasets").filter((s) =>
      asList(s.Action as string | string[]).some((a) => a === "sqs:SendMessage" || a === "sqs:*"),
    );
    expect(sends).toHaveLength(2);
    const sentTo = JSON.stringify(sends.map((statement) => statement.Resource));
    expect(sentTo).toContain(known.queues.IngestQueue);
    expect(sentTo).toContain(known.queues.ImportQueue);
    for (const [name, id] of Object.entries(known.queues)) {
      if (name !== "IngestQueue" && name !== "ImportQueue") expect(sentTo).not.toContain(id);
    }
  });

  it("grants the Fargate training task the training bindings and nothing wider", () => {
    const s = production;
    const service = child(s, "Jobs", "TrainingService") as unknown as {
      taskDefinition: { taskRole: IConstruct };
    };
    const statements = roleStatements(s, "Jobs", logicalId(service.taskDefinition.taskRole)).filter(
      (st) => !asList(st.Action as string | string[]).every((a) => a.startsWith("ecs:")),
    );
    expect(sorted(grants(statements, ids(s)))).toEqual(
      ["table", "bucket", "realtime", "queue:TrainingQueue", "send:TrainingQueue", "queue:WebhookQueue", "send:WebhookQueue"].sort(),
    );
  });

  it("binds resources under the SST variable names the app reads", () => {
    const env = (stack: StackName, id: string) =>
      Object.keys(functionResource(test, stack, id).Properties.Environment?.Variables ?? {});
    expect(env("Api", "HttpDatasets")).toEqual(
      expect.arrayContaining([
        "SST_Table_tableName_Data",
        "SST_Bucket_bucketName_Files",
        "SST_Queue_queueUrl_IngestQueue",
        "SST_Secret_value_JWT_SIGNING_KEY",
      ]),
    );
    expect(env("Api", "HttpDatasets")).not.toContain("SST_Queue_queueUrl_TrainingQueue");
    expect(env("Api", "HttpMeta").filter((name) => name.startsWith("SST_") && name.includes("_Queue_"))).toEqual([]);
    expect(env("Api", "HttpStripeWebhook")).not.toContain("SST_Secret_value_JWT_SIGNING_KEY");
    expect(env("Api", "HttpSecrets")).toEqual(expect.arrayContaining(["SST_Table_tableName_Data", "SST_Secret_value_SECRETS_MASTER_KEY"]));
    expect(env("Jobs", "IngestWorker")).toContain("SST_WebSocketApi_url_Realtime");
  });

  it("ships the reference edge agent with the workers function, which serves it", () => {
    expect(functionResource(test, "Api", "HttpWorkers").Properties.Environment?.Variables?.FLINT_AGENT_DIR).toBe("/var/task/agent");
    const workers = (test.stacks.Api as Stack).getAllFunctions().find((fn) => fn.node.id === "HttpWorkers") as unknown as { props: Json };
    expect(workers.props.copyFiles).toEqual([{ from: "core/deployment/agent", to: "agent" }]);
  });
});

// ---------------------------------------------------------- function defaults

describe("function defaults", () => {
  it("applies the app-wide runtime, ESM, architecture, tracing and log retention to every SST function", () => {
    const functions = (Object.values(test.stacks) as Stack[]).flatMap((stack) => stack.getAllFunctions());
    expect(functions.length).toBe(13 + 4 + 8); // http + ws (routes and the snapshot sender) + zip jobs
    for (const fn of functions as SstFunction[]) {
      const props = (fn as unknown as { props: Json }).props;
      expect(props.runtime, fn.node.id).toBe("nodejs20.x");
      expect(props.nodejs?.format, fn.node.id).toBe("esm");
      expect(props.tracing, fn.node.id).toBe("active");
      expect(props.logRetention, fn.node.id).toBe("one_month");
      expect(props.architecture, fn.node.id).toBe("x86_64");
      // onnxruntime-node is only installed with the hooks that slim it to the Lambda's platform.
      if ((props.nodejs?.install ?? []).includes("onnxruntime-node")) {
        expect(typeof props.hooks?.beforeBuild, fn.node.id).toBe("function");
        expect(typeof props.hooks?.afterBuild, fn.node.id).toBe("function");
      }
    }
    for (const [stack, template] of Object.entries(test.templates)) {
      const appFunctions = resources(template, "AWS::Lambda::Function").filter(
        // CDK's and SST's own providers (custom resources, log retention, bucket notifications, auto-delete).
        ([id]) => !/^(CustomResourceHandler|LogRetention|BucketNotificationsHandler|CustomS3AutoDeleteObjects)/.test(id),
      );
      for (const [id, fn] of appFunctions) {
        expect(fn.Properties.TracingConfig, `${stack}/${id}`).toEqual({ Mode: "Active" });
        expect(fn.Properties.Architectures, `${stack}/${id}`).toEqual(["x86_64"]);
      }
    }
  });
});
