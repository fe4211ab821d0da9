import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../runtime/dependencies";
import { PARTITION_KEY, STATUS_INDEX } from "../runtime/store";
import { ephemeralStorageMb, QUEUE_RETENTION_DAYS, type TenantConfig } from "../runtime/tenant-config";
import { VARIANTS_ROOT } from "../runtime/on-demand/variants";
import { HANDLER, type FunctionArchive } from "./function-code";
import { OnDemandRenditions } from "./on-demand";
import { lambdaRole } from "./lambda-role";
import { TenantBuckets } from "./tenant-buckets";

export interface TenantPipelineArgs {
  /** The tenant's validated settings (runtime/tenant-config.ts); the function receives them as JSON. */
  tenant: TenantConfig;
  /** The function archive for the tenant's architecture (components/function-code.ts), built at program time. */
  code: pulumi.Input<FunctionArchive>;
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

/** Lambda's recommendation: the queue's visibility timeout at least six times the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/**
 * Everything one tenant needs, isolated from every other tenant: buckets, metadata table, queue and
 * dead-letter queue, S3 notification, processing function with its role, log group, event source
 * mapping and alarms.
 */
export class TenantPipeline extends pulumi.ComponentResource {
  public readonly buckets: TenantBuckets;
  public readonly table: aws.dynamodb.Table;
  public readonly queue: aws.sqs.Queue;
  public readonly deadLetterQueue: aws.sqs.Queue;
  public readonly role: aws.iam.Role;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly function: aws.lambda.Function;
  public readonly eventSourceMapping: aws.lambda.EventSourceMapping;
  public readonly alarms: aws.cloudwatch.MetricAlarm[];
  /** Present when the tenant has onDemand.enabled. */
  public readonly onDemand?: OnDemandRenditions;

  public readonly sourceBucketName: pulumi.Output<string>;
  public readonly proxyBucketName: pulumi.Output<string>;
  public readonly tableName: pulumi.Output<string>;
  public readonly functionName: pulumi.Output<string>;
  public readonly queueUrl: pulumi.Output<string>;
  public readonly deadLetterQueueUrl: pulumi.Output<string>;

  constructor(name: string, args: TenantPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:TenantPipeline", name, {}, opts);
    const { tenant } = args;
    const protectData = args.protectData ?? true;
    const fn = tenant.function;
    const code = pulumi.output(args.code).apply((archive) => {
      if (archive.architecture !== fn.architecture) {
        throw new Error(`tenant "${tenant.name}": function archive is built for ${archive.architecture}, the tenant runs ${fn.architecture}`);
      }
      return archive;
    });

    this.buckets = new TenantBuckets(
      name,
      {
        sourceBucketName: tenant.storage.sourceBucketName,
        proxyBucketName: tenant.storage.proxyBucketName,
        sourceVersioning: args.sourceVersioning,
        protectSource: protectData,
        proxyExpirationDays: tenant.storage.proxyExpirationDays,
        ...(tenant.onDemand.enabled ? { generatedExpiration: { prefix: VARIANTS_ROOT, days: tenant.onDemand.maxAgeDays }, cdnReadsProxy: true } : {}),
      },
      { parent: this },
    );
    if (tenant.onDemand.enabled) {
      this.onDemand = new OnDemandRenditions(`${name}-od`, { tenant, buckets: this.buckets, code, signingSecrets: args.signingSecrets }, { parent: this });
    }

    this.table = new aws.dynamodb.Table(
      `${name}-metadata`,
      {
        billingMode: "PAY_PER_REQUEST",
        hashKey: PARTITION_KEY,
        attributes: [
          { name: PARTITION_KEY, type: "S" },
          { name: STATUS_INDEX.hashKey, type: "S" },
          { name: STATUS_INDEX.rangeKey, type: "S" },
        ],
        globalSecondaryIndexes: [
          {
            name: STATUS_INDEX.name,
            hashKey: STATUS_INDEX.hashKey,
            rangeKey: STATUS_INDEX.rangeKey,
            projectionType: "INCLUDE",
            nonKeyAttributes: [...STATUS_INDEX.projected],
          },
        ],
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true },
        ttl: { attributeName: "expiresAt", enabled: true },
        deletionProtectionEnabled: protectData,
      },
      { parent: this, retainOnDelete: protectData },
    );

    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-events-dlq`,
      { messageRetentionSeconds: tenant.queue.dlqRetentionDays * 86_400, sqsManagedSseEnabled: true },
      { parent: this },
    );
    this.queue = new aws.sqs.Queue(
      `${name}-events`,
      {
        visibilityTimeoutSeconds: fn.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR,
        messageRetentionSeconds: QUEUE_RETENTION_DAYS * 86_400,
        sqsManagedSseEnabled: true,
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: tenant.queue.maxReceiveCount }),
      },
      { parent: this },
    );
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const queuePolicy = new aws.sqs.QueuePolicy(
      `${name}-events-from-s3`,
      {
        queueUrl: this.queue.url,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "SourceBucketNotifications",
              Effect: "Allow",
              Principal: { Service: "s3.amazonaws.com" },
              Action: "sqs:SendMessage",
              Resource: this.queue.arn,
              Condition: { ArnEquals: { "aws:SourceArn": this.buckets.source.arn }, StringEquals: { "aws:SourceAccount": account } },
            },
          ],
        }),
      },
      { parent: this },
    );
    new aws.s3.BucketNotification(
      `${name}-source-events`,
      {
        bucket: this.buckets.source.id,
        queues: [{ queueArn: this.queue.arn, events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"] }],
      },
      { parent: this, dependsOn: [queuePolicy, ...this.buckets.sourceReady] },
    );

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-processor-logs`,
      { name: pulumi.interpolate`/aws/lambda/${name}-processor`, retentionInDays: fn.logRetentionDays },
      { parent: this },
    );

