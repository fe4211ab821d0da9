/**
 * Quotas before AWS says no: what contract/quotas.ts says a tenant takes is what the components
 * create (counted on a dry run), `pulumi preview` fails with the same message as `npm run check`
 * when the account's quota (Service Quotas) is too small, and `npm run check` judges the
 * repository's stacks and a generated 1,000-tenant stack.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { QUOTAS, stackQuotaUse } from "../../contract/quotas";
import { parseTenants } from "../../contract/tenant-config";
import { DEV_TENANTS, dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";

const run = promisify(execFile);
const dev = parseTenants(DEV_TENANTS);
let layerZip: string;
let devRun: DryRunResult;

beforeAll(async () => {
  layerZip = await fakeLayerZip();
  devRun = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip } });
}, 120_000);

/** Resources of each counted kind in the dry run. */
const COUNTED: Partial<Record<(typeof QUOTAS)[number]["key"], string>> = {
  iamRoles: "aws:iam/role:Role",
  s3Buckets: "aws:s3/bucket:Bucket",
  dynamodbTables: "aws:dynamodb/table:Table",
  cloudfrontDistributions: "aws:cloudfront/distribution:Distribution",
  cloudfrontCachePolicies: "aws:cloudfront/cachePolicy:CachePolicy",
  cloudfrontFunctions: "aws:cloudfront/function:Function",
  cloudfrontKeyValueStores: "aws:cloudfront/keyValueStore:KeyValueStore",
  cloudfrontOriginAccessControls: "aws:cloudfront/originAccessControl:OriginAccessControl",
  wafWebAcls: "aws:wafv2/webAcl:WebAcl",
};

describe("what a tenant takes", () => {
  it.each(Object.entries(COUNTED))("%s: as many as the dry run creates", (key, type) => {
    const use = stackQuotaUse(dev).find((u) => u.quota.key === key)!;
    expect(use.needs).toBe(devRun.byType(type).length);
  });

  it("draws every tenant's maxConcurrency, its purge mapping and its reservation from the region's concurrency", () => {
    const mappings = devRun.byType("aws:lambda/eventSourceMapping:EventSourceMapping").reduce((sum, m) => sum + m.inputs.scalingConfig.maximumConcurrency, 0);
    const reserved = devRun.byType("aws:lambda/function:Function").reduce((sum, f) => sum + (f.inputs.reservedConcurrentExecutions ?? 0), 0);
    expect(stackQuotaUse(dev).find((u) => u.quota.key === "lambdaConcurrency")!.needs).toBe(mappings + reserved);
  });
});

describe("at preview, against the account's quotas", () => {
  it("reads every quota Service Quotas has, the global ones in us-east-1", () => {
    const codes = devRun.quotaCalls.map((c) => `${c.serviceCode}/${c.quotaCode}${c.region ? `@${c.region}` : ""}`).sort();
    expect(codes).toEqual(
      [
        "cloudfront/L-24B04930@us-east-1",
        "cloudfront/L-7D134442@us-east-1",
        "dynamodb/L-F98FE922",
        "iam/L-FE177D64@us-east-1",
        "lambda/L-2ACBD22F",
        "lambda/L-B99A9384",

        "s3/L-DC2B2D3D",
      ].sort(),
    );
    expect(devRun.outputs.accountQuotas.dynamodbTables).toEqual({ needs: 3, limit: 1_000_000 });
  });

  it("fails the preview with the quota, the need and the tenants it allows when the account's is too small", async () => {
    await expect(dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip }, accountQuotas: { "L-F98FE922": 2 } })).rejects.toThrow(
      /stack "dev" needs 3 of "DynamoDB tables per region", above the account's 2: it allows 2 tenants like these, the stack has 3/,
    );
  });

  it("does not read quotas when checkAccountQuotas is false", async () => {
    const unchecked = await dryRun({
      stack: "dev",
      tenants: DEV_TENANTS,
      settings: { layerZip, checkAccountQuotas: false },
      accountQuotas: { "L-F98FE922": 2 },
    });
    expect(unchecked.quotaCalls).toEqual([]);
  });
});

describe("npm run check", () => {
  const check = (...args: string[]) =>
    run(process.execPath, ["--import", "tsx", "cli/check.ts", ...args], { encoding: "utf8" }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const generated = (tenants: unknown[], extra: Record<string, unknown> = {}) => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "check-")), "Pulumi.big.yaml");
    writeFileSync(file, stringify({ config: { "aws:region": "eu-west-1", "tenant-image-platform:tenants": tenants, ...extra } }));
    return file;
  };
  const thousand = Array.from({ length: 1_000 }, (_, i) => ({ name: `t${String(i).padStart(4, "0")}`, ...(i < 10 ? { onDemand: { enabled: true } } : {}) }));

  it("passes the repository's own stack, with a row per quota", async () => {
    const result = await check("--stack", "dev");
    expect(result.code, result.stderr).toBe(0);
    for (const quota of QUOTAS) expect(result.stdout).toContain(quota.name);
    expect(result.stdout).toContain('stack "dev"');
  }, 60_000);

  it("fails a 1,000-tenant stack on AWS's defaults, naming each quota and the tenants it allows", async () => {
    const result = await check("--stack", "big", "--config", generated(thousand));
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines.map((l) => /"([^"]+)"/.exec(l.replace(/^check: stack "big"/, ""))?.[1])).toEqual([
      "IAM roles per account",
      "Lambda concurrent executions per region (every tenant's maxConcurrency at once)",
    ]);
    expect(lines[0]).toMatch(/needs 1,010 of "IAM roles per account", above AWS's default 1,000: it allows 990 tenants like these, the stack has 1,000/);
    expect(lines[1]).toMatch(/needs 10,020 .* it allows 99 tenants like these/);
  }, 60_000);

  it("passes the same stack once it states the raised quotas, in the stack's config or as flags", async () => {
    const stated = generated(thousand, { "tenant-image-platform:quotas": { iamRoles: 2_000, lambdaConcurrency: 12_000 } });
    const inConfig = await check("--stack", "big", "--config", stated);
    expect(inConfig.code, inConfig.stderr).toBe(0);
    expect(inConfig.stdout).toMatch(/12,000 \(stated\)/);
    const asFlags = await check("--stack", "big", "--config", generated(thousand), "--quota", "iamRoles=2000", "--quota", "lambdaConcurrency=12000", "--json");
    expect(asFlags.code, asFlags.stderr).toBe(0);
    expect(JSON.parse(asFlags.stdout)).toMatchObject({ tenants: 1_000, exceeded: [] });
  }, 60_000);

  it("says in one line what is wrong with a config, an argument or a missing stack", async () => {
    for (const [args, message] of [
      [["--stack", "nope"], /^check: .*Pulumi\.nope\.yaml/],
      [["--stack", "big", "--config", generated([{ name: "Bad Name" }])], /^check: .*tenant "Bad Name": name: must be 1-32 lower-case/],
      [["--stack", "big", "--config", generated([{ name: "a" }], { "tenant-image-platform:quotas": { iamRole: 5 } })], /^check: .*quotas/],
      [["--stack", "dev", "--quota", "nothing=3"], /^check: --quota nothing=3: the key must be one of/],
      [[], /^check: usage: npm run check -- --stack <name>/],
    ] as const) {
      const result = await check(...args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(result.stderr.trim(), args.join(" ")).toMatch(message);
    }
  }, 60_000);
});
