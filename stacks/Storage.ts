import { Bucket, Config, Table, type StackContext } from "sst/constructs";
import { RemovalPolicy, Duration } from "aws-cdk-lib";
import { BucketEncryption } from "aws-cdk-lib/aws-s3";
import { UPLOAD_PREFIX } from "./lib/shared";

/**
 * Durable state: the single-table DynamoDB design, the files bucket and the
 * secrets. Construct ids are part of the runtime contract: SST binds them as
 * SST_Table_tableName_Data, SST_Bucket_bucketName_Files, SST_Secret_value_<NAME>.
 */
export function Storage({ stack, app }: StackContext) {
  const production = app.stage === "production";

  const table = new Table(stack, "Data", {
    fields: {
      pk: "string",
      sk: "string",
      gsi1pk: "string",
      gsi1sk: "string",
      gsi2pk: "string",
      gsi2sk: "string",
    },
    primaryIndex: { partitionKey: "pk", sortKey: "sk" },
    globalIndexes: {
      gsi1: { partitionKey: "gsi1pk", sortKey: "gsi1sk" },
      gsi2: { partitionKey: "gsi2pk", sortKey: "gsi2sk" },
    },
    timeToLiveAttribute: "expires_at",
    cdk: {
      table: {
        pointInTimeRecovery: true,
        deletionProtection: production,
        removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      },
    },
  });

  const bucket = new Bucket(stack, "Files", {
    // BLOCK_ALL public access + BucketOwnerEnforced object ownership.
    blockPublicACLs: true,
    cors: [
      {
        // Presigned uploads and downloads straight from the browser.
        allowedMethods: ["PUT", "GET", "HEAD"],
        allowedOrigins: ["*"],
        allowedHeaders: ["*"],
        exposedHeaders: ["ETag"],
        maxAge: "1 hour",
      },
    ],
    cdk: {
      bucket: {
        encryption: BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        versioned: false,
        removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        lifecycleRules: [
          {
            id: "abort-incomplete-multipart-uploads",
            enabled: true,
            abortIncompleteMultipartUploadAfter: Duration.days(1),
          },
          {
            id: "expire-raw-uploads",
            enabled: true,
            prefix: UPLOAD_PREFIX,
            expiration: Duration.days(7),
          },
        ],
      },
    },
  });

  const secrets = Config.Secret.create(
    stack,
    "JWT_SIGNING_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_PRICE_PRO",
    "STRIPE_PRICE_ENTERPRISE",
    // 32 random bytes, base64: the master key of the credentials vault (core/secrets).
    "SECRETS_MASTER_KEY",
  );

  stack.addOutputs({
    TableName: table.tableName,
    BucketName: bucket.bucketName,
  });

  return { table, bucket, secrets };
}
