import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { exceededMessage, QUOTAS, quotaUse } from "../contract/quotas";
import type { TenantConfig } from "../contract/tenant-config";

/**
 * The stack against the account's actual quotas, read through Service Quotas at preview
 * (aws.servicequotas.getServiceQuota; global quotas such as IAM's and CloudFront's answer in
 * us-east-1 only): an output that fails the preview with the same message as `npm run check` when
 * the stack does not fit, and otherwise lists what it needs of each. Quotas Service Quotas does not
 * have (CloudFront Functions, key value stores, origin access controls) are `npm run check`'s alone.
 * The deploying identity needs servicequotas:GetServiceQuota and GetAWSDefaultServiceQuota.
 */
export function accountQuotaCheck(
  stack: string,
  tenants: readonly TenantConfig[],
  opts: pulumi.InvokeOutputOptions = {},
): pulumi.Output<Record<string, { needs: number; limit: number }>> {
  const checked = QUOTAS.filter((q) => q.serviceCode && q.quotaCode);
  // One lookup per quota code: two rows of the model read Lambda's concurrency.
  const lookups = new Map<string, pulumi.Output<number>>();
  const values = checked.map((quota) => {
    const code = `${quota.serviceCode}/${quota.quotaCode}`;
    if (!lookups.has(code)) {
      const args = { serviceCode: quota.serviceCode!, quotaCode: quota.quotaCode!, ...(quota.global ? { region: "us-east-1" } : {}) };
      lookups.set(code, aws.servicequotas.getServiceQuotaOutput(args, opts).value);
    }
    return lookups.get(code)!;
  });
  // One apply over every value: the preview fails once, naming every quota that does not fit.
  return pulumi.all(values).apply((limits) => {
    const uses = checked.map((quota, i) => quotaUse(quota, tenants, limits[i]!, "account"));
    const exceeded = uses.filter((use) => use.exceeded);
    if (exceeded.length) throw new Error(exceeded.map((use) => exceededMessage(use, stack, tenants.length)).join("\n"));
    return Object.fromEntries(uses.map((use) => [use.quota.key, { needs: use.needs, limit: use.limit }]));
  });
}
