/**
 * Everything the handler needs, built once per container from its environment. The Pulumi component
 * sets these variables on the function; the local platform sets the same ones per tenant.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Logger } from "pino";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { createLogger } from "./logger";
import { CloudFrontInvalidator, VariantPurger, type Invalidator } from "./on-demand/purge";
import { resolveExiftoolPaths } from "./metadata/exiftool-paths";
import { MetadataExtractor } from "./metadata/extractor";
import type { ProcessDeps } from "./process-object";
import { MetadataStore } from "./store";
import { decodeBudgetBytes, MemoryBudget } from "./memory-budget";
import { cleanStaleSpools, spoolRoot } from "./s3-object";
import { OBJECTS_PER_CONTAINER, outputConfigHash, parseTenant } from "./tenant-config";
import { createTracer, NO_TRACING, type Tracer } from "./tracing";

/** The environment contract between components/ and runtime/. */
export const ENV = {
  tenantConfig: "TENANT_CONFIG",
  sourceBucket: "SOURCE_BUCKET",
  proxyBucket: "PROXY_BUCKET",
  tableName: "TABLE_NAME",
  maxReceiveCount: "MAX_RECEIVE_COUNT",
  leaseSeconds: "LEASE_SECONDS",
  forcePathStyle: "S3_FORCE_PATH_STYLE",
  requestTimeoutMs: "AWS_REQUEST_TIMEOUT_MS",
  exiftoolTimeoutMs: "EXIFTOOL_TIMEOUT_MS",
  /** The tenant's CloudFront distribution (on-demand renditions): the pipeline invalidates variants there. */
  distributionId: "DISTRIBUTION_ID",
} as const;

export interface HandlerDeps extends ProcessDeps {
  log: Logger;
  maxReceiveCount: number;
  /** Records of a batch processed at once (sharp and exiftool share the function's vCPUs). */
  concurrency: number;
}

export function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

export interface Clients {
  s3: S3Client;
  dynamo: DynamoDBDocumentClient;
}

export interface ClientOptions {
  /** SDK attempts per call (its own backoff between them) before the queue's retry takes over. */
  maxAttempts: number;
  /** A response slower than this is abandoned and retried. */
  requestTimeoutMs: number;
}

export function clientOptionsFrom(env: NodeJS.ProcessEnv): ClientOptions {
  return { maxAttempts: Number(env.AWS_MAX_ATTEMPTS ?? 4), requestTimeoutMs: Number(env[ENV.requestTimeoutMs] ?? 20_000) };
}

/** Shared by the Lambda's clients and the local platform's, so both time out and retry alike. */
export function sdkConfig(options: ClientOptions) {
  return { maxAttempts: options.maxAttempts, requestHandler: { requestTimeout: options.requestTimeoutMs, connectionTimeout: 5_000 } };
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true } });
}

export function createClients(env: NodeJS.ProcessEnv = process.env): Clients {
  // Endpoints come from the SDK's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB when set.
  const config = sdkConfig(clientOptionsFrom(env));
  return {
    s3: new S3Client({ ...config, forcePathStyle: env[ENV.forcePathStyle] === "true" }),
    dynamo: documentClient(new DynamoDBClient(config)),
  };
}

/** Where a tenant with on-demand renditions invalidates them: its distribution, named by DISTRIBUTION_ID. */
function variantInvalidator(env: NodeJS.ProcessEnv, tracer: Tracer): Invalidator {
  const distributionId = required(env, ENV.distributionId);
  return new CloudFrontInvalidator(tracer.client(new CloudFrontClient(sdkConfig(clientOptionsFrom(env)))), distributionId);
}

export function createDependencies(
  env: NodeJS.ProcessEnv = process.env,
  clients: Clients = createClients(env),
  log: Logger = createLogger(env),
  invalidator?: Invalidator,
): HandlerDeps {
  const tenant = parseTenant(JSON.parse(required(env, ENV.tenantConfig)));
  const proxyBucket = required(env, ENV.proxyBucket);
  const tracer = tenant.function.tracing ? createTracer(env) : NO_TRACING;
  const s3 = tracer.client(clients.s3);
  // A process that starts in a reused container (after a timeout or an out-of-memory kill) finds
  // the spool files of the one that died: /tmp outlives processes, and nothing else removes them.
  cleanStaleSpools(env);
  const leaseSeconds = Number(env[ENV.leaseSeconds] ?? tenant.function.timeoutSeconds + 30);
  return {
    s3,
    store: new MetadataStore(tracer.client(clients.dynamo), required(env, ENV.tableName)),
    extractor: new MetadataExtractor(resolveExiftoolPaths(env), {
      requestTimeoutMs: Number(env[ENV.exiftoolTimeoutMs] ?? Math.max(5_000, (tenant.function.timeoutSeconds * 1000) / 3)),
    }),
    tenant,
    configHash: outputConfigHash(tenant),
    sourceBucket: required(env, ENV.sourceBucket),
    proxyBucket,
    variants: tenant.onDemand.enabled ? new VariantPurger(s3, proxyBucket, invalidator ?? variantInvalidator(env, tracer)) : undefined,
    leaseMs: leaseSeconds * 1000,
    spoolAboveBytes: 16 * 1024 * 1024,
    spoolDir: spoolRoot(env),
    memoryBudget: new MemoryBudget(decodeBudgetBytes(tenant.function.memoryMb), tenant.function.memoryMb),
    log: log.child({ tenant: tenant.name }),
    maxReceiveCount: Number(env[ENV.maxReceiveCount] ?? tenant.queue.maxReceiveCount),
    concurrency: OBJECTS_PER_CONTAINER,
    tracer,
  };
}