    this.role = lambdaRole(`${name}-processor-role`, this);
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-processor-access`,
      {
        role: this.role.id,
        policy: tenantPolicyDocument({
          sourceBucketArn: this.buckets.source.arn,
          proxyBucketArn: this.buckets.proxy.arn,
          tableArn: this.table.arn,
          queueArn: this.queue.arn,
          logGroupArn: this.logGroup.arn,
          distributionArn: this.onDemand?.distributionArn,
          tracing: fn.tracing,
        }),
      },
      { parent: this },
    );

    this.function = new aws.lambda.Function(
      `${name}-processor`,
      {
        name: `${name}-processor`,
        runtime: "nodejs22.x",
        architectures: [fn.architecture],
        handler: HANDLER,
        code: code.apply((archive) => new pulumi.asset.FileArchive(archive.path)),
        sourceCodeHash: code.sha256,
        role: this.role.arn,
        memorySize: fn.memoryMb,
        timeout: fn.timeoutSeconds,
        // Large sources are spooled to /tmp for sharp: room for the biggest allowed object per object in flight.
        ephemeralStorage: { size: ephemeralStorageMb(tenant.limits.maxObjectBytes) },
        layers: [args.layerArn],
        loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
        // Active: Lambda samples invocations and the runtime adds its subsegments (runtime/tracing.ts).
        tracingConfig: { mode: fn.tracing ? "Active" : "PassThrough" },
        environment: {
          variables: {
            [ENV.tenantConfig]: JSON.stringify(tenant),
            [ENV.sourceBucket]: this.buckets.sourceBucketName,
            [ENV.proxyBucket]: this.buckets.proxyBucketName,
            [ENV.tableName]: this.table.name,
            [ENV.maxReceiveCount]: String(tenant.queue.maxReceiveCount),
            [ENV.leaseSeconds]: String(fn.timeoutSeconds + 30),
            // A third of the function's time for exiftool and for any one AWS call, so a hang is
            // cut off with time left to record it.
            [ENV.exiftoolTimeoutMs]: String(Math.max(5_000, Math.floor((fn.timeoutSeconds * 1000) / 3))),
            [ENV.requestTimeoutMs]: String(Math.max(5_000, Math.floor((fn.timeoutSeconds * 1000) / 3))),
            ...(this.onDemand ? { [ENV.distributionId]: this.onDemand.distributionId } : {}),
            NODE_OPTIONS: "--enable-source-maps",
          },
        },
      },
      { parent: this, dependsOn: [rolePolicy, this.logGroup] },
    );

    this.eventSourceMapping = new aws.lambda.EventSourceMapping(
      `${name}-events-to-processor`,
      {
        eventSourceArn: this.queue.arn,
        functionName: this.function.arn,
        batchSize: fn.batchSize,
        maximumBatchingWindowInSeconds: 1,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: fn.maxConcurrency },
      },
      { parent: this },
    );

    const alarmActions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    const alarm = (suffix: string, description: string, props: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions" | "alarmDescription">) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${suffix}`,
        { alarmDescription: `${tenant.name}: ${description}`, alarmActions, okActions: alarmActions, treatMissingData: "notBreaching", ...props },
        { parent: this },
      );
    this.alarms = [
      alarm("dlq-not-empty", "events reached the dead-letter queue (their failures are recorded in the table)", {
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: this.deadLetterQueue.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
      }),
      alarm("function-errors", "the processing function failed invocations", {
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: this.function.name },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
      }),
      alarm("queue-age", "processing is falling behind uploads", {
        namespace: "AWS/SQS",
        metricName: "ApproximateAgeOfOldestMessage",
        dimensions: { QueueName: this.queue.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 2,
        threshold: args.queueAgeAlarmSeconds ?? 900,
        comparisonOperator: "GreaterThanThreshold",
      }),
    ];

    this.sourceBucketName = this.buckets.sourceBucketName;
    this.proxyBucketName = this.buckets.proxyBucketName;
    this.tableName = this.table.name;
    this.functionName = this.function.name;
    this.queueUrl = this.queue.url;
    this.deadLetterQueueUrl = this.deadLetterQueue.url;
    this.registerOutputs({
      sourceBucketName: this.sourceBucketName,
      proxyBucketName: this.proxyBucketName,
      tableName: this.tableName,
      functionName: this.functionName,
      queueUrl: this.queueUrl,
      deadLetterQueueUrl: this.deadLetterQueueUrl,
    });
  }
}

