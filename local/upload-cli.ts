/**
 * `npm run upload -- <tenant> <file...> [--prefix some/folder/]`: uploads to the tenant's source
 * bucket of the running local platform (read from .local/endpoints.json), then waits for each
 * object's final state and prints it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { localClients } from "./platform";
import { uploadObject } from "./upload";
import { MetadataStore, type ObjectItem } from "../runtime/store";

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
  tenants: Record<string, { sourceBucket: string; proxyBucket: string; table: string }>;
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
  const uploads = await Promise.all(
    files.map(async (file) => {
      const key = `${prefix}${path.basename(file)}`;
      const eTag = await uploadObject(clients.s3, tenant.sourceBucket, key, readFileSync(file), contentTypeOf(file));
      console.log(`uploaded s3://${tenant.sourceBucket}/${key}`);
      return { key, eTag };
    }),
  );
  const store = new MetadataStore(clients.dynamo, tenant.table);
  const deadline = Date.now() + 120_000;
  for (const { key, eTag } of uploads) {
    let item: ObjectItem | undefined;
    while (Date.now() < deadline) {
      item = await store.get(key);
      if (item && item.status !== "processing" && (item.etag === eTag || item.status === "failed")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!item || item.status === "processing") {
      console.log(`${key}: not processed yet (is npm start running?)`);
      continue;
    }
    const { renditions, durationsMs, ...rest } = item;
    console.log(`${key}: ${item.status}`);
    console.log(JSON.stringify(rest, null, 2));
    for (const r of renditions ?? []) console.log(`  s3://${tenant.proxyBucket}/${r.key}  ${r.width}x${r.height} ${r.format} ${r.bytes} B`);
    if (durationsMs) console.log(`  durations (ms): ${JSON.stringify(durationsMs)}`);
  }
  clients.s3.destroy();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
