/**
 * Helpers shared by the stack files (this folder holds no stacks).
 */
import { Function, type Bucket, type FunctionProps, type Queue, type Table } from "sst/constructs";
import { useProject } from "sst/project.js";
import fs from "node:fs/promises";
import path from "node:path";
import type { Construct } from "constructs";
import { nativeInstalls } from "./native";
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

/**
 * onnxruntime-node ships binaries for every platform (~290 MB) and, on
 * linux/x64, its install script downloads CUDA libraries. In a zip bundle
 * only the Lambda's own platform is kept and the download is skipped (Lambda
 * has no GPU), which leaves ~45 MB.
 */
function onnxRuntimeHooks(): NonNullable<FunctionProps["hooks"]> {
  return {
    async beforeBuild(_props, out) {
      await fs.writeFile(path.join(out, ".npmrc"), "onnxruntime-node-install=skip\n");
    },
    async afterBuild(props, out) {
      await fs.rm(path.join(out, ".npmrc"), { force: true });
      const keep = props.architecture === "arm_64" ? "linux/arm64" : "linux/x64";
      const bin = path.join(out, "node_modules", "onnxruntime-node", "bin");
      const list = (dir: string) => fs.readdir(dir).catch(() => [] as string[]);
      for (const napi of await list(bin)) {
        for (const platform of await list(path.join(bin, napi))) {
          for (const cpu of await list(path.join(bin, napi, platform))) {
            if (`${platform}/${cpu}` !== keep) {
              await fs.rm(path.join(bin, napi, platform, cpu), { recursive: true, force: true });
            }
          }
        }
      }
    },
  };
}

/**
 * An SST Function whose bundle installs exactly the native packages its
 * handler reaches (see ./native.ts). The app-wide defaults (runtime, ESM,
 * tracing, log retention) still apply; `nodejs` is rebuilt here because SST
 * replaces, not merges, a function's `nodejs` props.
 */
export function nodeFunction(scope: Construct, id: string, props: FunctionProps & { handler: string }): Function {
  const install = nativeInstalls(useProject().paths.root, props.handler);
  return new Function(scope, id, {
    ...props,
    nodejs: {
      ...props.nodejs,
      format: "esm",
      // pg loads its optional libpq binding only when asked to; it is not installed.
      esbuild: { ...props.nodejs?.esbuild, external: [...(props.nodejs?.esbuild?.external ?? []), "pg-native"] },
      ...(install.length > 0 ? { install } : {}),
    },
    ...(install.includes("onnxruntime-node") ? { hooks: onnxRuntimeHooks() } : {}),
  });
}
