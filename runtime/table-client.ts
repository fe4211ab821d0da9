/** The processing function's AWS clients: S3, the metadata table's DynamoDB document client, and SQS for on-demand tenants' purges. */
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SNSClient } from "@aws-sdk/client-sns";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { clientOptionsFrom, createS3Client, sdkConfig } from "./clients";

export interface Clients {
  s3: S3Client;
  dynamo: DynamoDBDocumentClient;
  /** Created where needed (tenants with on-demand renditions) when not given. */
  sqs?: SQSClient;
  /** The outcome topic's client; created with the first publish when not given. */
  sns?: SNSClient;
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true } });
}

export function createClients(env: NodeJS.ProcessEnv = process.env): Clients {
  // The endpoint comes from the SDK's own AWS_ENDPOINT_URL_DYNAMODB when set.
  return { s3: createS3Client(env), dynamo: documentClient(new DynamoDBClient(sdkConfig(clientOptionsFrom(env)))) };
}
