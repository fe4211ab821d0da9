import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { processorEnvironment } from "../contract/environment";
import { VARIANTS_ROOT } from "../contract/naming";
import { ephemeralStorageMb, type TenantConfig } from "../contract/tenant-config";
import { reviewSettings } from "../contract/tenant-runtime";
import type { FunctionArchive } from "./function-code";
import { lambdaRole } from "./lambda-role";
import { movedFromParent } from "./moved-children";
import { OutcomeTopic } from "./outcome-topic";

export interface ProcessorFunctionArgs {
  /** The tenant's validated settings; the function receives them as JSON. */
  tenant: TenantConfig;
  /** The processor's archive for the tenant's architecture (components/function-code.ts). */
  code: pulumi.Output<FunctionArchive>;
  /** The stack's ExifTool layer (must match the function's architecture). */
  layerArn: pulumi.Input<string>;
  /** What the function reads and writes: its own tenant's, and nothing else. */
  resources: Omit<TenantResourceArns, "logGroupArn" | "outcomesTopicArn" | "tracing"> & {
    sourceBucketName: pulumi.Input<string>;
    proxyBucketName: pulumi.Input<string>;
    tableName: pulumi.Input<string>;
  };
  /** The queue it consumes and the dead-letter queue its failures end in (alarmed). */
  queue: aws.sqs.Queue;
  deadLetterQueue: aws.sqs.Queue;
  /** The tenant's on-demand distribution id, when it has one: the function invalidates variants there. */
  distributionId?: pulumi.Input<string>;
  /** With the distribution: the queue of invalidations owed to it, which the function also drains. */
  purgeQueue?: aws.sqs.Queue;
  /** SNS topic every alarm notifies. Default: none. */
  alarmTopicArn?: pulumi.Input<string>;
  /** Age (seconds) of the oldest queued event that raises the backlog alarm. Default 900. */
  queueAgeAlarmSeconds?: number;
}

/**
 * A tenant's processing function: its least-privilege role, its log group, the function (the
 * stack's ExifTool layer, contract/environment.ts's environment), the SQS event source mapping, and
 * its alarms (dead letters, function errors, queue age).
 */
export class ProcessorFunction extends pulumi.ComponentResource {
  public readonly role: aws.iam.Role;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly function: aws.lambda.Function;
  public readonly eventSourceMapping: aws.lambda.EventSourceMapping;
  /** On-demand tenants: the purge queue's batches, to the same function. */
  public readonly purgeSourceMapping?: aws.lambda.EventSourceMapping;
  public readonly alarms: aws.cloudwatch.MetricAlarm[];
  /** The tenant's outcome events, which only this function may publish. */
  public readonly outcomes: OutcomeTopic;

  constructor(name: string, args: ProcessorFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:ProcessorFunction", name, {}, opts);
    const { tenant, resources } = args;
    const fn = tenant.function;
    const moved = movedFromParent(this, opts);

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-processor-logs`,
      { name: pulumi.interpolate`/aws/lambda/${name}-processor`, retentionInDays: fn.logRetentionDays },
      moved,
    );
    this.role = lambdaRole(`${name}-processor-role`, moved);
    this.outcomes = new OutcomeTopic(name, { publisherRoleArn: this.role.arn, subscriberAccountIds: tenant.events.subscriberAccountIds }, { parent: this });
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-processor-access`,
      {
        role: this.role.id,
        policy: tenantPolicyDocument({
          ...resources,
          logGroupArn: this.logGroup.arn,
          outcomesTopicArn: this.outcomes.topicArn,
          tracing: fn.tracing,
          rekognition: rekognitionActions(tenant),
        }),
      },
      moved,
    );
    this.function = new aws.lambda.Function(
      `${name}-processor`,
      {
        name: `${name}-processor`,
        runtime: "nodejs22.x",
        architectures: [fn.architecture],
        handler: args.code.handler,
        code: args.code.apply((archive) => new pulumi.asset.FileArchive(archive.path)),
        sourceCodeHash: args.code.sha256,
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
          variables: processorEnvironment(tenant, {
            sourceBucket: resources.sourceBucketName,
            proxyBucket: resources.proxyBucketName,
            table: resources.tableName,
            distributionId: args.distributionId,
            purgeQueueUrl: args.purgeQueue?.url,
            eventsTopicArn: this.outcomes.topicArn,
          }),
        },
      },
      { ...moved, dependsOn: [rolePolicy, this.logGroup] },
    );
    if (args.purgeQueue) {
      // Batches of up to 100 owed purges, gathered for up to 30 s (a batch above 10 needs a window
      // of at least 1 s; 10,000 and 300 s are Lambda's maximums), at most 2 at a time (the least
      // maximumConcurrency Lambda takes): few invalidations, each as wide as the moment needs.
      // https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
      this.purgeSourceMapping = new aws.lambda.EventSourceMapping(
        `${name}-purges-to-processor`,
        {
          eventSourceArn: args.purgeQueue.arn,
          functionName: this.function.arn,
          batchSize: 100,
          maximumBatchingWindowInSeconds: 30,
          functionResponseTypes: ["ReportBatchItemFailures"],
          scalingConfig: { maximumConcurrency: 2 },
        },
        { parent: this },
      );
    }
    this.eventSourceMapping = new aws.lambda.EventSourceMapping(
      `${name}-events-to-processor`,
      {
        eventSourceArn: args.queue.arn,
        functionName: this.function.arn,
        batchSize: fn.batchSize,
        maximumBatchingWindowInSeconds: 1,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: fn.maxConcurrency },
      },
      moved,
    );
    this.alarms = this.createAlarms(name, args, moved);
    this.registerOutputs({ functionName: this.function.name, eventsTopicArn: this.outcomes.topicArn });
  }

  private createAlarms(name: string, args: ProcessorFunctionArgs, opts: pulumi.CustomResourceOptions): aws.cloudwatch.MetricAlarm[] {
    const alarmActions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    const alarm = (suffix: string, description: string, props: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions" | "alarmDescription">) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${suffix}`,
        { alarmDescription: `${args.tenant.name}: ${description}`, alarmActions, okActions: alarmActions, treatMissingData: "notBreaching", ...props },
        opts,
      );
    return [
      alarm("dlq-not-empty", "events reached the dead-letter queue (their failures are recorded in the table)", {
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: args.deadLetterQueue.name },
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
        dimensions: { QueueName: args.queue.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 2,
        threshold: args.queueAgeAlarmSeconds ?? 900,
        comparisonOperator: "GreaterThanThreshold",
      }),
    ];
  }
}

