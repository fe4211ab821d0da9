/**
 * A deployed stack keeps its resources across a refactor only if every URN it holds is still
 * produced, or is an alias of a resource that moved (otherwise `pulumi up` replaces tables and
 * buckets). The fixture lists the dev stack's URNs as deployed before the components were split;
 * `UPDATE_URNS=1` rewrites it on purpose, when resources are added or removed for real.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { DEV_TENANTS, dryRun, fakeLayerZip } from "./dry-run";

const FIXTURE = path.join(__dirname, "fixtures", "urns-dev.json");

it("every URN of the dev stack from before is still produced, directly or through an alias", async () => {
  const run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip: await fakeLayerZip() } });
  const current = new Set(run.resources.map((r) => r.urn));
  if (process.env.UPDATE_URNS) writeFileSync(FIXTURE, `${JSON.stringify([...current].sort(), null, 2)}\n`);
  const before = JSON.parse(readFileSync(FIXTURE, "utf8")) as string[];
  const answered = new Set([...current, ...run.resources.flatMap((r) => r.aliasUrns)]);
  expect(before.length).toBeGreaterThan(50);
  expect(before.filter((urn) => !answered.has(urn))).toEqual([]);
  // An alias must not point at a URN some other resource still has (two resources, one state).
  const aliases = run.resources.flatMap((r) => r.aliasUrns);
  expect(aliases.filter((urn) => current.has(urn))).toEqual([]);
});
