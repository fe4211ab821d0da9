/**
 * Resource names derived from a short project prefix, the stack and the tenant, so two stacks of the
 * same account (dev, prod) never collide. Shared by components/ (as Pulumi logical names) and the
 * local platform (as the emulated resources' physical names).
 */
import { bucketNameProblem } from "./tenant-runtime";

/** What names depend on, of a tenant's config (structural: the schema module imports this one). */
interface NamedTenant {
  name: string;
  storage: { sourceBucketName?: string; proxyBucketName?: string };
}

const DEFAULT_NAME_PREFIX = "tip";

/**
 * Where the proxy bucket keeps on-demand variants (runtime/on-demand/variants.ts): the lifecycle
 * rule that expires them and the processor's list permission name this prefix too.
 */
export const VARIANTS_ROOT = "_variants/";

/**
 * Sidecars' prefix in the proxy bucket (`metadata/<source key>.json`, or `metadata.long/<sha256>.json`
 * for a key too long for it: runtime/keys.ts). The renderer reads their heads (focus, status).
 */
export const SIDECAR_ROOT = "metadata";

/** The CloudWatch namespace of the runtime's EMF metrics, which the stack's dashboard graphs. */
export const METRICS_NAMESPACE = "TenantImagePlatform";

export interface TenantResourceNames {
  /** The common stem: `<prefix>-<stack>-<tenant>`. */
  base: string;
  sourceBucket: string;
  proxyBucket: string;
  table: string;
  queue: string;
  deadLetterQueue: string;
  /** On-demand tenants: invalidations owed to the distribution (runtime/on-demand/purge-drain.ts). */
  purgeQueue: string;
  purgeDeadLetterQueue: string;
  function: string;
  /** The local platform's name for the tenant's outcome topic (deployed: named by Pulumi). */
  outcomesTopic: string;
}

export function tenantResourceNames(stack: string, tenant: NamedTenant, prefix = DEFAULT_NAME_PREFIX): TenantResourceNames {
  const base = `${prefix}-${stack}-${tenant.name}`;
  const names: TenantResourceNames = {
    base,
    sourceBucket: tenant.storage.sourceBucketName ?? `${base}-source`,
    proxyBucket: tenant.storage.proxyBucketName ?? `${base}-proxy`,
    table: `${base}-metadata`,
    queue: `${base}-events`,
    deadLetterQueue: `${base}-events-dlq`,
    purgeQueue: `${base}-purges`,
    purgeDeadLetterQueue: `${base}-purges-dlq`,
    function: `${base}-processor`,
    outcomesTopic: `${base}-outcomes`,
  };
  const tooLong = physicalNameProblems(base);
  if (tooLong.length) {
    throw new Error(
      `tenant "${tenant.name}" on stack "${stack}": ${tooLong.join("; ")}. Use a shorter namePrefix (now "${prefix}"), stack name or tenant name`,
    );
  }
  for (const bucket of [names.sourceBucket, names.proxyBucket]) {
    // Pulumi adds an 8-character random suffix to derived bucket names; leave room for it.
    const problem = bucketNameProblem(tenant.storage.sourceBucketName === bucket || tenant.storage.proxyBucketName === bucket ? bucket : `${bucket}-1234567`);
    if (problem) {
      throw new Error(
        `tenant "${tenant.name}": bucket name "${bucket}" derived from stack "${stack}" ${problem}; set storage.sourceBucketName/proxyBucketName explicitly`,
      );
    }
  }
  return names;
}

/** Pulumi's auto-naming appends "-" and 7 random hex characters to a resource's logical name. */
const AUTONAME_SUFFIX_LENGTH = 8;

/**
 * Every other physical name components/tenant-pipeline.ts and components/on-demand.ts derive from `<prefix>-<stack>-<tenant>`,
 * with its service's limit: checked at config time, because AWS would refuse it only during
 * `pulumi up`, after the preview. `autonamed`: Pulumi adds its random suffix.
 */
const DERIVED_NAMES: readonly { resource: string; suffix: string; limit: number; autonamed: boolean; prefix?: string }[] = [
  { resource: "IAM role", suffix: "-processor-role", limit: 64, autonamed: true },
  { resource: "IAM role policy", suffix: "-processor-access", limit: 128, autonamed: true },
  { resource: "Lambda function", suffix: "-processor", limit: 64, autonamed: false },
  { resource: "SQS queue", suffix: "-events", limit: 80, autonamed: true },
  { resource: "SQS dead-letter queue", suffix: "-events-dlq", limit: 80, autonamed: true },
  { resource: "DynamoDB table", suffix: "-metadata", limit: 255, autonamed: true },
  { resource: "log group", suffix: "-processor", limit: 512, autonamed: false, prefix: "/aws/lambda/" },
  { resource: "CloudWatch alarm", suffix: "-function-errors", limit: 255, autonamed: true },
  // components/on-demand.ts (tenants with onDemand.enabled)
  { resource: "on-demand IAM role", suffix: "-od-role", limit: 64, autonamed: true },
  { resource: "on-demand Lambda function", suffix: "-od-renderer", limit: 64, autonamed: false },
  { resource: "CloudFront Function", suffix: "-od-viewer", limit: 64, autonamed: true },
  { resource: "CloudFront KeyValueStore", suffix: "-od-keys", limit: 64, autonamed: true },
  { resource: "CloudFront origin access control", suffix: "-od-s3-oac", limit: 64, autonamed: true },
  { resource: "CloudFront cache policy", suffix: "-od-cache", limit: 128, autonamed: true },
  { resource: "SQS purge queue", suffix: "-purges", limit: 80, autonamed: true },
  { resource: "SQS purge dead-letter queue", suffix: "-purges-dlq", limit: 80, autonamed: true },
];

export function physicalNameProblems(base: string): string[] {
  return DERIVED_NAMES.flatMap(({ resource, suffix, limit, autonamed, prefix = "" }) => {
    const length = prefix.length + base.length + suffix.length + (autonamed ? AUTONAME_SUFFIX_LENGTH : 0);
    return length > limit
      ? [`the ${resource} name "${prefix}${base}${suffix}${autonamed ? "-xxxxxxx" : ""}" would be ${length} characters, above AWS's ${limit}`]
      : [];
  });
}

/**
 * The platform's own prefix: source objects under it are never processed (overlays, and other files
 * the platform reads), and table keys under it are the platform's (the similarity index), which no
 * object's item can therefore ever collide with.
 */
export const PLATFORM_PREFIX = "_platform/";

/** Where a tenant keeps its overlay images (watermarks, logos) in its source bucket. */
export const OVERLAY_PREFIX = `${PLATFORM_PREFIX}overlays/`;
