/**
 * Resource names derived from a short project prefix, the stack and the tenant, so two stacks of the
 * same account (dev, prod) never collide. Shared by components/ (as Pulumi logical names) and the
 * local platform (as the emulated resources' physical names).
 */
import { bucketNameProblem, type TenantConfig } from "./tenant-config";

export const DEFAULT_NAME_PREFIX = "tip";

export interface TenantResourceNames {
  /** The common stem: `<prefix>-<stack>-<tenant>`. */
  base: string;
  sourceBucket: string;
  proxyBucket: string;
  table: string;
  queue: string;
  deadLetterQueue: string;
  function: string;
}

export function tenantResourceNames(stack: string, tenant: Pick<TenantConfig, "name" | "storage">, prefix = DEFAULT_NAME_PREFIX): TenantResourceNames {
  const base = `${prefix}-${stack}-${tenant.name}`;
  const names: TenantResourceNames = {
    base,
    sourceBucket: tenant.storage.sourceBucketName ?? `${base}-source`,
    proxyBucket: tenant.storage.proxyBucketName ?? `${base}-proxy`,
    table: `${base}-metadata`,
    queue: `${base}-events`,
    deadLetterQueue: `${base}-events-dlq`,
    function: `${base}-processor`,
  };
  for (const bucket of [names.sourceBucket, names.proxyBucket]) {
    // Pulumi adds an 8-character random suffix to derived bucket names; leave room for it.
    const problem = bucketNameProblem(tenant.storage.sourceBucketName === bucket || tenant.storage.proxyBucketName === bucket ? bucket : `${bucket}-1234567`);
    if (problem) {
      throw new Error(`tenant "${tenant.name}": bucket name "${bucket}" derived from stack "${stack}" ${problem}; set storage.sourceBucketName/proxyBucketName explicitly`);
    }
  }
  return names;
}
