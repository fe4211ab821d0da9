import * as pulumi from "@pulumi/pulumi";

/**
 * The resource types of this stack that accept `tags` (their Args in @pulumi/aws declare it;
 * test/infra/tags.test.ts checks this list against those declarations, both ways).
 */
const TAGGABLE_TYPES = new Set([
  "aws:s3/bucket:Bucket",
  "aws:dynamodb/table:Table",
  "aws:sqs/queue:Queue",
  "aws:sns/topic:Topic",
  "aws:iam/role:Role",
  "aws:cloudwatch/logGroup:LogGroup",
  "aws:lambda/function:Function",
  "aws:cloudwatch/metricAlarm:MetricAlarm",
  "aws:lambda/eventSourceMapping:EventSourceMapping",
  "aws:cloudfront/distribution:Distribution",
  "aws:cloudfront/keyValueStore:KeyValueStore",
  "aws:cloudfront/function:Function",
  "aws:budgets/budget:Budget",
  "aws:wafv2/webAcl:WebAcl",
]);

/**
 * Tags every taggable resource below where it is applied (a stack transformation, or a component's
 * `transformations`): what an operator needs to split the bill per tenant and per stack once
 * `tenant` and `stack` are activated as cost allocation tags. Tags a resource sets itself are kept;
 * the ones given here win on the same key, so a resource cannot claim another tenant.
 * https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-alloc-tags.html
 */
export function tagTaggable(tags: Record<string, string>): pulumi.ResourceTransformation {
  return (args) => {
    if (!TAGGABLE_TYPES.has(args.type)) return undefined;
    const own = (args.props.tags ?? {}) as pulumi.Input<Record<string, string>>;
    return { props: { ...args.props, tags: pulumi.output(own).apply((given) => ({ ...given, ...tags })) }, opts: args.opts };
  };
}
