/**
 * Cost per tenant: every resource AWS lets us tag carries `stack`, `tenant` (for a tenant's
 * resources) and the stack's own tags from config; no resource whose type has no tags gets any (the
 * provider would refuse the input). Which types take tags is read from @pulumi/aws's own
 * declarations, so the list in components/tags.ts cannot drift from them.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseStackSettings } from "../../contract/stack-settings";
import { DEV_TENANTS, dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";

const STACK_TAGS = { team: "images", "cost-center": "42" };
let run: DryRunResult;

beforeAll(async () => {
  run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip: await fakeLayerZip(), tags: STACK_TAGS } });
});

/** Whether a type's Args (e.g. aws:s3/bucket:Bucket -> @pulumi/aws/s3/bucket.d.ts, BucketArgs) declares `tags`. */
function acceptsTags(type: string): boolean {
  const [, module, file, name] = /^aws:([^/]+)\/([^:]+):(.+)$/.exec(type)!;
  const declarations = path.join("node_modules", "@pulumi", "aws", module!, `${file}.d.ts`);
  expect(existsSync(declarations), declarations).toBe(true);
  const text = readFileSync(declarations, "utf8");
  const args = new RegExp(`export interface ${name}Args \\{([\\s\\S]*?)\\n\\}`).exec(text);
  expect(args, `${name}Args in ${declarations}`).not.toBeNull();
  return /^\s*tags\?:/m.test(args![1]!);
}

describe("tags", () => {
  it("every taggable resource carries stack, tenant and the stack's tags; no other resource has tags", () => {
    const aws = run.resources.filter((r) => r.type.startsWith("aws:"));
    const taggable = aws.filter((r) => acceptsTags(r.type));
    expect(new Set(taggable.map((r) => r.type)).size).toBeGreaterThanOrEqual(10);
    for (const resource of aws) {
      const label = `${resource.type} ${resource.name}`;
      if (!acceptsTags(resource.type)) {
        expect(resource.inputs.tags, label).toBeUndefined();
        continue;
      }
      const tenant = DEV_TENANTS.find((t) => resource.name.startsWith(`tip-dev-${t.name}-`))?.name;
      expect(tenant, `${label} belongs to a tenant`).toBeDefined();
      expect(resource.inputs.tags, label).toEqual({ ...STACK_TAGS, stack: "dev", tenant });
    }
  });

  it("refuses tags AWS would refuse, or that would overwrite the stack's own", () => {
    const settings = (tags: unknown) => parseStackSettings((key) => (key === "tags" ? tags : undefined));
    expect(settings({ team: "images" }).tags).toEqual({ team: "images" });
    expect(() => settings({ "aws:createdBy": "me" })).toThrow(/tenant-image-platform:tags\.aws:createdBy: the aws: prefix is reserved/);
    expect(() => settings({ tenant: "other" })).toThrow(/stack and tenant are set by the stack itself/);
    expect(() => settings({ ["k".repeat(129)]: "v" })).toThrow(/tenant-image-platform:tags/);
    expect(() => settings({ team: "v".repeat(257) })).toThrow(/tenant-image-platform:tags\.team/);
    expect(() => settings(Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, "v"])))).toThrow(/at most 48 tags/);
  });
});
