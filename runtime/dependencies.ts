/**
 * Everything the handler needs, built once per container from its environment. The Pulumi component
 * sets these variables on the function; the local platform sets the same ones per tenant.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Logger } from "pino";
import { createLogger } from "./logger";
import { resolveExiftoolPaths } from "./metadata/exiftool-paths";
import { MetadataExtractor } from "./metadata/extractor";
import type { ProcessDeps } from "./process-object";
import { MetadataStore } from "./store";
import { parseTenant } from "./tenant-config";

/** The environment contract between components/ and runtime/. */
export const ENV = {
  tenantConfig: "TENANT_CONFIG",
  sourceBucket: "SOURCE_BUCKET",
  proxyBucket: "PROXY_BUCKET",
  tableName: "TABLE_NAME",
  maxReceiveCount: "MAX_RECEIVE_COUNT",
  leaseSeconds: "LEASE_SECONDS",
  forcePathStyle: "S3_FORCE_PATH_STYLE",
} as const;

export interface HandlerDeps extends ProcessDeps {
  log: Logger;
  maxReceiveCount: number;
  /** Records of a batch processed at once (sharp and exiftool share the function's vCPUs). */
  concurrency: number;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

export interface Clients {
  s3: S3Client;
  dynamo: DynamoDBDocumentClient;
}

export function createClients(env: NodeJS.ProcessEnv = process.env): Clients {
  // Endpoints come from the SDK's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB when set.
  const s3 = new S3Client({ forcePathStyle: env[ENV.forcePathStyle] === "true", maxAttempts: 4 });
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 4 }), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
  return { s3, dynamo };
}

export function createDependencies(env: NodeJS.ProcessEnv = process.env, clients: Clients = createClients(env), log: Logger = createLogger(env)): HandlerDeps {
  const tenant = parseTenant(JSON.parse(required(env, ENV.tenantConfig)));
  const leaseSeconds = Number(env[ENV.leaseSeconds] ?? tenant.function.timeoutSeconds + 30);
  return {
    s3: clients.s3,
    store: new MetadataStore(clients.dynamo, required(env, ENV.tableName)),
    extractor: new MetadataExtractor(resolveExiftoolPaths(env), { requestTimeoutMs: Math.max(5_000, (tenant.function.timeoutSeconds * 1000) / 3) }),
    tenant,
    sourceBucket: required(env, ENV.sourceBucket),
    proxyBucket: required(env, ENV.proxyBucket),
    leaseMs: leaseSeconds * 1000,
    spoolAboveBytes: 16 * 1024 * 1024,
    log: log.child({ tenant: tenant.name }),
    maxReceiveCount: Number(env[ENV.maxReceiveCount] ?? tenant.queue.maxReceiveCount),
    concurrency: 2,
  };
}
