/**
 * `npm run migrate-status-index -- <tenant> [--stack <name> [--outputs file.json]]`: once
 * after deploying the sharded status index, gives the tenant's older items their index key, so
 * `failures` and `reprocess` see them again (ops/status-index.ts). Safe to run again.
 */
import { backfillStatusShards } from "../ops/status-index";
import { fail, resolveTarget, parseCommandLine } from "./targets";
import { errorMessage } from "../local/user-errors";

const USAGE = "usage: npm run migrate-status-index -- <tenant> [--stack <name>]";

async function main(): Promise<void> {
  const { values } = parseCommandLine("migrate-status-index", USAGE, {
    options: { tenant: { type: "string" }, stack: { type: "string" }, outputs: { type: "string" }, "data-dir": { type: "string" } },
  });
  if (!values.tenant) fail("migrate-status-index", USAGE);
  const target = resolveTarget(values.tenant, { stack: values.stack, outputs: values.outputs, dataDir: values["data-dir"] });
  const { updated, changedMeanwhile } = await backfillStatusShards(target.clients.dynamo, target.tenant.table);
  console.log(
    `${updated} items of tenant ${values.tenant} given their status index key${changedMeanwhile ? ` (${changedMeanwhile} rewritten by the pipeline meanwhile)` : ""}`,
  );
}

main().catch((err) => fail("migrate-status-index", errorMessage(err)));