export interface TenantResourceArns {
  sourceBucketArn: pulumi.Input<string>;
  proxyBucketArn: pulumi.Input<string>;
  tableArn: pulumi.Input<string>;
  queueArn: pulumi.Input<string>;
  logGroupArn: pulumi.Input<string>;
  /** The tenant's on-demand distribution: its variants are listed, deleted and invalidated with their source. */
  distributionArn?: pulumi.Input<string>;
  /** function.tracing: the function sends its trace segments to X-Ray. */
  tracing?: boolean;
}

/** X-Ray's write actions, which IAM grants on no narrower resource than "*". */
export const XRAY_WRITE_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/**
 * Exactly what the runtime does, on exactly the tenant's own resources. s3:ListBucket on the source
 * bucket makes a HeadObject of a deleted key answer 404 (recorded as gone) instead of 403.
 */
export function tenantPolicyDocument(arns: TenantResourceArns): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadSourceObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: pulumi.interpolate`${arns.sourceBucketArn}/*` },
      { Sid: "ListSourceBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: arns.sourceBucketArn },
      { Sid: "WriteProxyObjects", Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: pulumi.interpolate`${arns.proxyBucketArn}/*` },
      { Sid: "MetadataItems", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], Resource: arns.tableArn },
      {
        Sid: "ConsumeEvents",
        Effect: "Allow",
        Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
        Resource: arns.queueArn,
      },
      { Sid: "WriteLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: pulumi.interpolate`${arns.logGroupArn}:*` },
      ...(arns.distributionArn
        ? [
            {
              Sid: "ListVariants",
              Effect: "Allow",
              Action: ["s3:ListBucket"],
              Resource: arns.proxyBucketArn,
              Condition: { StringLike: { "s3:prefix": `${VARIANTS_ROOT}*` } },
            },
            { Sid: "InvalidateVariants", Effect: "Allow", Action: ["cloudfront:CreateInvalidation"], Resource: arns.distributionArn },
          ]
        : []),
      ...(arns.tracing ? [{ Sid: "WriteTraces", Effect: "Allow", Action: XRAY_WRITE_ACTIONS, Resource: "*" }] : []),
    ],
  });
}
