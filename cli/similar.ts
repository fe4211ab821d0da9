/**
 * `npm run similar -- <tenant> <key> [--distance 12] [--limit 10] [--json] [--stack <name>]`: the
 * near-duplicates of an object, looked up live in the tenant's similarity index (earlier and later
 * objects; the item's own `similar` lists only earlier ones, and is marked).
 */
import { NearDuplicates } from "../runtime/analysis/near-duplicates";
import { MetadataStore } from "../runtime/store";
import { fail, resolveTarget, parseCommandLine } from "./targets";
import { errorMessage } from "../local/user-errors";

const USAGE = "usage: npm run similar -- <tenant> <key> [--distance 0-16] [--limit 10] [--json] [--stack <name> [--outputs file.json]]";

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine("similar", USAGE, {
    allowPositionals: true,
    options: {
      distance: { type: "string", default: "12" },
      limit: { type: "string", default: "10" },
      json: { type: "boolean", default: false },
      stack: { type: "string" },
      outputs: { type: "string" },
      "data-dir": { type: "string" },
    },
  });
  const [tenant, key] = positionals;
  if (!tenant || !key || positionals.length > 2) fail("similar", USAGE);
  const distance = Number(values.distance);
  if (!Number.isInteger(distance) || distance < 0 || distance > 16)
    fail("similar", `--distance must be a whole number from 0 to 16 (bits of 64), not "${values.distance}"`);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) fail("similar", `--limit must be a whole number from 1 to 100, not "${values.limit}"`);
  const target = resolveTarget(tenant, { stack: values.stack, outputs: values.outputs, dataDir: values["data-dir"] });
  const store = new MetadataStore(target.clients.dynamo, target.tenant.table);
  const item = await store.get(key);
  if (!item) fail("similar", `tenant ${tenant} has no object "${key}"`);
  if (!item.phash) fail("similar", `"${key}" has no perceptual hash (${item.status}${item.analysisSkipped ? `: ${item.analysisSkipped}` : ""})`);
  const found = await new NearDuplicates(target.clients.dynamo, store, distance).find(key, item.phash, limit);
  const listed = new Set((item.similar ?? []).map((s) => s.key));
  if (values.json) {
    console.log(JSON.stringify({ key, phash: item.phash, distance, similar: found.map((s) => ({ ...s, listed: listed.has(s.key) })) }, null, 2));
    return;
  }
  for (const s of found) console.log(`${String(s.distance).padStart(2)}  ${s.key}${listed.has(s.key) ? "  (in its similar list)" : ""}`);
  const count = found.length === 1 ? "1 near-duplicate" : `${found.length} near-duplicates`;
  console.log(`${count} of ${key} (phash ${item.phash}) within ${distance} bits in tenant ${tenant}`);
}

main().catch((err) => fail("similar", errorMessage(err)));
