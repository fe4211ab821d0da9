/**
 * Runs index.ts under Pulumi's unit-test mocks (no CLI, no cloud) and records every resource with
 * its inputs and options, and the stack's outputs.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import type * as Pulumi from "@pulumi/pulumi";
import { vi } from "vitest";
import { ZipFile } from "yazl";
import { finished } from "node:stream/promises";
import { createWriteStream } from "node:fs";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  retainOnDelete?: boolean;
  protect?: boolean;
  parentName?: string;
  /** The resource's URN as the engine derives it: stack, project, the parents' type chain, name. */
  urn: string;
  /** The URNs it answers to from before a move (its `aliases` option, resolved the engine's way). */
  aliasUrns: string[];
}

export interface DryRunResult {
  resources: RecordedResource[];
  outputs: Record<string, any>;
  /** The Service Quotas lookups the program made (serviceCode, quotaCode, region). */
  quotaCalls: Record<string, string>[];
  byType(type: string): RecordedResource[];
  one(type: string, name: string): RecordedResource;
}

const PROJECT = "tenant-image-platform";
export const ACCOUNT = "123456789012";
const REGION = "eu-west-1";

/** A stand-in layer zip: the layer's contents are proven by layer/'s own tests. */
export async function fakeLayerZip(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "layer-"));
  const file = path.join(dir, "exiftool-layer.zip");
  const zip = new ZipFile();
  zip.addBuffer(Buffer.from("#!/bin/sh\n"), "bin/exiftool", { mtime: new Date(0), mode: 0o100755 });
  zip.end();
  const out = createWriteStream(file);
  zip.outputStream.pipe(out);
  await finished(out);
  return file;
}

function physicalName(type: string, name: string, inputs: Record<string, any>): string {
  if (type === "aws:s3/bucket:Bucket") return inputs.bucket ?? `${name}-abcdef1`;
  if (type === "aws:lambda/function:Function") return inputs.name ?? name;
  if (type === "aws:cloudwatch/logGroup:LogGroup") return inputs.name ?? name;
  if (type === "aws:lambda/layerVersion:LayerVersion") return inputs.layerName ?? name;
  return inputs.name ?? `${name}-abcdef1`;
}

function arnOf(type: string, physical: string): string {
  switch (type) {
    case "aws:s3/bucket:Bucket":
      return `arn:aws:s3:::${physical}`;
    case "aws:sqs/queue:Queue":
      return `arn:aws:sqs:${REGION}:${ACCOUNT}:${physical}`;
    case "aws:dynamodb/table:Table":
      return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${physical}`;
    case "aws:lambda/function:Function":
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${physical}`;
    case "aws:lambda/layerVersion:LayerVersion":
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:layer:${physical}:1`;
    case "aws:cloudwatch/logGroup:LogGroup":
      return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${physical}`;
    case "aws:iam/role:Role":
      return `arn:aws:iam::${ACCOUNT}:role/${physical}`;
    case "aws:cloudfront/distribution:Distribution":
      return `arn:aws:cloudfront::${ACCOUNT}:distribution/${physical}`;
    case "aws:cloudfront/keyValueStore:KeyValueStore":
      return `arn:aws:cloudfront::${ACCOUNT}:key-value-store/${physical}`;
    case "aws:cloudfront/function:Function":
      return `arn:aws:cloudfront::${ACCOUNT}:function/${physical}`;
    default:
      return `arn:aws:mock:${REGION}:${ACCOUNT}:${physical}`;
  }
}

async function resolveDeep(value: any, pulumi: typeof Pulumi): Promise<any> {
  // Output's own promise: it rejects when an apply throws (a failed preview), where apply(resolve) would wait forever.
  if (pulumi.Output.isInstance(value)) return resolveDeep(await (value as unknown as { promise(): Promise<unknown> }).promise(), pulumi);
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveDeep(v, pulumi)));
  if (value && typeof value === "object" && value.constructor === Object) {
    return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveDeep(v, pulumi)])));
  }
  return value;
}

