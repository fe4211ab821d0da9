/**
 * Adding one tenant to a stack touches nothing but that tenant: two dry runs, before and after, and
 * every resource compared by URN and inputs. The one stack-wide resource that lists tenants, the
 * dashboard, changes only on its last page (components/dashboard.ts). The bench runs the same at
 * 1,000 tenants (bench/pulumi-scale.ts); here it is 10 (the eleventh has on-demand renditions), so the suite stays quick.
 */
import { expect, it } from "vitest";
import { scaleTenants } from "../../bench/pulumi-scale";
import { dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";

const byUrn = (run: DryRunResult) => new Map(run.resources.map((r) => [r.urn, JSON.stringify(r.inputs)]));

it("adding an on-demand tenant to 10 creates that tenant's resources and changes no other tenant's", async () => {
  const layerZip = await fakeLayerZip();
  const tenants = scaleTenants(11);
  const newcomer = tenants.at(-1)!.name as string;
  const before = byUrn(await dryRun({ stack: "scale", tenants: tenants.slice(0, 10), settings: { layerZip } }));
  const after = byUrn(await dryRun({ stack: "scale", tenants, settings: { layerZip } }));
  const created = [...after.keys()].filter((urn) => !before.has(urn));
  const removed = [...before.keys()].filter((urn) => !after.has(urn));
  const changed = [...before.keys()].filter((urn) => after.has(urn) && after.get(urn) !== before.get(urn));
  expect(removed).toEqual([]);
  expect(created.length).toBeGreaterThan(20);
  expect(created.filter((urn) => !urn.endsWith(`::tip-scale-${newcomer}`) && !urn.includes(`::tip-scale-${newcomer}-`))).toEqual([]);
  expect(changed.map((urn) => urn.split("::").pop())).toEqual(["tip-scale"]); // the dashboard's (last) page
}, 120_000);
