/**
 * Each tenant's outcome topic under Pulumi's mocks (components/outcome-topic.ts): encrypted, and a
 * policy that lets exactly the tenant's own processing function publish (everyone else denied,
 * whatever their IAM policies say) and the tenant's account subscribe.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../contract/environment";
import { ACCOUNT, DEV_TENANTS, dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";

let run: DryRunResult;
const names = DEV_TENANTS.map((t) => t.name);

beforeAll(async () => {
  run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip: await fakeLayerZip() } });
});

interface TopicStatement {
  Sid: string;
  Effect: string;
  Principal: unknown;
  Action: string | string[];
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}

const topicArn = (tenant: string) => `arn:aws:sns:eu-west-1:${ACCOUNT}:tip-dev-${tenant}-outcomes-abcdef1`;
const roleArn = (tenant: string) => `arn:aws:iam::${ACCOUNT}:role/tip-dev-${tenant}-processor-role-abcdef1`;
const statementsOf = (tenant: string): TopicStatement[] =>
  JSON.parse(run.one("aws:sns/topicPolicy:TopicPolicy", `tip-dev-${tenant}-outcomes-access`).inputs.policy).Statement;

describe.each(names)("tenant %s's outcome topic", (tenant) => {
  it("is encrypted with SNS's managed key and given to the processor as EVENTS_TOPIC_ARN", () => {
    const topic = run.one("aws:sns/topic:Topic", `tip-dev-${tenant}-outcomes`);
    expect(topic.inputs.kmsMasterKeyId).toBe("alias/aws/sns");
    const variables = run.one("aws:lambda/function:Function", `tip-dev-${tenant}-processor`).inputs.environment.variables;
    expect(variables[ENV.eventsTopicArn]).toBe(topicArn(tenant));
    expect(run.one("aws:sns/topicPolicy:TopicPolicy", `tip-dev-${tenant}-outcomes-access`).inputs.arn).toBe(topicArn(tenant));
  });

  it("lets only the tenant's processor publish, and its account subscribe", () => {
    const statements = statementsOf(tenant);
    expect(statements.every((s) => s.Resource === topicArn(tenant))).toBe(true);
    const allowPublish = statements.filter((s) => s.Effect === "Allow" && [s.Action].flat().includes("sns:Publish"));
    expect(allowPublish.map((s) => s.Principal)).toEqual([{ AWS: roleArn(tenant) }]);
    const deny = statements.find((s) => s.Effect === "Deny")!;
    expect(deny).toMatchObject({ Principal: "*", Action: "sns:Publish", Condition: { ArnNotEquals: { "aws:PrincipalArn": roleArn(tenant) } } });
    // Every other tenant's processor falls under the Deny: its role is not the one excepted.
    for (const other of names.filter((n) => n !== tenant)) expect(deny.Condition!.ArnNotEquals!["aws:PrincipalArn"]).not.toBe(roleArn(other));
    const subscribe = statements.find((s) => [s.Action].flat().includes("sns:Subscribe"))!;
    expect(subscribe).toMatchObject({ Effect: "Allow", Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:root`] } });
    expect([subscribe.Action].flat()).not.toContain("sns:Publish");
  });
});

it("lists the topic among the stack's outputs for every tenant", () => {
  const outputs = run.outputs.tenantOutputs as Record<string, { eventsTopicArn: string }>;
  for (const tenant of names) expect(outputs[tenant]!.eventsTopicArn).toBe(topicArn(tenant));
});
