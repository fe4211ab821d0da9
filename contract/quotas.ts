/**
 * The AWS quotas a stack draws on, what each tenant takes of them, and what fits. Read by
 * `npm run check` (cli/check.ts: against the defaults, or the raised values the stack states under
 * `quotas:`) and by the Pulumi program (index.ts: against the account's actual values, read through
 * Service Quotas where a quota has a code). What a tenant takes is counted from the resources the
 * components create; test/infra/quotas.test.ts holds the two together on a dry run.
 *
 * Defaults as AWS documents them (2026):
 * - IAM: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (roles 1,000)
 * - S3: https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html (10,000 general purpose buckets)
 * - DynamoDB: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html (2,500 tables a region)
 * - Lambda: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (1,000 concurrent executions a
 *   region; 75 GB of function and layer storage; a reservation must leave 100 unreserved)
 * - CloudFront: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
 *   (500 distributions, 20 custom cache policies, 100 functions, 50 key value stores, 100 origin access controls)
 * - AWS WAF: https://docs.aws.amazon.com/waf/latest/developerguide/limits.html (100 web ACLs)
 * SQS queues, CloudWatch alarms and log groups, and AWS Budgets (20,000) have no quota a stack of this size reaches.
 */
import type { TenantConfig } from "./tenant-config";

export type QuotaKey =
  | "iamRoles"
  | "s3Buckets"
  | "dynamodbTables"
  | "lambdaConcurrency"
  | "lambdaUnreservedConcurrency"
  | "lambdaStorageMb"
  | "cloudfrontDistributions"
  | "cloudfrontCachePolicies"
  | "cloudfrontFunctions"
  | "cloudfrontKeyValueStores"
  | "cloudfrontOriginAccessControls"
  | "wafWebAcls";

export interface Quota {
  key: QuotaKey;
  name: string;
  /** Service Quotas' codes, where the quota is in Service Quotas (read at deploy time). */
  serviceCode?: string;
  quotaCode?: string;
  /** CloudFront's quotas are global: Service Quotas answers for them in us-east-1. */
  global?: boolean;
  defaultValue: number;
  adjustable: boolean;
  /** What one tenant takes. */
  perTenant(tenant: TenantConfig): number;
  /** What the stack takes besides its tenants. */
  perStack?: number;
  /** What to do when it does not fit. */
  remedy: string;
}

/** Zipped archives as built (docs/benchmarks.md): rounded up, so the estimate errs on the safe side. */
const PROCESSOR_ARCHIVE_MB = 11;
const RENDERER_ARCHIVE_MB = 11;
const LAYER_MB = 30;
/** The purge queue's event source mapping (components/processor-function.ts): Lambda's least maximum concurrency. */
const PURGE_MAPPING_CONCURRENCY = 2;

const onDemand = (t: TenantConfig) => (t.onDemand.enabled ? 1 : 0);

