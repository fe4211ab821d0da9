import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PURGE_MAX_RECEIVE_COUNT, PURGE_QUEUE_RETENTION_DAYS, VISIBILITY_TIMEOUT_FACTOR } from "../contract/timing";

export interface PurgeQueueArgs {
  /** Whose purges they are (alarm descriptions). */
  tenantName: string;
  /** The consuming function's timeout: the visibility timeout is six times it (Lambda refuses a mapping below the timeout). */
  functionTimeoutSeconds: number;
  /** SNS topic the alarms notify. Default: none. */
  alarmTopicArn?: pulumi.Input<string>;
  /** Age (seconds) of the oldest owed purge that raises the purges-waiting alarm. Default 3600. */
  waitingAlarmSeconds?: number;
}

/**
 * An on-demand tenant's CloudFront invalidations owed and not yet taken (runtime/on-demand/purge.ts
 * queues them, purge-drain.ts hands them to CloudFront within its limits): the queue, keeping
 * messages 14 days (SQS's maximum), its dead-letter queue after 1,000 receives (SQS's maximum
 * maxReceiveCount), and alarms for purges waiting too long and purges given up.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
 */
export class PurgeQueue extends pulumi.ComponentResource {
  public readonly queue: aws.sqs.Queue;
  public readonly deadLetterQueue: aws.sqs.Queue;
  public readonly alarms: aws.cloudwatch.MetricAlarm[];

  constructor(name: string, args: PurgeQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:PurgeQueue", name, {}, opts);
    const retentionSeconds = PURGE_QUEUE_RETENTION_DAYS * 86_400;
    this.deadLetterQueue = new aws.sqs.Queue(`${name}-purges-dlq`, { messageRetentionSeconds: retentionSeconds, sqsManagedSseEnabled: true }, { parent: this });
    this.queue = new aws.sqs.Queue(
      `${name}-purges`,
      {
        visibilityTimeoutSeconds: args.functionTimeoutSeconds * VISIBILITY_TIMEOUT_FACTOR,
        messageRetentionSeconds: retentionSeconds,
        sqsManagedSseEnabled: true,
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: PURGE_MAX_RECEIVE_COUNT }),
      },
      { parent: this },
    );
    const alarmActions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    const alarm = (suffix: string, description: string, queue: aws.sqs.Queue, metricName: string, threshold: number) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${suffix}`,
        {
          alarmDescription: `${args.tenantName}: ${description}`,
          alarmActions,
          okActions: alarmActions,
          treatMissingData: "notBreaching",
          namespace: "AWS/SQS",
          metricName,
          dimensions: { QueueName: queue.name },
          statistic: "Maximum",
          period: 300,
          evaluationPeriods: 1,
          threshold,
          comparisonOperator: "GreaterThanThreshold",
        },
        { parent: this },
      );
    this.alarms = [
      alarm(
        "purges-waiting",
        "CDN invalidations have waited too long (CloudFront keeps refusing them: see docs/on-demand.md); replaced or deleted photos may still be served",
        this.queue,
        "ApproximateAgeOfOldestMessage",
        args.waitingAlarmSeconds ?? 3_600,
      ),
      alarm(
        "purges-dead-letters",
        "CDN invalidations were given up after 1,000 attempts: invalidate /_variants/* by hand",
        this.deadLetterQueue,
        "ApproximateNumberOfMessagesVisible",
        0,
      ),
    ];
    this.registerOutputs({ queueUrl: this.queue.url, deadLetterQueueUrl: this.deadLetterQueue.url });
  }
}
