/**
 * `npm run failures -- <tenant> [--since 2026-11-23] [--status failed] [--limit 100] [--json]
 * [--stack <name> [--outputs file.json]]`: a tenant's failed objects, newest first, from the table's
 * status index (a query, not a scan).
 */
import type { ItemStatus } from "../runtime/store";
import { MetadataStore } from "../runtime/store";
import { fail, parseSince, resolveTarget, parseCommandLine } from "./targets";
import { errorMessage } from "../local/user-errors";
import { count } from "../local/outcome-line";

const USAGE =
  "usage: npm run failures -- <tenant> [--since <date>] [--status failed|quarantined|done|processing|deleted] [--limit 100] [--json] [--stack <name>]";

const STATUSES: ItemStatus[] = ["failed", "quarantined", "done", "processing", "deleted"];

async function main(): Promise<void> {
  const { values } = parseCommandLine("failures", USAGE, {
    options: {
      tenant: { type: "string" },
      since: { type: "string" },
      status: { type: "string", default: "failed" },
      limit: { type: "string", default: "100" },
      json: { type: "boolean", default: false },
      stack: { type: "string" },
      outputs: { type: "string" },
      "data-dir": { type: "string" },
    },
  });
  if (!values.tenant) fail("failures", USAGE);
  const status = values.status as ItemStatus;
  if (!STATUSES.includes(status)) fail("failures", `--status must be one of ${STATUSES.join(", ")}`);
  const since = parseSince("failures", values.since);
  const target = resolveTarget(values.tenant, { stack: values.stack, outputs: values.outputs, dataDir: values["data-dir"] });
  const items = await new MetadataStore(target.clients.dynamo, target.tenant.table).listByStatus(status, { since, limit: Number(values.limit) });
  if (values.json) {
    console.log(JSON.stringify(items, null, 2));
    return;
  }
  for (const item of items) {
    const error = item.error ? `${item.error.code}${item.error.retryable ? " (retryable, in the dead-letter queue)" : ""}: ${item.error.message}` : "";
    console.log(`${item.updatedAt}  ${item.objectKey}  ${error}`.trimEnd());
  }
  console.log(`${count(items.length, `${status} object`)} of tenant ${values.tenant}${since ? ` since ${since}` : ""}`);
}

main().catch((err) => fail("failures", errorMessage(err)));
