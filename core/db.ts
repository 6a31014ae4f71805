/**
 * The single DynamoDB table. Every entity is an ElectroDB Entity on this
 * table; tenant-owned entities put the tenant id in their partition key, so a
 * lookup with another tenant's id simply finds nothing.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { documentClient, dynamo } from "./aws";
import { Config } from "./config";

export const TABLE_INDEXES = {
  primary: { pk: "pk", sk: "sk" },
  gsi1: { pk: "gsi1pk", sk: "gsi1sk" },
  gsi2: { pk: "gsi2pk", sk: "gsi2sk" },
} as const;

/** Attribute DynamoDB's TTL deletes items by (epoch seconds). */
export const TTL_ATTRIBUTE = "expires_at";

/** Shared ElectroDB configuration; the table name is resolved on first use. */
export const entityConfig = {
  get client() {
    return documentClient();
  },
  get table() {
    return Config.tableName();
  },
};

/** Creates the table if missing (local runtime and tests; on AWS the stack owns it). */
export async function ensureTable(): Promise<void> {
  const TableName = Config.tableName();
  try {
    await dynamo().send(new DescribeTableCommand({ TableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const index = (name: "gsi1" | "gsi2") => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: TABLE_INDEXES[name].pk, KeyType: "HASH" as const },
      { AttributeName: TABLE_INDEXES[name].sk, KeyType: "RANGE" as const },
    ],
    Projection: { ProjectionType: "ALL" as const },
  });
  await dynamo().send(
    new CreateTableCommand({
      TableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"].map((AttributeName) => ({
        AttributeName,
        AttributeType: "S" as const,
      })),
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [index("gsi1"), index("gsi2")],
    }),
  );
  await dynamo().send(
    new UpdateTimeToLiveCommand({
      TableName,
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    }),
  );
}

/** Epoch seconds `seconds` from now, for the TTL attribute. */
export function expiresIn(seconds: number): number {
  return Math.floor(Date.now() / 1000) + seconds;
}
