import { Cron, Queue, use, type StackContext } from "sst/constructs";
import { useProject } from "sst/project.js";
import { Duration, IgnoreMode, Size } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { QueueProcessingFargateService } from "aws-cdk-lib/aws-ecs-patterns";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { SqsDestination } from "aws-cdk-lib/aws-s3-notifications";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Storage } from "./Storage";
import { Realtime } from "./Realtime";
import { UPLOAD_PREFIX, access, bindToCompute, nodeFunction, secretReadAccess } from "./lib/shared";

/**
 * Background work: one SQS queue per job kind, each with its own dead-letter
 * queue, and its consumer.
 *
 * Training runs on a container-image Lambda (15 min cap) by default. Long runs
 * can go to Fargate instead: a QueueProcessingFargateService on the same image,
 * scaled by queue depth. Exactly one of them consumes TrainingQueue per stage:
 * Fargate on "production", or wherever the context flag `flint:trainingOnFargate`
 * (or env FLINT_TRAINING_ON_FARGATE) is "true"; the Lambda's event source
 * mapping is then created disabled.
 */
export function Jobs({ stack, app }: StackContext) {
  const storage = use(Storage);
  const { realtime } = use(Realtime);
  const table = access.table(storage.table);
  const bucket = access.bucket(storage.bucket);
  const root = useProject().paths.root;

  const trainingOnFargate = (() => {
    const flag =
      app.node.tryGetContext("flint:trainingOnFargate") ?? process.env.FLINT_TRAINING_ON_FARGATE;
    if (flag === undefined || flag === "") return app.stage === "production";
    return flag === true || flag === "true" || flag === "1";
  })();

  // Consumer timeouts; each queue's visibility timeout stays at or above its consumer's.
  const timeouts = {
    ingest: Duration.minutes(15),
    import: Duration.minutes(15),
    training: Duration.minutes(15),
    compile: Duration.minutes(10),
    webhook: Duration.seconds(60),
    deadLetter: Duration.seconds(60),
  };

  const deadLetterQueue = (id: string) =>
    new sqs.Queue(stack, id, {
      queueName: app.logicalPrefixedName(id),
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.seconds(timeouts.deadLetter.toSeconds() * 2),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

  const jobQueue = (id: string, dlq: sqs.IQueue, maxReceiveCount: number, visibilityTimeout: Duration) =>
    new Queue(stack, id, {
      cdk: {
        queue: {
          visibilityTimeout,
          retentionPeriod: Duration.days(4),
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
          deadLetterQueue: { queue: dlq, maxReceiveCount },
        },
      },
    });

  const ingestDlq = deadLetterQueue("IngestDLQ");
  const importDlq = deadLetterQueue("ImportDLQ");
  const trainingDlq = deadLetterQueue("TrainingDLQ");
  const compileDlq = deadLetterQueue("CompileDLQ");
  const webhookDlq = deadLetterQueue("WebhookDLQ");

  const ingestQueue = jobQueue("IngestQueue", ingestDlq, 3, Duration.minutes(20));
  const importQueue = jobQueue("ImportQueue", importDlq, 3, Duration.minutes(20));
  // The worker extends visibility while it trains (Fargate runs can exceed this).
  const trainingQueue = jobQueue("TrainingQueue", trainingDlq, 2, Duration.minutes(20));
  const compileQueue = jobQueue("CompileQueue", compileDlq, 3, Duration.minutes(15));
  const webhookQueue = jobQueue("WebhookQueue", webhookDlq, 3, Duration.minutes(6));

  // ---------------------------------------------------------------- ingest
  const ingest = nodeFunction(stack, "IngestWorker", {
    handler: "functions/jobs/ingest.handler",
    timeout: timeouts.ingest.toSeconds(),
    memorySize: 2048,
    diskSize: "2048 MB",
    bind: [table, bucket, realtime],
  });
  ingestQueue.addConsumer(stack, {
    cdk: { function: ingest, eventSource: { batchSize: 1, reportBatchItemFailures: true } },
  });

  // S3 -> SQS for new uploads. The notification is configured through a
  // reference to the bucket so that it lives in this stack: Storage must not
  // depend on Jobs (Jobs already depends on Storage).
  const filesRef = s3.Bucket.fromBucketName(stack, "FilesRef", storage.bucket.bucketName);
  filesRef.addEventNotification(s3.EventType.OBJECT_CREATED, new SqsDestination(ingestQueue.cdk.queue), {
    prefix: UPLOAD_PREFIX,
  });

  // ---------------------------------------------------------------- import
  // Rows from a tenant's database or HTTP source, streamed into the upload object; then ingested here too.
  const importWorker = nodeFunction(stack, "ImportWorker", {
    handler: "functions/jobs/import.handler",
    timeout: timeouts.import.toSeconds(),
    memorySize: 1024,
    bind: [table, bucket, realtime, access.worker(importQueue), access.producer(ingestQueue), storage.secrets.SECRETS_MASTER_KEY],
    permissions: secretReadAccess([storage.secrets.SECRETS_MASTER_KEY]),
  });
  importQueue.addConsumer(stack, {
    cdk: { function: importWorker, eventSource: { batchSize: 1, reportBatchItemFailures: true } },
  });

  // Saved connections with a schedule: every 5 minutes, the due ones get a sync job.
  const syncSchedule = nodeFunction(stack, "SyncSchedule", {
    handler: "functions/jobs/sync-schedule.handler",
    timeout: 60,
    memorySize: 512,
    bind: [table, access.producer(importQueue)],
  });
  const syncCron = new Cron(stack, "ConnectionSync", { schedule: "rate(5 minutes)", job: syncSchedule });

  // Workers silent for the offline window turn offline (worker.offline, live and as webhooks).
  const fleetSweep = nodeFunction(stack, "FleetSweep", {
    handler: "functions/jobs/fleet-sweep.handler",
    timeout: 60,
    memorySize: 512,
    bind: [table, realtime, access.producer(webhookQueue)],
  });
  const fleetCron = new Cron(stack, "FleetSweepSchedule", { schedule: "rate(1 minute)", job: fleetSweep });

  // ---------------------------------------------------------- containers
  const containerEnvironment = {
    SST_APP: app.name,
    SST_STAGE: app.stage,
    SST_SSM_PREFIX: useProject().config.ssmPrefix,
    NODE_OPTIONS: "--enable-source-maps",
  };

  const containerFunction = (
    id: string,
    props: { file: string; handler: string; timeout: Duration; memorySize: number; diskMiB: number },
  ) =>
    new lambda.DockerImageFunction(stack, id, {
      code: lambda.DockerImageCode.fromImageAsset(root, {
        file: props.file,
        platform: Platform.LINUX_AMD64,
        cmd: [props.handler],
        ignoreMode: IgnoreMode.DOCKER,
      }),
      architecture: lambda.Architecture.X86_64,
      timeout: props.timeout,
      memorySize: props.memorySize,
      ephemeralStorageSize: Size.mebibytes(props.diskMiB),
      tracing: lambda.Tracing.ACTIVE,
      environment: { ...containerEnvironment },
      logGroup: new LogGroup(stack, `${id}Logs`, { retention: RetentionDays.ONE_MONTH }),
    });

  // ---------------------------------------------------------------- training
  const trainingBindings = [table, bucket, access.worker(trainingQueue), access.producer(webhookQueue), realtime];
  const training = containerFunction("TrainingWorker", {
    file: "functions/jobs/Dockerfile.training",
    handler: "functions/jobs/train.handler",
    timeout: timeouts.training,
    memorySize: 10240,
    diskMiB: 4096,
  });
  bindToCompute(trainingBindings, training, (name, value) => training.addEnvironment(name, value));
  trainingQueue.addConsumer(stack, {
    cdk: {
      function: training,
      eventSource: { batchSize: 1, reportBatchItemFailures: true, enabled: !trainingOnFargate },
    },
  });

  let trainingService: QueueProcessingFargateService | undefined;
  if (trainingOnFargate) {
    const vpc = new ec2.Vpc(stack, "TrainingVpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });
    const cluster = new ecs.Cluster(stack, "TrainingCluster", { vpc });
    trainingService = new QueueProcessingFargateService(stack, "TrainingService", {
      cluster,
      queue: trainingQueue.cdk.queue,
      image: ecs.ContainerImage.fromAsset(root, {
        file: "functions/jobs/Dockerfile.training",
        platform: Platform.LINUX_AMD64,
        ignoreMode: IgnoreMode.DOCKER,
      }),
      // functions/jobs/train-worker.ts: polls TrainingQueue with the same handler the Lambda runs.
      command: ["node", "functions/jobs/train-worker.js"],
      cpu: 4096,
      memoryLimitMiB: 16384,
      ephemeralStorageGiB: 40,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      assignPublicIp: true,
      taskSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      minScalingCapacity: 0,
      maxScalingCapacity: 4,
      // Scale on queue depth only: one task per waiting run, none when idle.
      scalingSteps: [
        { upper: 0, change: -1 },
        { lower: 1, change: +1 },
      ],
      disableCpuBasedScaling: true,
      // Deployments start new tasks before stopping old ones (which may be mid-run).
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      environment: { ...containerEnvironment },
      logDriver: ecs.LogDrivers.awsLogs({ streamPrefix: "training", logRetention: RetentionDays.ONE_MONTH }),
    });
    // The image's ENTRYPOINT is the Lambda bootstrap; the task runs the poller command directly.
    const taskDefinition = trainingService.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition;
    taskDefinition.addPropertyOverride("ContainerDefinitions.0.EntryPoint", ["/usr/bin/env"]);
    // Scale-in follows visible messages only, so a task that is mid-run must
    // protect itself (ECS task scale-in protection) until it finishes.
    trainingService.taskDefinition.taskRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"],
        resources: [
          `arn:${stack.partition}:ecs:${stack.region}:${stack.account}:task/${cluster.clusterName}/*`,
        ],
      }),
    );
    const container = trainingService.taskDefinition.defaultContainer;
    bindToCompute(trainingBindings, trainingService.taskDefinition.taskRole, (name, value) =>
      container?.addEnvironment(name, value),
    );
  }

  // ---------------------------------------------------------------- compile
  const compile = containerFunction("CompileWorker", {
    file: "functions/jobs/Dockerfile.compile",
    handler: "functions/jobs/compile.handler",
    timeout: timeouts.compile,
    memorySize: 3008,
    diskMiB: 2048,
  });
  bindToCompute([table, bucket, realtime], compile, (name, value) => compile.addEnvironment(name, value));
  compileQueue.addConsumer(stack, {
    cdk: { function: compile, eventSource: { batchSize: 1, reportBatchItemFailures: true } },
  });

  // ---------------------------------------------------------------- webhooks
  const webhooks = nodeFunction(stack, "WebhookWorker", {
    handler: "functions/jobs/webhooks.handler",
    timeout: timeouts.webhook.toSeconds(),
    memorySize: 512,
    // Failed deliveries are re-enqueued with a backoff delay.
    bind: [table, access.worker(webhookQueue)],
  });
  webhookQueue.addConsumer(stack, {
    cdk: { function: webhooks, eventSource: { batchSize: 10, reportBatchItemFailures: true } },
  });

  // ------------------------------------------------------------ dead letters
  // A message that exhausted its receives marks its run / deployment failed.
  const trainingDeadLetter = nodeFunction(stack, "TrainingDeadLetter", {
    handler: "functions/jobs/training-dead-letter.handler",
    timeout: timeouts.deadLetter.toSeconds(),
    memorySize: 1024,
    // Failing a run frees its slot (which may start the next queued run),
    // notifies subscribers and emits the training.failed webhook.
    bind: [table, realtime, access.producer(trainingQueue), access.producer(webhookQueue)],
  });
  trainingDeadLetter.addEventSource(new SqsEventSource(trainingDlq, { batchSize: 10, reportBatchItemFailures: true }));

  const compileDeadLetter = nodeFunction(stack, "CompileDeadLetter", {
    handler: "functions/jobs/compile-dead-letter.handler",
    timeout: timeouts.deadLetter.toSeconds(),
    memorySize: 1024,
    bind: [table, realtime],
  });
  compileDeadLetter.addEventSource(new SqsEventSource(compileDlq, { batchSize: 10, reportBatchItemFailures: true }));

  // -------------------------------------------------------------- retention
  const retention = nodeFunction(stack, "RetentionWorker", {
    handler: "functions/jobs/retention.handler",
    timeout: "15 minutes",
    memorySize: 1024,
    bind: [table, bucket],
  });
  const retentionSchedule = new Cron(stack, "Retention", {
    schedule: "rate(1 day)",
    job: retention,
  });

  stack.addOutputs({
    IngestQueueUrl: ingestQueue.queueUrl,
    ImportQueueUrl: importQueue.queueUrl,
    TrainingQueueUrl: trainingQueue.queueUrl,
    CompileQueueUrl: compileQueue.queueUrl,
    WebhookQueueUrl: webhookQueue.queueUrl,
    TrainingConsumer: trainingOnFargate ? "fargate" : "lambda",
  });

  return {
    ingestQueue,
    importQueue,
    trainingQueue,
    compileQueue,
    webhookQueue,
    deadLetterQueues: { ingest: ingestDlq, import: importDlq, training: trainingDlq, compile: compileDlq, webhook: webhookDlq },
    workers: { ingest, import: importWorker, syncSchedule, training, compile, webhooks, trainingDeadLetter, compileDeadLetter, retention },
    trainingService,
    retentionSchedule,
    syncCron,
    fleetCron,
  };
}
