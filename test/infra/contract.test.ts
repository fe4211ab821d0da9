/**
 * What is deployed and what runs locally cannot drift: the functions' environments and the
 * metadata table, as the Pulumi program declares them (under mocks) and as the local platform makes
 * them, are compared here, from the one contract both are built from (contract/).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ENV, V8_FULL_GROWTH_OLD_SPACE_MB } from "../../contract/environment";
import { tenantResourceNames } from "../../contract/naming";
import { parseTenants } from "../../contract/tenant-config";
import { createTableInput, localProcessorEnvironment, localRendererEnvironment, type LocalTenant } from "../../local/platform";
import { DEV_TENANTS, dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";

const tenants = parseTenants(DEV_TENANTS);
let run: DryRunResult;

beforeAll(async () => {
  run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip: await fakeLayerZip() } });
});

const localTenant = (name: string): LocalTenant => {
  const config = tenants.find((t) => t.name === name)!;
  const names = tenantResourceNames("dev", config);
  return {
    config,
    sourceBucket: names.sourceBucket,
    proxyBucket: names.proxyBucket,
    table: names.table,
    queueUrl: "",
    deadLetterQueueUrl: "",
    eventsTopicArn: `arn:aws:sns:us-east-1:000000000000:${names.outcomesTopic}`,
    purgeQueueUrl: config.onDemand.enabled ? `http://127.0.0.1/000000000000/${names.purgeQueue}` : undefined,
  };
};
/** The old space's ceiling a function's NODE_OPTIONS names (environment.ts functionNodeOptions). */
const oldSpaceCeilingMb = (variables: Record<string, string>) => Number(/--max-old-space-size=(\d+)/.exec(variables[ENV.nodeOptions] ?? "")?.[1]);
const deployedVariables = (name: string) => run.one("aws:lambda/function:Function", name).inputs.environment.variables as Record<string, string>;

describe("the functions' environment", () => {
  it("is the same set of variables, deployed and local, for the processor of every tenant", () => {
    expect(tenants.some((t) => t.onDemand.enabled)).toBe(true);
    for (const tenant of tenants) {
      const deployed = deployedVariables(`tip-dev-${tenant.name}-processor`);
      const local = localProcessorEnvironment(localTenant(tenant.name));
      expect(Object.keys(local).sort(), tenant.name).toEqual(Object.keys(deployed).sort());
      // The values that are not resource names are the same too (the lease aside: set apart locally only when asked).
      for (const name of [
        ENV.tenantConfig,
        ENV.maxReceiveCount,
        ENV.leaseSeconds,
        ENV.exiftoolTimeoutMs,
        ENV.requestTimeoutMs,
        ENV.nodeOptions,
        ENV.purgeRetryMaxSeconds,
        ENV.purgeDelaySeconds,
      ]) {
        expect(local[name], `${tenant.name} ${name}`).toBe(deployed[name]);
      }
      expect(oldSpaceCeilingMb(deployed), tenant.name).toBeGreaterThanOrEqual(V8_FULL_GROWTH_OLD_SPACE_MB);
    }
  });

  it("is the same set of variables, deployed and local, for the on-demand renderer", () => {
    for (const tenant of tenants.filter((t) => t.onDemand.enabled)) {
      const deployed = deployedVariables(`tip-dev-${tenant.name}-od-renderer`);
      const local = localRendererEnvironment(localTenant(tenant.name));
      expect(Object.keys(local).sort()).toEqual(Object.keys(deployed).sort());
      expect(local[ENV.tenantConfig]).toBe(deployed[ENV.tenantConfig]);
      // The old space's ceiling is named (V8's full growth: environment.ts functionNodeOptions), and so is it locally.
      expect(deployed[ENV.nodeOptions]).toBe(local[ENV.nodeOptions]);
      expect(oldSpaceCeilingMb(deployed)).toBeGreaterThanOrEqual(V8_FULL_GROWTH_OLD_SPACE_MB);
    }
  });
});

describe("the metadata table", () => {
  it("has the same keys, attributes and indexes deployed and local", () => {
    for (const tenant of tenants) {
      const deployed = run.one("aws:dynamodb/table:Table", `tip-dev-${tenant.name}-metadata`).inputs;
      const local = createTableInput(localTenant(tenant.name).table);
      expect(local.BillingMode).toBe(deployed.billingMode);
      expect(local.KeySchema).toEqual([{ AttributeName: deployed.hashKey, KeyType: "HASH" }]);
      expect(local.AttributeDefinitions!.map((a) => ({ name: a.AttributeName, type: a.AttributeType }))).toEqual(deployed.attributes);
      const localIndexes = local.GlobalSecondaryIndexes!.map((i) => ({
        name: i.IndexName,
        hashKey: i.KeySchema!.find((k) => k.KeyType === "HASH")!.AttributeName,
        rangeKey: i.KeySchema!.find((k) => k.KeyType === "RANGE")?.AttributeName,
        projectionType: i.Projection!.ProjectionType,
        nonKeyAttributes: i.Projection!.NonKeyAttributes,
      }));
      expect(localIndexes).toEqual(deployed.globalSecondaryIndexes);
    }
  });
});