interface TenantResourceArns {
  sourceBucketArn: pulumi.Input<string>;
  proxyBucketArn: pulumi.Input<string>;
  tableArn: pulumi.Input<string>;
  queueArn: pulumi.Input<string>;
  logGroupArn: pulumi.Input<string>;
  /** The tenant's outcome topic: the function publishes every final state there. */
  outcomesTopicArn: pulumi.Input<string>;
  /** On-demand tenants: the purge queue, written by the pipeline and drained by the same function. */
  purgeQueueArn?: pulumi.Input<string>;
  /** The tenant's on-demand distribution: its variants are listed, deleted and invalidated with their source. */
  distributionArn?: pulumi.Input<string>;
  /** function.tracing: the function sends its trace segments to X-Ray. */
  tracing?: boolean;
  /** analysis.rekognition: the Rekognition APIs the tenant asked for. */
  rekognition?: string[];
}

/** X-Ray's write actions, which IAM grants on no narrower resource than "*". */
export const XRAY_WRITE_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/**
 * The Rekognition actions of a tenant's `analysis.rekognition`: exactly the APIs it asked for. They
 * have no resource type, so IAM grants them on "*" only
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrekognition.html).
 */
export function rekognitionActions(tenant: Pick<TenantConfig, "analysis">): string[] {
  const review = reviewSettings(tenant.analysis);
  if (!review) return [];
  return [
    ...(review.faces ? ["rekognition:DetectFaces"] : []),
    ...(review.labels ? ["rekognition:DetectLabels"] : []),
    ...(review.moderationMinConfidence !== undefined ? ["rekognition:DetectModerationLabels"] : []),
  ];
}

/**
 * Exactly what the runtime does, on exactly the tenant's own resources. s3:ListBucket on the source
 * bucket makes a HeadObject of a deleted key answer 404 (recorded as gone) instead of 403.
 */
function tenantPolicyDocument(arns: TenantResourceArns): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadSourceObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: pulumi.interpolate`${arns.sourceBucketArn}/*` },
      { Sid: "ListSourceBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: arns.sourceBucketArn },
      { Sid: "WriteProxyObjects", Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: pulumi.interpolate`${arns.proxyBucketArn}/*` },
      {
        Sid: "MetadataItems",
        Effect: "Allow",
        // BatchGetItem: the similarity index's buckets, and the items that confirm them (runtime/analysis/).
        Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
        Resource: arns.tableArn,
      },
      {
        Sid: "ConsumeEvents",
        Effect: "Allow",
        Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
        Resource: arns.queueArn,
      },
      { Sid: "PublishOutcomes", Effect: "Allow", Action: ["sns:Publish"], Resource: arns.outcomesTopicArn },
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
      ...(arns.purgeQueueArn
        ? [
            {
              Sid: "OwedPurges",
              Effect: "Allow",
              Action: ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
              Resource: arns.purgeQueueArn,
            },
          ]
        : []),
      ...(arns.tracing ? [{ Sid: "WriteTraces", Effect: "Allow", Action: XRAY_WRITE_ACTIONS, Resource: "*" }] : []),
      ...(arns.rekognition?.length ? [{ Sid: "ReviewImages", Effect: "Allow", Action: arns.rekognition, Resource: "*" }] : []),
    ],
  });
}