export const QUOTAS: readonly Quota[] = [
  {
    key: "iamRoles",
    name: "IAM roles per account",
    serviceCode: "iam",
    quotaCode: "L-FE177D64",
    global: true,
    defaultValue: 1_000,
    adjustable: true,
    perTenant: (t) => 1 + onDemand(t),
    remedy: "request up to 5,000 roles (Service Quotas, IAM)",
  },
  {
    key: "s3Buckets",
    name: "S3 general purpose buckets per account",
    serviceCode: "s3",
    quotaCode: "L-DC2B2D3D",
    defaultValue: 10_000,
    adjustable: true,
    perTenant: () => 2,
    remedy: "request more buckets (Service Quotas, S3)",
  },
  {
    key: "dynamodbTables",
    name: "DynamoDB tables per region",
    serviceCode: "dynamodb",
    quotaCode: "L-F98FE922",
    defaultValue: 2_500,
    adjustable: true,
    perTenant: () => 1,
    remedy: "request up to 10,000 tables (Service Quotas, DynamoDB)",
  },
  {
    key: "lambdaConcurrency",
    name: "Lambda concurrent executions per region (every tenant's maxConcurrency at once)",
    serviceCode: "lambda",
    quotaCode: "L-B99A9384",
    defaultValue: 1_000,
    adjustable: true,
    perTenant: (t) => t.function.maxConcurrency + onDemand(t) * (PURGE_MAPPING_CONCURRENCY + (t.onDemand.reservedConcurrency ?? 0)),
    remedy: "request more concurrency (Service Quotas, Lambda), or lower function.maxConcurrency: beyond it, tenants throttle each other at peak",
  },
  {
    key: "lambdaUnreservedConcurrency",
    name: "Lambda concurrency reserved (onDemand.reservedConcurrency), leaving 100 unreserved",
    serviceCode: "lambda",
    quotaCode: "L-B99A9384",
    defaultValue: 1_000,
    adjustable: true,
    perTenant: (t) => onDemand(t) * (t.onDemand.reservedConcurrency ?? 0),
    perStack: 100,
    remedy: "request more concurrency, or reserve less: PutFunctionConcurrency refuses a reservation that leaves fewer than 100 unreserved",
  },
  {
    key: "lambdaStorageMb",
    name: "Lambda function and layer storage per region (MB, estimated)",
    serviceCode: "lambda",
    quotaCode: "L-2ACBD22F",
    defaultValue: 75 * 1024,
    adjustable: true,
    perTenant: (t) => PROCESSOR_ARCHIVE_MB + onDemand(t) * RENDERER_ARCHIVE_MB,
    perStack: LAYER_MB,
    remedy: "request more storage (Service Quotas, Lambda)",
  },
  {
    key: "cloudfrontDistributions",
    name: "CloudFront distributions per account",
    serviceCode: "cloudfront",
    quotaCode: "L-24B04930",
    global: true,
    defaultValue: 500,
    adjustable: true,
    perTenant: onDemand,
    remedy: "request more distributions (Service Quotas, CloudFront)",
  },
  {
    key: "cloudfrontCachePolicies",
    name: "CloudFront custom cache policies per account",
    serviceCode: "cloudfront",
    quotaCode: "L-7D134442",
    global: true,
    defaultValue: 20,
    adjustable: true,
    perTenant: onDemand,
    remedy: "request more cache policies (Service Quotas, CloudFront)",
  },
  {
    key: "cloudfrontFunctions",
    name: "CloudFront Functions per account",
    defaultValue: 100,
    adjustable: true,
    perTenant: onDemand,
    remedy: "ask AWS Support for more CloudFront Functions",
  },
  {
    key: "cloudfrontKeyValueStores",
    name: "CloudFront key value stores per account",
    defaultValue: 50,
    adjustable: true,
    perTenant: onDemand,
    remedy: "ask AWS Support for more key value stores",
  },
  {
    key: "cloudfrontOriginAccessControls",
    name: "CloudFront origin access controls per account",
    defaultValue: 100,
    adjustable: true,
    perTenant: (t) => 2 * onDemand(t),
    remedy: "ask AWS Support for more origin access controls",
  },
  {
    key: "wafWebAcls",
    name: "AWS WAF web ACLs per account (CloudFront, us-east-1)",
    defaultValue: 100,
    adjustable: true,
    perTenant: (t) => (t.onDemand.enabled && t.onDemand.rateLimit ? 1 : 0),
    remedy: "request more web ACLs (Service Quotas, WAF)",
  },
];

export interface QuotaUse {
  quota: Quota;
  /** What the stack needs. */
  needs: number;
  /** The value it is checked against: the default, the value the stack states, or the account's. */
  limit: number;
  limitSource: "default" | "stated" | "account";
  /** How many tenants like this stack's (their average use) the limit allows. */
  tenantsThatFit: number;
  exceeded: boolean;
}

export function quotaUse(quota: Quota, tenants: readonly TenantConfig[], limit: number, limitSource: QuotaUse["limitSource"]): QuotaUse {
  const perStack = quota.perStack ?? 0;
  const byTenants = tenants.reduce((sum, t) => sum + quota.perTenant(t), 0);
  const needs = perStack + byTenants;
  const average = tenants.length ? byTenants / tenants.length : 0;
  const tenantsThatFit = average > 0 ? Math.max(0, Math.floor((limit - perStack) / average)) : Number.POSITIVE_INFINITY;
  return { quota, needs, limit, limitSource, tenantsThatFit, exceeded: needs > limit };
}

/** Every quota against the defaults, or the values the stack states (`quotas:`), for the stack's tenants. */
export function stackQuotaUse(tenants: readonly TenantConfig[], stated: Partial<Record<QuotaKey, number>> = {}): QuotaUse[] {
  return QUOTAS.map((quota) => {
    const value = stated[quota.key];
    return value === undefined ? quotaUse(quota, tenants, quota.defaultValue, "default") : quotaUse(quota, tenants, value, "stated");
  });
}

/** The one line that says what does not fit, the same from `npm run check` and from `pulumi preview`. */
export function exceededMessage(use: QuotaUse, stack: string, tenants: number): string {
  const where = use.limitSource === "account" ? "the account's" : use.limitSource === "stated" ? "the stated" : "AWS's default";
  return (
    `stack "${stack}" needs ${use.needs.toLocaleString("en-US")} of "${use.quota.name}", above ${where} ${use.limit.toLocaleString("en-US")}: ` +
    `it allows ${use.tenantsThatFit.toLocaleString("en-US")} tenants like these, the stack has ${tenants.toLocaleString("en-US")}. ` +
    `${use.quota.remedy[0]!.toUpperCase()}${use.quota.remedy.slice(1)}, then state it under "quotas: ${use.quota.key}".`
  );
}
