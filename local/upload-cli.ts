/**
 * `npm run upload -- <tenant> <file...> [--prefix some/folder/]`: uploads to the tenant's source
 * bucket of the running local platform (read from .local/endpoints.json), then follows each object
 * to its final state through the tenant's outcome topic (a subscription of its own, as a tenant's
 * application would: docs/events.md) and prints it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { localClients } from "./platform";
import { uploadObject } from "./upload";
import { subscribeOutcomes } from "./outcome-subscription";
import type { OutcomeDocument } from "../runtime/outcome-events";

const ROOT = path.resolve(__dirname, "..");

const CONTENT_TYPES: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".gif": "image/gif",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".heic": "image/heic",
  ".pdf": "application/pdf",
  ".mp4": "video/mp4",
};
const contentTypeOf = (file: string) => CONTENT_TYPES[path.extname(file).toLowerCase()];

interface Endpoints {
  s3: string;
  dynamodb: string;
  tenants: Record<string, { sourceBucket: string; proxyBucket: string; table: string; eventsTopicArn: string }>;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let prefix = "";
  const prefixAt = args.indexOf("--prefix");
  if (prefixAt >= 0) {
    prefix = args[prefixAt + 1] ?? "";
    args.splice(prefixAt, 2);
  }
  const [tenantName, ...files] = args;
  if (!tenantName || files.length === 0) throw new Error("usage: npm run upload -- <tenant> <file...> [--prefix folder/]");
  let endpoints: Endpoints;
  try {
    endpoints = JSON.parse(readFileSync(path.join(ROOT, ".local/endpoints.json"), "utf8")) as Endpoints;
  } catch {
    throw new Error("the local platform is not running: start it with `npm start` first");
  }
  const tenant = endpoints.tenants[tenantName];
  if (!tenant) throw new Error(`unknown tenant "${tenantName}"; known: ${Object.keys(endpoints.tenants).join(", ")}`);
  const clients = localClients(endpoints.s3, endpoints.dynamodb);
  // Subscribed before the first upload, so that no outcome can be missed.
  const subscription = await subscribeOutcomes(clients, tenant.eventsTopicArn, { name: "upload-cli" });
  try {
    const uploads = await Promise.all(
      files.map(async (file) => {
        const key = `${prefix}${path.basename(file)}`;
        const eTag = await uploadObject(clients.s3, tenant.sourceBucket, key, readFileSync(file), contentTypeOf(file));
        console.log(`uploaded s3://${tenant.sourceBucket}/${key}`);
        return { key, eTag };
      }),
    );
    const waiting = new Map(uploads.map((u) => [u.key, u.eTag]));
    const deadline = Date.now() + 120_000;
    while (waiting.size && Date.now() < deadline) {
      for (const outcome of await subscription.receive(1)) {
        // Another upload of the same key (an earlier run's) says nothing of this one.
        if (waiting.get(outcome.key) !== outcome.eTag && outcome.status !== "failed") continue;
        waiting.delete(outcome.key);
        printOutcome(outcome);
      }
    }
    for (const key of waiting.keys()) console.log(`${key}: not processed yet (is npm start running?)`);
  } finally {
    await subscription.close();
  }
  clients.s3.destroy();
}

function printOutcome(outcome: OutcomeDocument): void {
  const { renditions, ...rest } = outcome;
  console.log(`${outcome.key}: ${outcome.status}`);
  console.log(JSON.stringify(rest, null, 2));
  for (const r of renditions) console.log(`  s3://${r.bucket}/${r.key}  ${r.width}x${r.height} ${r.contentType} ${r.bytes} B`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
