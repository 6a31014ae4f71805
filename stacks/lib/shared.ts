/**
 * Helpers shared by the stack files (this folder holds no stacks).
 */
import type { Bucket, Queue, Table } from "sst/constructs";
import type { Secret } from "sst/constructs/Secret.js";
import {
  getBindingEnvironments,
  getBindingPermissions,
  type BindingResource,
} from "sst/constructs/util/binding.js";
import { PolicyStatement, type IGrantable } from "aws-cdk-lib/aws-iam";

/** Browsers upload raw sensor files here (presigned PUT); S3 notifies IngestQueue for this prefix. */
export const UPLOAD_PREFIX = "uploads/";

/** Log retention of every function and container, matching the app-wide function default. */
export const LOG_RETENTION = "one_month" as const;

/**
 * Narrowed bindings. Binding `{ resource, permissions }` gives a function the
 * same SST_* environment variable as binding the construct itself, but only
 * the listed actions instead of SST's `dynamodb:*` / `s3:*` / `sqs:*`.
 */
export const access = {
  /** Item-level reads and writes on the table and its indexes; no table management. */
  table(table: Table): BindingResource {
    return {
      resource: table,
      permissions: [
        {
          actions: [
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:DescribeTable",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:UpdateItem",
          ],
          resources: [table.tableArn, `${table.tableArn}/index/*`],
        },
      ],
    };
  },
  /** Object reads/writes/deletes (incl. presigned and multipart uploads) and listing; no bucket management. */
  bucket(bucket: Bucket): BindingResource {
    return {
      resource: bucket,
      permissions: [
        {
          actions: [
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
          ],
          resources: [`${bucket.bucketArn}/*`],
        },
        // ListBucket also makes HeadObject on a missing key answer 404, not 403.
        { actions: ["s3:ListBucket"], resources: [bucket.bucketArn] },
      ],
    };
  },
  /** Enqueue only. */
  producer(queue: Queue): BindingResource {
    return {
      resource: queue,
      permissions: [
        {
          actions: ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
          resources: [queue.queueArn],
        },
      ],
    };
  },
  /** A worker on its own queue: enqueue (requeue) and extend/release visibility of what it holds. */
  worker(queue: Queue): BindingResource {
    return {
      resource: queue,
      permissions: [
        {
          actions: [
            "sqs:SendMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
          ],
          resources: [queue.queueArn],
        },
      ],
    };
  },
};

/**
 * SST grants `ssm:GetParameters` for a bound secret; core/config.ts reads it
 * with `GetParameter` (singular), which IAM authorizes separately. Same two
 * parameters (stage value and `.fallback`), nothing wider.
 */
export function secretReadAccess(secrets: Secret[]): PolicyStatement[] {
  const resources = secrets.flatMap((secret) =>
    getBindingPermissions(secret).flatMap((statement) => statement.resources),
  );
  if (resources.length === 0) return [];
  return [new PolicyStatement({ actions: ["ssm:GetParameter"], resources })];
}

/**
 * SST's `bind` for compute that is not an SST Function (container-image
 * Lambdas, Fargate tasks): the same SST_<Construct>_<prop>_<id> environment
 * variables and the same IAM statements SST would attach.
 */
export function bindToCompute(
  resources: BindingResource[],
  grantee: IGrantable,
  addEnvironment: (name: string, value: string) => void,
): void {
  for (const resource of resources) {
    for (const [name, value] of Object.entries(getBindingEnvironments(resource))) {
      addEnvironment(name, value);
    }
    for (const statement of getBindingPermissions(resource)) {
      grantee.grantPrincipal.addToPrincipalPolicy(statement);
    }
  }
}
