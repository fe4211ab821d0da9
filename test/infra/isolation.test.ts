/**
 * Tenant isolation, evaluated rather than eyeballed: each tenant role's policy documents from the
 * dry run, judged by an IAM evaluator, against every tenant's resources.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEV_TENANTS, dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";
import { rekognitionActions, XRAY_WRITE_ACTIONS } from "../../components/processor-function";
import { parseTenant } from "../../contract/tenant-config";
import { evaluate, statementsOf, type PolicyDocument } from "./iam-evaluator";

const names = DEV_TENANTS.map((t) => t.name);
let run: DryRunResult;

beforeAll(async () => {
  run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip: await fakeLayerZip() } });
});

const arns = (tenant: string) => ({
  sourceBucket: `arn:aws:s3:::tip-dev-${tenant}-source-abcdef1`,
  sourceObject: `arn:aws:s3:::tip-dev-${tenant}-source-abcdef1/photos/a.jpg`,
  proxyBucket: `arn:aws:s3:::tip-dev-${tenant}-proxy-abcdef1`,
  proxyObject: `arn:aws:s3:::tip-dev-${tenant}-proxy-abcdef1/thumb/photos/a.jpg.webp`,
  table: `arn:aws:dynamodb:eu-west-1:123456789012:table/tip-dev-${tenant}-metadata-abcdef1`,
  queue: `arn:aws:sqs:eu-west-1:123456789012:tip-dev-${tenant}-events-abcdef1`,
  deadLetterQueue: `arn:aws:sqs:eu-west-1:123456789012:tip-dev-${tenant}-events-dlq-abcdef1`,
  outcomesTopic: `arn:aws:sns:eu-west-1:123456789012:tip-dev-${tenant}-outcomes-abcdef1`,
  logStream: `arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/tip-dev-${tenant}-processor:log-stream:2026/11/23/abc`,
});

/** What the runtime calls (runtime/s3-object.ts, process-object.ts, store.ts; Lambda's poller and logs). */
const tracing = new Set(DEV_TENANTS.filter((t) => (t as { function?: { tracing?: boolean } }).function?.tracing).map((t) => t.name));

/** The Rekognition APIs each tenant asked for (analysis.rekognition), which IAM grants on "*" only. */
const REKOGNITION_APIS = ["rekognition:DetectFaces", "rekognition:DetectLabels", "rekognition:DetectModerationLabels"];
const reviews = new Map(DEV_TENANTS.map((t, i) => [t.name, rekognitionActions(parseTenant(t, i))]));
const UNUSED_REKOGNITION = [
  "rekognition:IndexFaces",
  "rekognition:SearchFacesByImage",
  "rekognition:CompareFaces",
  "rekognition:DetectText",
  "rekognition:CreateCollection",
];

const needed = (tenant: string): [string, string][] => {
  const a = arns(tenant);
  return [
    ...(tracing.has(tenant) ? XRAY_WRITE_ACTIONS.map((action): [string, string] => [action, "*"]) : []),
    ...reviews.get(tenant)!.map((action): [string, string] => [action, "*"]),
    ["s3:GetObject", a.sourceObject],
    ["s3:GetObjectVersion", a.sourceObject],
    ["s3:ListBucket", a.sourceBucket],
    ["s3:PutObject", a.proxyObject],
    ["s3:DeleteObject", a.proxyObject],
    ["dynamodb:GetItem", a.table],
    ["dynamodb:PutItem", a.table],
    ["dynamodb:UpdateItem", a.table],
    ["dynamodb:BatchGetItem", a.table],
    ["sqs:ReceiveMessage", a.queue],
    ["sqs:DeleteMessage", a.queue],
    ["sqs:GetQueueAttributes", a.queue],
    ["sqs:ChangeMessageVisibility", a.queue],
    ["logs:CreateLogStream", a.logStream],
    ["logs:PutLogEvents", a.logStream],
    ["sns:Publish", a.outcomesTopic],
  ];
};

const SNS_ACTIONS = ["sns:Publish", "sns:Subscribe", "sns:SetTopicAttributes", "sns:DeleteTopic", "sns:AddPermission"];

const S3_ACTIONS = [
  "s3:GetObject",
  "s3:GetObjectVersion",
  "s3:PutObject",
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:ListBucket",
  "s3:ListBucketVersions",
  "s3:PutBucketPolicy",
  "s3:DeleteBucket",
  "s3:PutObjectAcl",
  "s3:GetBucketPolicy",
  "s3:PutLifecycleConfiguration",
];
const DYNAMO_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:Query",
  "dynamodb:Scan",
  "dynamodb:BatchGetItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:DeleteTable",
  "dynamodb:UpdateTable",
];
const SQS_ACTIONS = [
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:SendMessage",
  "sqs:GetQueueAttributes",
  "sqs:ChangeMessageVisibility",
  "sqs:PurgeQueue",
  "sqs:DeleteQueue",
  "sqs:SetQueueAttributes",
];

