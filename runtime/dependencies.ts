/**
 * Everything the processing function's handler needs, built once per container from its
 * environment (contract/environment.ts: the component sets it, the local platform gives the same).
 */
import type { Logger } from "pino";
import type { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ENV } from "../contract/environment";
import { callTimeoutMs, leaseSeconds, purgeDelaySeconds, PURGE_RETRY_MAX_SECONDS, SPOOL_ABOVE_BYTES } from "../contract/timing";
import { clientOptionsFrom, required, sdkConfig } from "./clients";
import { createClients, type Clients } from "./table-client";
import { createLogger } from "./logger";
import { CloudFrontInvalidator, PurgeQueue, VariantPurger, type Invalidator } from "./on-demand/purge";
import { PurgeDrain } from "./on-demand/purge-drain";
import { resolveExiftoolPaths } from "./metadata/exiftool-paths";
import { MetadataExtractor } from "./metadata/extractor";
import type { ProcessDeps } from "./process-object";
import { MetadataStore } from "./store";
import { decodeBudgetBytes, MemoryBudget } from "./memory-budget";
import { cleanStaleSpools, spoolRoot } from "./s3-object";
import type { TenantConfig } from "../contract/tenant-config";
import { OBJECTS_PER_CONTAINER, outputConfigHash, readTenantConfig, reviewSettings } from "../contract/tenant-runtime";
import { createTracer, NO_TRACING, type Tracer } from "./tracing";
import { NearDuplicates } from "./analysis/near-duplicates";
import { RekognitionReviewer, type Reviewer } from "./analysis/rekognition";
import { OutcomePublisher } from "./outcome-events";
import { OverlayStore } from "./overlays";

export interface HandlerDeps extends ProcessDeps {
  log: Logger;
  maxReceiveCount: number;
  /** Records of a batch processed at once (sharp and exiftool share the function's vCPUs). */
  concurrency: number;
  /** Tenants with on-demand renditions: the same function drains their purge queue into CloudFront. */
  purges?: PurgeDrain;
}

/**
 * A tenant with on-demand renditions: variants are deleted with their source and their
 * invalidation queued (PURGE_QUEUE_URL), and the queue is drained into its distribution
 * (DISTRIBUTION_ID; `invalidator` replaces it locally).
 */
function onDemandParts(
  env: NodeJS.ProcessEnv,
  tenant: TenantConfig,
  s3: S3Client,
  proxyBucket: string,
  clients: Clients,
  tracer: Tracer,
  invalidator?: Invalidator,
): Pick<HandlerDeps, "variants" | "purges"> {
  if (!tenant.onDemand.enabled) return {};
  const sqs = tracer.client(clients.sqs ?? new SQSClient(sdkConfig(clientOptionsFrom(env))));
  const queueUrl = required(env, ENV.purgeQueueUrl);
  const cloudfront =
    invalidator ?? new CloudFrontInvalidator(sdkConfig(clientOptionsFrom(env)), required(env, ENV.distributionId), (client) => tracer.client(client));
  const retryMaxSeconds = Number(env[ENV.purgeRetryMaxSeconds] ?? PURGE_RETRY_MAX_SECONDS);
  const delaySeconds = Number(env[ENV.purgeDelaySeconds] ?? purgeDelaySeconds(tenant.onDemand.timeoutSeconds));
  const variants = new VariantPurger(s3, proxyBucket, new PurgeQueue(sqs, queueUrl, delaySeconds));
  return {
    variants,
    purges: new PurgeDrain(cloudfront, sqs, queueUrl, retryMaxSeconds, tenant.name, (key) => variants.removeStored(key)),
  };
}

export function createDependencies(
  env: NodeJS.ProcessEnv = process.env,
  clients: Clients = createClients(env),
  log: Logger = createLogger(env),
  invalidator?: Invalidator,
  /** Replaces Amazon Rekognition for tenants that ask for it (the local platform's fake). */
  reviewer?: Reviewer,
): HandlerDeps {
  const tenant = readTenantConfig<TenantConfig>(required(env, ENV.tenantConfig), ENV.tenantConfig);
  const proxyBucket = required(env, ENV.proxyBucket);
  const tracer = tenant.function.tracing ? createTracer(env) : NO_TRACING;
  const s3 = tracer.client(clients.s3);
  // A process that starts in a reused container (after a timeout or an out-of-memory kill) finds
  // the spool files of the one that died: /tmp outlives processes, and nothing else removes them.
  cleanStaleSpools(env);
  const lease = Number(env[ENV.leaseSeconds] ?? leaseSeconds(tenant.function.timeoutSeconds));
  const dynamo = tracer.client(clients.dynamo);
  const store = new MetadataStore(dynamo, required(env, ENV.tableName));
  const eventsTopicArn = env[ENV.eventsTopicArn];
  const sourceBucket = required(env, ENV.sourceBucket);
  return {
    s3,
    store,
    nearDuplicates: new NearDuplicates(dynamo, store, tenant.analysis.similarDistance),
    reviewer: reviewSettings(tenant.analysis)
      ? (reviewer ?? new RekognitionReviewer(sdkConfig(clientOptionsFrom(env)), (client) => tracer.client(client)))
      : undefined,
    extractor: new MetadataExtractor(resolveExiftoolPaths(env), {
      requestTimeoutMs: Number(env[ENV.exiftoolTimeoutMs] ?? callTimeoutMs(tenant.function.timeoutSeconds)),
    }),
    outcomes: eventsTopicArn
      ? new OutcomePublisher(eventsTopicArn, clients.sns ?? sdkConfig(clientOptionsFrom(env)), (client) => tracer.client(client))
      : undefined,
    tenant,
    configHash: outputConfigHash(tenant),
    sourceBucket,
    proxyBucket,
    overlays: new OverlayStore(s3, sourceBucket),
    ...onDemandParts(env, tenant, s3, proxyBucket, clients, tracer, invalidator),
    leaseMs: lease * 1000,
    spoolAboveBytes: SPOOL_ABOVE_BYTES,
    spoolDir: spoolRoot(env),
    memoryBudget: new MemoryBudget(decodeBudgetBytes(tenant.function.memoryMb), tenant.function.memoryMb),
    log: log.child({ tenant: tenant.name }),
    maxReceiveCount: Number(env[ENV.maxReceiveCount] ?? tenant.queue.maxReceiveCount),
    concurrency: OBJECTS_PER_CONTAINER,
    tracer,
  };
}
