import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { VARIANTS_ROOT } from "../contract/naming";
import type { TenantConfig } from "../contract/tenant-config";
import { EventQueue } from "./event-queue";
import type { FunctionArchive } from "./function-code";
import { MetadataTable } from "./metadata-table";
import { OnDemandRenditions } from "./on-demand";
import { ProcessorFunction } from "./processor-function";
import { PurgeQueue } from "./purge-queue";
import { TenantBuckets } from "./tenant-buckets";

export interface TenantPipelineArgs {
  /** The tenant's validated settings (contract/tenant-config.ts); the functions receive them as JSON. */
  tenant: TenantConfig;
  /** The processor's archive for the tenant's architecture (components/function-code.ts), built at program time. */
  code: pulumi.Input<FunctionArchive>;
  /** The on-demand renderer's archive for the tenant's architecture; required when the tenant has onDemand.enabled. */
  rendererCode?: pulumi.Input<FunctionArchive>;
  /** The stack's ExifTool layer (must match the function's architecture). */
  layerArn: pulumi.Input<string>;
  /** Retain source bucket and table when the tenant leaves the stack; table deletion protection. Default true. */
  protectData?: boolean;
  /** Versioning on the source bucket. Default true. */
  sourceVersioning?: boolean;
  /** SNS topic every alarm notifies. Default: none. */
  alarmTopicArn?: pulumi.Input<string>;
  /** Age (seconds) of the oldest queued event that raises the backlog alarm. Default 900. */
  queueAgeAlarmSeconds?: number;
  /** On-demand signing secrets by key id (stack config secret); generated when unset. */
  signingSecrets?: pulumi.Input<Record<string, string>>;
}

/** The archive, checked against the tenant's architecture before anything is deployed with it. */
function archiveFor(tenant: TenantConfig, code: pulumi.Input<FunctionArchive>): pulumi.Output<FunctionArchive> {
  return pulumi.output(code).apply((archive) => {
    if (archive.architecture !== tenant.function.architecture) {
      throw new Error(
        `tenant "${tenant.name}": ${archive.function} archive is built for ${archive.architecture}, the tenant runs ${tenant.function.architecture}`,
      );
    }
    return archive;
  });
}

/**
 * Everything one tenant needs, isolated from every other tenant: buckets, metadata table, event
 * queue with its dead-letter queue, processing function with its role, logs and alarms, and
 * renditions on demand when the tenant asks for them.
 */
export class TenantPipeline extends pulumi.ComponentResource {
  public readonly buckets: TenantBuckets;
  public readonly metadata: MetadataTable;
  public readonly events: EventQueue;
  public readonly processor: ProcessorFunction;
  /** Present when the tenant has onDemand.enabled. */
  public readonly onDemand?: OnDemandRenditions;
  /** Present when the tenant has onDemand.enabled: CDN invalidations owed. */
  public readonly purges?: PurgeQueue;
  /** Present when the tenant sets `budget`. */
  public readonly budget?: aws.budgets.Budget;

  public readonly sourceBucketName: pulumi.Output<string>;
  public readonly proxyBucketName: pulumi.Output<string>;
  public readonly tableName: pulumi.Output<string>;
  public readonly functionName: pulumi.Output<string>;
  public readonly queue: aws.sqs.Queue;
  public readonly deadLetterQueue: aws.sqs.Queue;
  public readonly queueUrl: pulumi.Output<string>;
  public readonly deadLetterQueueUrl: pulumi.Output<string>;
  /** The tenant's outcome events (docs/events.md). */
  public readonly eventsTopicArn: pulumi.Output<string>;