const policyOf = (tenant: string): PolicyDocument => JSON.parse(run.one("aws:iam/rolePolicy:RolePolicy", `tip-dev-${tenant}-processor-access`).inputs.policy);

describe.each(names)("tenant %s's role", (tenant) => {
  it("uses no wildcard action, and no wildcard resource but X-Ray's and Rekognition's (which have no narrower one)", () => {
    for (const s of statementsOf(policyOf(tenant))) {
      for (const action of [s.Action].flat()) expect(action, s.Sid).not.toContain("*");
      for (const resource of [s.Resource].flat()) {
        if (resource === "*")
          expect(
            [s.Action].flat().every((a) => XRAY_WRITE_ACTIONS.includes(a) || REKOGNITION_APIS.includes(a)),
            s.Sid,
          ).toBe(true);
      }
      expect(s.Effect).toBe("Allow");
    }
    // Attached only as the tenant's own inline policy: no managed policies that could widen it.
    expect(run.byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")).toEqual([]);
  });

  it("is allowed everything its runtime needs", () => {
    for (const [action, resource] of needed(tenant)) expect(evaluate([policyOf(tenant)], action, resource), `${action} ${resource}`).toBe("Allowed");
  });

  it("is allowed nothing else on its own resources", () => {
    const a = arns(tenant);
    const required = new Set(needed(tenant).map(([action, resource]) => `${action} ${resource}`));
    const probes: [string, string][] = [
      ...S3_ACTIONS.flatMap((action) => [a.sourceBucket, a.sourceObject, a.proxyBucket, a.proxyObject].map((r): [string, string] => [action, r])),
      ...DYNAMO_ACTIONS.map((action): [string, string] => [action, a.table]),
      ...SQS_ACTIONS.flatMap((action) => [a.queue, a.deadLetterQueue].map((r): [string, string] => [action, r])),
      ...SNS_ACTIONS.map((action): [string, string] => [action, a.outcomesTopic]),
      ...XRAY_WRITE_ACTIONS.map((action): [string, string] => [action, "*"]),
      ["xray:GetTraceSummaries", "*"],
      ...[...REKOGNITION_APIS, ...UNUSED_REKOGNITION].map((action): [string, string] => [action, "*"]),
    ];
    const extra = probes.filter(([action, resource]) => !required.has(`${action} ${resource}`) && evaluate([policyOf(tenant)], action, resource) === "Allowed");
    expect(extra).toEqual([]);
  });

  it.each(names.filter((other) => other !== tenant))("is denied every action on %s's buckets, table, queues and topic", (other) => {
    const a = arns(other);
    const probes: [string, string][] = [
      ...SNS_ACTIONS.map((action): [string, string] => [action, a.outcomesTopic]),
      ...S3_ACTIONS.flatMap((action) => [a.sourceBucket, a.sourceObject, a.proxyBucket, a.proxyObject].map((r): [string, string] => [action, r])),
      ...DYNAMO_ACTIONS.map((action): [string, string] => [action, a.table]),
      ...SQS_ACTIONS.flatMap((action) => [a.queue, a.deadLetterQueue].map((r): [string, string] => [action, r])),
      ["logs:PutLogEvents", a.logStream],
      ["logs:CreateLogStream", a.logStream],
    ];
    for (const [action, resource] of probes) expect(evaluate([policyOf(tenant)], action, resource), `${action} ${resource}`).toBe("ImplicitlyDenied");
  });
});

it("mentions no other tenant's resources in any tenant's policy", () => {
  for (const tenant of names) {
    const text = JSON.stringify(policyOf(tenant));
    for (const other of names.filter((n) => n !== tenant)) expect(text).not.toContain(`tip-dev-${other}-`);
  }
});

it("lets exactly the tenants that asked call Rekognition, and only the APIs they asked for", () => {
  const asking = DEV_TENANTS.filter((t) => reviews.get(t.name)!.length > 0).map((t) => t.name);
  expect(asking.length).toBeGreaterThan(0); // the dev stack shows one, so that this is evaluated
  expect(asking.length).toBeLessThan(names.length);
  for (const tenant of names) {
    const allowed = REKOGNITION_APIS.filter((action) => evaluate([policyOf(tenant)], action, "*") === "Allowed");
    expect(allowed, tenant).toEqual(reviews.get(tenant));
  }
  expect(reviews.get("globex")).toEqual(REKOGNITION_APIS);
});
