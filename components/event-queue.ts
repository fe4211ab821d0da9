import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { QUEUE_RETENTION_DAYS, VISIBILITY_TIMEOUT_FACTOR } from "../contract/timing";
import { movedFromParent } from "./moved-children";

export interface EventQueueArgs {
  /** The bucket whose ObjectCreated and ObjectRemoved events the queue receives. */
  sourceBucket: aws.s3.Bucket;
  /** Resources the bucket's notification must wait for (its policy and encryption settings). */
  sourceReady?: pulumi.Resource[];
  /** The consuming function's timeout: the visibility timeout is six times it. */
  functionTimeoutSeconds: number;
  /** Receives before a message goes to the dead-letter queue. */
  maxReceiveCount: number;
  /** How long the dead-letter queue keeps a message. */
  deadLetterRetentionDays: number;
}

/**
 * A source bucket's events on their way to the processing function: the queue with its dead-letter
 * queue (redrive after `maxReceiveCount` receives), the queue policy that admits exactly that
 * bucket of this account, and the bucket's notification.
 */
export class EventQueue extends pulumi.ComponentResource {
  public readonly queue: aws.sqs.Queue;
  public readonly deadLetterQueue: aws.sqs.Queue;

  constructor(name: string, args: EventQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:EventQueue", name, {}, opts);
    const moved = movedFromParent(this, opts);

    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-events-dlq`,
      { messageRetentionSeconds: args.deadLetterRetentionDays * 86_400, sqsManagedSseEnabled: true },
      moved,
    );
    this.queue = new aws.sqs.Queue(
      `${name}-events`,
      {
        visibilityTimeoutSeconds: args.functionTimeoutSeconds * VISIBILITY_TIMEOUT_FACTOR,
        messageRetentionSeconds: QUEUE_RETENTION_DAYS * 86_400,
        sqsManagedSseEnabled: true,
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: args.maxReceiveCount }),
      },
      moved,
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
              Condition: { ArnEquals: { "aws:SourceArn": args.sourceBucket.arn }, StringEquals: { "aws:SourceAccount": account } },
            },
          ],
        }),
      },
      moved,
    );
    new aws.s3.BucketNotification(
      `${name}-source-events`,
      {
        bucket: args.sourceBucket.id,
        queues: [{ queueArn: this.queue.arn, events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"] }],
      },
      { ...moved, dependsOn: [queuePolicy, ...(args.sourceReady ?? [])] },
    );
    this.registerOutputs({ queueUrl: this.queue.url, deadLetterQueueUrl: this.deadLetterQueue.url });
  }
}
