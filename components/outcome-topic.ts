import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface OutcomeTopicArgs {
  /** The tenant's processing function's role: the only principal that may publish. */
  publisherRoleArn: pulumi.Input<string>;
  /**
   * Accounts whose principals may subscribe (their own IAM policies then decide who). Default: the
   * stack's own account.
   */
  subscriberAccountIds?: string[];
}

/**
 * A tenant's outcome events (docs/events.md): one SNS topic, encrypted at rest with SNS's AWS
 * managed key, whose policy lets exactly the tenant's processing function publish (and denies every
 * other principal, whatever its own IAM policy says) and the tenant's account subscribe.
 *
 * The AWS managed key's policy lets every principal of the account use it through SNS, so the
 * publisher needs no KMS permission of its own; a customer managed key would need
 * kms:GenerateDataKey* and kms:Decrypt for the publisher
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
 */
export class OutcomeTopic extends pulumi.ComponentResource {
  public readonly topic: aws.sns.Topic;
  public readonly policy: aws.sns.TopicPolicy;
  public readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: OutcomeTopicArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:OutcomeTopic", name, {}, opts);
    this.topic = new aws.sns.Topic(`${name}-outcomes`, { kmsMasterKeyId: "alias/aws/sns" }, { parent: this });
    const accounts = args.subscriberAccountIds?.length
      ? pulumi.output(args.subscriberAccountIds)
      : aws.getCallerIdentityOutput({}, { parent: this }).accountId.apply((id) => [id]);
    this.policy = new aws.sns.TopicPolicy(
      `${name}-outcomes-access`,
      {
        arn: this.topic.arn,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            { Sid: "ProcessorPublishes", Effect: "Allow", Principal: { AWS: args.publisherRoleArn }, Action: "sns:Publish", Resource: this.topic.arn },
            {
              Sid: "OnlyTheProcessorPublishes",
              Effect: "Deny",
              Principal: "*",
              Action: "sns:Publish",
              Resource: this.topic.arn,
              Condition: { ArnNotEquals: { "aws:PrincipalArn": args.publisherRoleArn } },
            },
            {
              Sid: "TenantAccountSubscribes",
              Effect: "Allow",
              Principal: { AWS: accounts.apply((ids) => ids.map((id) => `arn:aws:iam::${id}:root`)) },
              Action: ["sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"],
              Resource: this.topic.arn,
            },
          ],
        }),
      },
      { parent: this },
    );
    this.topicArn = this.topic.arn;
    this.registerOutputs({ topicArn: this.topicArn });
  }
}
