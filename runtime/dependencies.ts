/**
 * Everything the processing function's handler needs, built once per container from its
 * environment (contract/environment.ts: the component sets it, the local platform gives the same).
 */
import type { Logger } from "pino";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { ENV } from "../contract/environment";
import { callTimeoutMs, leaseSeconds, SPOOL_ABOVE_BYTES } from "../contract/timing";
import { clientOptionsFrom, required, sdkConfig } from "./clients";
import { createClients, type Clients } from "./table-client";
import { createLogger } from "./logger";
import { CloudFrontInvalidator, VariantPurger, type Invalidator } from "./on-demand/purge";
import { resolveExiftoolPaths } from "./metadata/exiftool-paths";
import { MetadataExtractor } from "./metadata/extractor";
import type { ProcessDeps } from "./process-object";
import { MetadataStore } from "./store";
import { decodeBudgetBytes, MemoryBudget } from "./memory-budget";
import { cleanStaleSpools, spoolRoot } from "./s3-object";
import { OBJECTS_PER_CONTAINER, outputConfigHash, parseTenant } from "../contract/tenant-config";
import { createTracer, NO_TRACING, type Tracer } from "./tracing";

export interface HandlerDeps extends ProcessDeps {
  log: Logger;
  maxReceiveCount: number;
  /** Records of a batch processed at once (sharp and exiftool share the function's vCPUs). */
  concurrency: number;
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
  const lease = Number(env[ENV.leaseSeconds] ?? leaseSeconds(tenant.function.timeoutSeconds));
  return {
    s3,
    store: new MetadataStore(tracer.client(clients.dynamo), required(env, ENV.tableName)),
    extractor: new MetadataExtractor(resolveExiftoolPaths(env), {
      requestTimeoutMs: Number(env[ENV.exiftoolTimeoutMs] ?? callTimeoutMs(tenant.function.timeoutSeconds)),
    }),
    tenant,
    configHash: outputConfigHash(tenant),
    sourceBucket: required(env, ENV.sourceBucket),
    proxyBucket,
    variants: tenant.onDemand.enabled ? new VariantPurger(s3, proxyBucket, invalidator ?? variantInvalidator(env, tracer)) : undefined,
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
