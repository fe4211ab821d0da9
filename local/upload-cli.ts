/**
 * `npm run upload -- <tenant> <file or folder...> [--prefix some/folder/] [--json] [--data-dir d]`:
 * uploads to the tenant's source bucket of the running local platform (read from
 * .local/endpoints.json, or --data-dir's), then follows each object to its final state through the
 * tenant's outcome topic (a subscription of its own, as a tenant's application would:
 * docs/events.md) and prints it. Exit codes in USAGE.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { localClients } from "./platform";
import { uploadObject } from "./upload";
import { subscribeOutcomes } from "./outcome-subscription";
import type { OutcomeDocument } from "../runtime/outcome-events";
import { errorMessage } from "./user-errors";
import { count } from "./outcome-line";
import { mapLimit } from "../runtime/concurrency";
import { parseCommandLine } from "../cli/targets";

const USAGE = `usage: npm run upload -- <tenant> <file or folder...> [--prefix some/folder/] [--json] [--data-dir .local]

Uploads each file to the tenant's source bucket of the local platform (npm start), then waits for
each object's final state and prints one line per object.

  <file>          uploaded as <prefix><file name>
  <folder>        every file below it, recursively, as <prefix><path relative to the folder>
  --prefix p/     a key prefix (a "folder" in the bucket)
  --json          print each outcome's whole document (docs/events.md) instead of one line
  --data-dir d    where the running platform wrote endpoints.json (default: .local/ of the checkout)
  --help          this text

Exit codes: 0 every object done (or quarantined), 1 some object failed, 2 a usage error or the
local platform not running, 3 some object not processed within 2 minutes.`;

/**
 * A user's mistake, exit code 2: a malformed command line is printed with the usage; a file, tenant
 * or platform that is not there (`withUsage` false) is its one line.
 */
class UsageError extends Error {
  constructor(
    message: string,
    readonly withUsage = true,
  ) {
    super(message);
  }
}

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

/** The files to upload and their keys: a file by its name, a folder's files by their path below it. */
export function filesToUpload(paths: string[], prefix: string): { file: string; key: string }[] {
  const found: { file: string; key: string }[] = [];
  const walk = (folder: string, root: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full, root);
      else if (entry.isFile()) found.push({ file: full, key: `${prefix}${path.relative(root, full).split(path.sep).join("/")}` });
    }
  };
  for (const given of paths) {
    let stats;
    try {
      stats = statSync(given);
    } catch {
      throw new UsageError(`no such file or folder: ${given}`, false);
    }
    if (stats.isDirectory()) walk(given, given);
    else found.push({ file: given, key: `${prefix}${path.basename(given)}` });
  }
  return found;
}

/** The command line, parsed as every operator command parses its own (cli/targets.ts): `--prefix=p/` and `--prefix p/` alike. */
function parseUploadCommand(): { tenantName: string; paths: string[]; prefix: string; json: boolean; dataDir: string } {
  const { values, positionals } = parseCommandLine("upload", USAGE, {
    options: { prefix: { type: "string" }, json: { type: "boolean" }, "data-dir": { type: "string" } },
    allowPositionals: true,
  });
  const [tenantName, ...paths] = positionals;
  if (!tenantName || paths.length === 0) throw new UsageError("name a tenant and at least one file or folder");
  return { tenantName, paths, prefix: values.prefix ?? "", json: values.json ?? false, dataDir: values["data-dir"] ?? path.join(ROOT, ".local") };
}

/** One line: what became of the object. */
function outcomeLine(outcome: OutcomeDocument): string {
  const mark = { done: "✓", failed: "✗", quarantined: "⊘", deleted: "−" }[outcome.status];
  const parts = [`${mark} ${outcome.key}: ${outcome.status}`];
  if (outcome.status === "done")
    parts.push(
      `${count(outcome.renditions.length, "rendition")}${outcome.renditions.length ? ` (${outcome.renditions.map((r) => `${r.name} ${r.width}x${r.height}`).join(", ")})` : ""}`,
    );
  if (outcome.frames) parts.push(`${outcome.frames} frames, ${outcome.durationMs} ms`);
  if (outcome.error) parts.push(`${outcome.error.code}: ${outcome.error.message}`);
  if (outcome.renditionsSkipped) parts.push(outcome.renditionsSkipped);
  return parts.join(" — ");
}

async function main(): Promise<number> {
  const { tenantName, paths, prefix, json, dataDir } = parseUploadCommand();
  const files = filesToUpload(paths, prefix);
  if (files.length === 0) throw new UsageError(`no files in ${paths.join(", ")}`, false);
  let endpoints: Endpoints;
  try {
    endpoints = JSON.parse(readFileSync(path.join(dataDir, "endpoints.json"), "utf8")) as Endpoints;
  } catch {
    const file = path.relative(process.cwd(), path.join(dataDir, "endpoints.json"));
    throw new UsageError(`the local platform is not running (no ${file}): start it with \`npm start\` first`, false);
  }
  const tenant = endpoints.tenants[tenantName];
  if (!tenant) throw new UsageError(`unknown tenant "${tenantName}"; known: ${Object.keys(endpoints.tenants).join(", ")}`, false);
  const clients = localClients(endpoints.s3, endpoints.dynamodb);
  // Subscribed before the first upload, so that no outcome can be missed.
  const subscription = await subscribeOutcomes(clients, tenant.eventsTopicArn, { name: "upload-cli" });
  // Ctrl-C while waiting: the subscription goes too (uploads already made are processed all the same).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => void subscription.close().finally(() => process.exit(130)));
  }
  let failed = 0;
  let waitingAfter: number;
  try {
    // Four at a time: a folder of thousands is not read into memory at once.
    const uploads: { key: string; eTag: string }[] = [];
    await mapLimit(files, 4, async ({ file, key }) => {
      const eTag = await uploadObject(clients.s3, tenant.sourceBucket, key, readFileSync(file), contentTypeOf(file));
      if (!json) console.log(`uploaded s3://${tenant.sourceBucket}/${key}`);
      uploads.push({ key, eTag });
    });
    const waiting = new Map(uploads.map((u) => [u.key, u.eTag]));
    const deadline = Date.now() + 120_000;
    while (waiting.size && Date.now() < deadline) {
      for (const outcome of await subscription.receive(1)) {
        // Not ours, or another upload of the same key (an earlier run's): it says nothing of this one.
        if (!waiting.has(outcome.key) || (waiting.get(outcome.key) !== outcome.eTag && outcome.status !== "failed")) continue;
        waiting.delete(outcome.key);
        if (outcome.status === "failed") failed++;
        console.log(json ? JSON.stringify(outcome) : outcomeLine(outcome));
      }
    }
    for (const key of waiting.keys()) console.error(`${key}: not processed within 2 minutes (is npm start still running?)`);
    waitingAfter = waiting.size;
  } finally {
    await subscription.close();
  }
  clients.s3.destroy();
  return failed ? 1 : waitingAfter ? 3 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`upload: ${errorMessage(err, { stacks: false })}${err instanceof UsageError && err.withUsage ? `\n\n${USAGE}` : ""}`);
      process.exit(2);
    },
  );
}
