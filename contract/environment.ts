/**
 * The environment contract between the deployed functions and the runtime: the variable names, and
 * the environment each function gets for a tenant. components/ sets exactly this on the Lambda
 * functions; the local platform gives exactly this to the same handlers; runtime/ reads it.
 */
import { callTimeoutMs, leaseSeconds, purgeDelaySeconds, PURGE_RETRY_MAX_SECONDS } from "./timing";
import type { TenantConfig } from "./tenant-config";

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
  /** The tenant's purge queue (on-demand renditions): invalidations owed to the distribution wait there until CloudFront takes them. */
  purgeQueueUrl: "PURGE_QUEUE_URL",
  /** The longest a deferred purge waits before CloudFront is asked again (timing.ts purgeRetryDelaySeconds). */
  purgeRetryMaxSeconds: "PURGE_RETRY_MAX_SECONDS",
  /** How long an owed purge waits before it is drained (timing.ts purgeDelaySeconds). */
  purgeDelaySeconds: "PURGE_DELAY_SECONDS",
  /** The tenant's outcome topic (docs/events.md): an event for every final state of an object. */
  eventsTopicArn: "EVENTS_TOPIC_ARN",
  nodeOptions: "NODE_OPTIONS",
} as const;

/** Lambda's Node.js runtime reads NODE_OPTIONS; stack traces then point into the sources. */
const NODE_OPTIONS = "--enable-source-maps";

/**
 * The old space's ceiling (MB) from which V8 lets its heap grow up to 4x what is live before a
 * mark-compact: below it the most is 1.3-2x (V8's src/heap/heap-controller.h: kMaxSize = 1024 MB x
 * kPointerMultiplier, 2 in Node's builds).
 */
export const V8_FULL_GROWTH_OLD_SPACE_MB = 2048;

/**
 * NODE_OPTIONS of both functions: source maps, and V8's old-space ceiling named, at least
 * V8_FULL_GROWTH_OLD_SPACE_MB. Lambda's Node.js bootstrap otherwise sets the ceiling from the
 * function's memory, all but a 5% new space (973 MB for the processor's default 1,024 MB, 1,946 MB
 * for the renderer's 2,048 MB), under V8's threshold. Measured with the archives as built, started
 * with the bootstrap's flags (docs/benchmarks.md): the buffers each object allocates (its source,
 * the socket's chunks, the renditions) then meet a limit set at ~2x the live heap, and the functions
 * make a mark-compact every object or so: the processor's warm object took 190 ms instead of 140
 * (13-14 mark-compacts in 14 objects instead of 1), and a JPEG miss with S3's latency cost the
 * renderer 1.48-1.57x raw sharp's CPU instead of 1.26-1.30x. Named in NODE_OPTIONS, the bootstrap
 * passes neither its old- nor its semi-space flag, leaving V8's default semi-space; peak RSS stayed
 * where it was (processor 218-231 MB against 236-240; renderer +4 MB). The JavaScript heap stays
 * small (the pixels are libvips' memory, budgeted by runtime/memory-budget.ts); a ceiling above a
 * small function's memory only means that a runaway heap ends in Lambda's out-of-memory stop rather
 * than V8's.
 */
export function functionNodeOptions(memoryMb: number): string {
  return `${NODE_OPTIONS} --max-old-space-size=${Math.max(V8_FULL_GROWTH_OLD_SPACE_MB, lambdaOldSpaceMb(memoryMb))}`;
}

/** The old space's ceiling Lambda's Node.js bootstrap gives a function of `memoryMb` (MB): all but a 5% new space. */
export function lambdaOldSpaceMb(memoryMb: number): number {
  return memoryMb - Math.floor(memoryMb / 20);
}

/** The names a function is told, as Pulumi outputs (deploy) or plain strings (local). */
export interface ProcessorResources<V> {
  sourceBucket: V;
  proxyBucket: V;
  table: V;
  /** The tenant's distribution, for tenants with on-demand renditions. */
  distributionId?: V;
  /** The tenant's purge queue, for tenants with on-demand renditions. */
  purgeQueueUrl?: V;
  /** The tenant's outcome topic. */
  eventsTopicArn?: V;
}

/**
 * The processing function's environment for a tenant. `leaseSeconds`, `purgeRetryMaxSeconds` and
 * `purgeDelaySeconds` are the values the local platform sets apart: its queues come back after seconds, not minutes.
 */
export function processorEnvironment<V>(
  tenant: TenantConfig,
  resources: ProcessorResources<V>,
  overrides: { leaseSeconds?: number; purgeRetryMaxSeconds?: number; purgeDelaySeconds?: number } = {},
): Record<string, V | string> {
  const timeout = tenant.function.timeoutSeconds;
  return {
    [ENV.tenantConfig]: JSON.stringify(tenant),
    [ENV.sourceBucket]: resources.sourceBucket,
    [ENV.proxyBucket]: resources.proxyBucket,
    [ENV.tableName]: resources.table,
    [ENV.maxReceiveCount]: String(tenant.queue.maxReceiveCount),
    [ENV.leaseSeconds]: String(overrides.leaseSeconds ?? leaseSeconds(timeout)),
    [ENV.exiftoolTimeoutMs]: String(callTimeoutMs(timeout)),
    [ENV.requestTimeoutMs]: String(callTimeoutMs(timeout)),
    ...(tenant.onDemand.enabled && resources.distributionId !== undefined && resources.purgeQueueUrl !== undefined
      ? {
          [ENV.distributionId]: resources.distributionId,
          [ENV.purgeQueueUrl]: resources.purgeQueueUrl,
          [ENV.purgeRetryMaxSeconds]: String(overrides.purgeRetryMaxSeconds ?? PURGE_RETRY_MAX_SECONDS),
          [ENV.purgeDelaySeconds]: String(overrides.purgeDelaySeconds ?? purgeDelaySeconds(tenant.onDemand.timeoutSeconds)),
        }
      : {}),
    ...(resources.eventsTopicArn !== undefined ? { [ENV.eventsTopicArn]: resources.eventsTopicArn } : {}),
    [ENV.nodeOptions]: functionNodeOptions(tenant.function.memoryMb),
  };
}

/** The on-demand renderer's environment for a tenant: it reads the source and writes the proxy bucket. */
export function rendererEnvironment<V>(
  tenant: TenantConfig,
  resources: Pick<ProcessorResources<V>, "sourceBucket" | "proxyBucket">,
): Record<string, V | string> {
  return {
    [ENV.tenantConfig]: JSON.stringify(tenant),
    [ENV.sourceBucket]: resources.sourceBucket,
    [ENV.proxyBucket]: resources.proxyBucket,
    [ENV.nodeOptions]: functionNodeOptions(tenant.onDemand.memoryMb),
  };
}