  constructor(name: string, args: TenantPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:TenantPipeline", name, {}, opts);
    const { tenant } = args;
    const protectData = args.protectData ?? true;
    const onDemand = tenant.onDemand.enabled;

    this.buckets = new TenantBuckets(
      name,
      {
        sourceBucketName: tenant.storage.sourceBucketName,
        proxyBucketName: tenant.storage.proxyBucketName,
        sourceVersioning: args.sourceVersioning,
        protectSource: protectData,
        proxyExpirationDays: tenant.storage.proxyExpirationDays,
        ...(onDemand ? { generatedExpiration: { prefix: VARIANTS_ROOT, days: tenant.onDemand.maxAgeDays }, cdnReadsProxy: true } : {}),
      },
      { parent: this },
    );
    if (onDemand) {
      if (!args.rendererCode) throw new Error(`tenant "${tenant.name}": onDemand.enabled needs the renderer's archive`);
      this.onDemand = new OnDemandRenditions(
        `${name}-od`,
        { tenant, buckets: this.buckets, code: archiveFor(tenant, args.rendererCode), signingSecrets: args.signingSecrets },
        { parent: this },
      );
      this.purges = new PurgeQueue(
        name,
        { tenantName: tenant.name, functionTimeoutSeconds: tenant.function.timeoutSeconds, alarmTopicArn: args.alarmTopicArn },
        { parent: this },
      );
    }
    this.metadata = new MetadataTable(name, { protectData }, { parent: this });
    this.events = new EventQueue(
      name,
      {
        sourceBucket: this.buckets.source,
        sourceReady: this.buckets.sourceReady,
        functionTimeoutSeconds: tenant.function.timeoutSeconds,
        maxReceiveCount: tenant.queue.maxReceiveCount,
        deadLetterRetentionDays: tenant.queue.dlqRetentionDays,
      },
      { parent: this },
    );
    this.processor = new ProcessorFunction(
      name,
      {
        tenant,
        code: archiveFor(tenant, args.code),
        layerArn: args.layerArn,
        resources: {
          sourceBucketArn: this.buckets.source.arn,
          proxyBucketArn: this.buckets.proxy.arn,
          tableArn: this.metadata.table.arn,
          queueArn: this.events.queue.arn,
          purgeQueueArn: this.purges?.queue.arn,
          distributionArn: this.onDemand?.distributionArn,
          sourceBucketName: this.buckets.sourceBucketName,
          proxyBucketName: this.buckets.proxyBucketName,
          tableName: this.metadata.table.name,
        },
        queue: this.events.queue,
        deadLetterQueue: this.events.deadLetterQueue,
        distributionId: this.onDemand?.distributionId,
        purgeQueue: this.purges?.queue,
        alarmTopicArn: args.alarmTopicArn,
        queueAgeAlarmSeconds: args.queueAgeAlarmSeconds,
      },
      { parent: this },
    );

    if (tenant.budget) this.budget = tenantBudget(name, tenant.name, tenant.budget, { parent: this });

    this.sourceBucketName = this.buckets.sourceBucketName;
    this.proxyBucketName = this.buckets.proxyBucketName;
    this.tableName = this.metadata.table.name;
    this.functionName = this.processor.function.name;
    this.queue = this.events.queue;
    this.deadLetterQueue = this.events.deadLetterQueue;
    this.queueUrl = this.events.queue.url;
    this.deadLetterQueueUrl = this.events.deadLetterQueue.url;
    this.eventsTopicArn = this.processor.outcomes.topicArn;
    this.registerOutputs({
      eventsTopicArn: this.eventsTopicArn,
      sourceBucketName: this.sourceBucketName,
      proxyBucketName: this.proxyBucketName,
      tableName: this.tableName,
      functionName: this.functionName,
      queueUrl: this.queueUrl,
      deadLetterQueueUrl: this.deadLetterQueueUrl,
    });
  }
}

/**
 * A monthly cost budget on the tenant's `tenant` tag (the stack tags every taggable resource; the tag
 * must be activated as a cost allocation tag in Billing before it filters anything), with an e-mail
 * notification at each threshold of actual spend. AWS Budgets: the filter is `user:<key>$<value>`;
 * 20,000 budgets an account, the first two free, then $0.02 a day each.
 * https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html
 */
function tenantBudget(name: string, tenantName: string, budget: NonNullable<TenantConfig["budget"]>, opts: pulumi.CustomResourceOptions): aws.budgets.Budget {
  return new aws.budgets.Budget(
    `${name}-budget`,
    {
      name,
      budgetType: "COST",
      timeUnit: "MONTHLY",
      limitAmount: budget.monthlyUsd.toFixed(2),
      limitUnit: "USD",
      costFilters: [{ name: "TagKeyValue", values: [`user:tenant$${tenantName}`] }],
      notifications: budget.thresholdsPercent.map((threshold) => ({
        comparisonOperator: "GREATER_THAN",
        notificationType: "ACTUAL",
        threshold,
        thresholdType: "PERCENTAGE",
        subscriberEmailAddresses: budget.alertEmails,
      })),
    },
    opts,
  );
}