export async function dryRun(options: {
  stack: string;
  tenants: unknown;
  settings?: Record<string, unknown>;
  /** What Service Quotas answers, by quota code; unset: 1,000,000 (everything fits). */
  accountQuotas?: Record<string, number>;
}): Promise<DryRunResult> {
  vi.resetModules();
  const pulumi = await import("@pulumi/pulumi");
  const resources: RecordedResource[] = [];
  const quotaCalls: Record<string, string>[] = [];
  const optionsByName = new Map<string, Omit<RecordedResource, "type" | "name" | "inputs">>();
  // Keyed by type and name: a component and its first child may share a name (TenantPipeline and TenantBuckets do).
  const typeChains = new Map<string, string>();
  const chainOf = (resource: { __name?: string; __pulumiType?: string } | undefined) =>
    resource?.__name ? typeChains.get(`${resource.__pulumiType}::${resource.__name}`) : undefined;
  const urnOf = (typeChain: string, name: string) => `urn:pulumi:${options.stack}::${PROJECT}::${typeChain}::${name}`;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const physical = physicalName(args.type, args.name, args.inputs);
        const state: Record<string, any> = { ...args.inputs, arn: arnOf(args.type, physical), name: physical };
        if (args.type === "aws:s3/bucket:Bucket") state.bucket = physical;
        if (args.type === "aws:s3/bucket:Bucket") state.bucketRegionalDomainName = `${physical}.s3.${REGION}.amazonaws.com`;
        if (args.type === "aws:sqs/queue:Queue") state.url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${physical}`;
        if (args.type === "aws:lambda/functionUrl:FunctionUrl") state.functionUrl = `https://${physical}.lambda-url.${REGION}.on.aws/`;
        if (args.type === "aws:cloudfront/distribution:Distribution") state.domainName = `${physical}.cloudfront.net`;
        if (args.type === "random:index/randomBytes:RandomBytes") state.hex = `${physical}`.padEnd(64, "0");
        resources.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          urn: urnOf(args.type, args.name),
          aliasUrns: [],
          ...optionsByName.get(`${args.type}::${args.name}`),
        });
        return { id: `${physical}-id`, state };
      },
      call(args) {
        if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, userId: "mock" };
        if (args.token === "aws:servicequotas/getServiceQuota:getServiceQuota") {
          quotaCalls.push(args.inputs as Record<string, string>);
          return { ...args.inputs, value: options.accountQuotas?.[args.inputs.quotaCode as string] ?? 1_000_000 };
        }
        return args.inputs;
      },
    },
    PROJECT,
    options.stack,
    false,
  );
  const config: Record<string, string> = { "aws:region": REGION, [`${PROJECT}:tenants`]: JSON.stringify(options.tenants) };
  for (const [key, value] of Object.entries(options.settings ?? {})) config[`${PROJECT}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  pulumi.runtime.setAllConfig(config);
  let registered = 0;
  // Mocks see inputs, not options: record retainOnDelete/protect/parent where the SDK registers.
  const sdkResource = createRequire(path.resolve("index.ts"))("@pulumi/pulumi/runtime/resource") as { registerResource: (...args: any[]) => unknown };
  const register = (sdkResource as { __original?: (...args: any[]) => unknown }).__original ?? sdkResource.registerResource;
  Object.assign(sdkResource, {
    __original: register,
    registerResource(res: unknown, parent: { __name?: string; __pulumiType?: string } | undefined, type: string, name: string, ...rest: any[]) {
      const opts = rest[4] as { retainOnDelete?: boolean; protect?: boolean; aliases?: { parent?: { __name?: string; __pulumiType?: string } }[] };
      const parentChain = chainOf(parent);
      const typeChain = parentChain ? `${parentChain}$${type}` : type;
      typeChains.set(`${type}::${name}`, typeChain);
      // Only the alias shape this project uses: same name and type, another parent.
      const aliasUrns = (opts?.aliases ?? []).map((alias) => {
        const aliasParent = chainOf(alias.parent);
        return urnOf(aliasParent ? `${aliasParent}$${type}` : type, name);
      });
      optionsByName.set(`${type}::${name}`, {
        retainOnDelete: opts?.retainOnDelete,
        protect: opts?.protect,
        parentName: parent?.__name,
        urn: urnOf(typeChain, name),
        aliasUrns,
      });
      registered++;
      return register(res, parent, type, name, ...rest);
    },
  });
  const program = await import("../../index.js");
  let outputs: Record<string, any> | undefined;
  let failure: unknown;
  try {
    outputs = await resolveDeep({ tenantOutputs: program.tenantOutputs, exiftoolLayers: program.exiftoolLayers, accountQuotas: program.accountQuotas }, pulumi);
  } catch (err) {
    failure = err; // a failed preview: still let the registrations in flight finish before the next run
  }
  // Let registrations that no output depends on (alarms, policies) finish: the SDK's own wait for
  // outstanding resource RPCs, repeated while applies that ran meanwhile registered more.
  const runtime = pulumi.runtime as unknown as { waitForRPCs(): Promise<void> };
  let seen = -1;
  while (seen !== registered) {
    seen = registered;
    await runtime.waitForRPCs();
    await new Promise((r) => setImmediate(r));
  }
  if (failure) throw failure;
  return {
    resources,
    outputs: outputs!,
    quotaCalls,
    byType: (type) => resources.filter((r) => r.type === type),
    one(type, name) {
      const found = resources.find((r) => r.type === type && r.name === name);
      if (!found)
        throw new Error(
          `no ${type} named ${name}; have: ${resources
            .filter((r) => r.type === type)
            .map((r) => r.name)
            .join(", ")}`,
        );
      return found;
    },
  };
}
