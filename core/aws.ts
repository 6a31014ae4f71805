/**
 * AWS SDK v3 clients, created once per process. Locally only the endpoints
 * differ: the same clients talk to DynamoDB Local, s3rver and fauxqs.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { Config } from "./config";

function once<T>(make: () => T): () => T {
  let made: T | undefined;
  return () => (made ??= make());
}

// s3rver checks SigV4 signatures against its fixed S3RVER key pair; the other local services accept any.
const localCredentials = () =>
  Config.isLocal() ? { credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } } : {};

export const dynamo = once(() =>
  new DynamoDBClient({ region: Config.region(), endpoint: Config.dynamoEndpoint(), ...localCredentials() }),
);

export const documentClient = once(() =>
  DynamoDBDocumentClient.from(dynamo(), { marshallOptions: { removeUndefinedValues: true } }),
);

export const s3 = once(() =>
  new S3Client({
    region: Config.region(),
    endpoint: Config.s3Endpoint(),
    forcePathStyle: Config.s3Endpoint() !== undefined,
    // s3rver predates the SDK's default CRC32 trailers; AWS accepts either way.
    ...(Config.s3Endpoint()
      ? { requestChecksumCalculation: "WHEN_REQUIRED" as const, responseChecksumValidation: "WHEN_REQUIRED" as const }
      : {}),
    ...localCredentials(),
  }),
);

export const sqs = once(() =>
  new SQSClient({ region: Config.region(), endpoint: Config.sqsEndpoint(), ...localCredentials() }),
);

export const websocketManagement = once(() =>
  new ApiGatewayManagementApiClient({
    region: Config.region(),
    endpoint: Config.websocketManagementEndpoint(),
    ...localCredentials(),
  }),
);
