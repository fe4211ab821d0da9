/**
 * `npm run reprocess -- <tenant> [--stack <name> [--outputs file.json]] [--prefix p/]
 * [--status failed|done|any] [--since <date>] [--rate <objects/s>] [--dry-run] [--force]
 * [--checkpoint file] [--restart] [--source-bucket b --table t --queue-url u --config-hash h]`
 *
 * Sends synthetic S3 events for the tenant's objects into its queue (ops/reprocess.ts says
 * how they can never beat a real event, and why a resent one is harmless). Ctrl-C stops after the
 * batch being sent; the same command then resumes from the checkpoint file.
 */
import path from "node:path";
import { SingleBar } from "cli-progress";
import { MetadataStore } from "../runtime/store";
import {
  CheckpointFile,
  countCandidates,
  runReprocess,
  startOrResume,
  STATUS_SELECTIONS,
  type ReprocessCounts,
  type ReprocessResult,
  type ReprocessSelection,
  type ReprocessTarget,
  type StatusSelection,
} from "../ops/reprocess";
import { fail, parseSince, resolveTarget, ROOT, parseCommandLine } from "./targets";
import { errorMessage } from "../local/user-errors";

const USAGE =
  "usage: npm run reprocess -- <tenant> [--stack <name>] [--prefix p/] [--status failed|done|any] [--since <date>] [--rate <objects/s>] [--dry-run] [--force] [--checkpoint <file>] [--restart]";
const DEFAULT_RATE = 50;
/** The exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
const INTERRUPTED = 130;

function summary(tenant: string, result: ReprocessResult, checkpointFile: string | undefined, dryRun: boolean): string {
  const c: ReprocessCounts = result.checkpoint.counts;
  const verb = dryRun ? "would enqueue" : "enqueued";
  const seconds = result.elapsedMs / 1000;
  const rows: [string, string][] = [
    ["listed", `${c.listed}`],
    [verb, `${c.enqueued}${c.resent ? ` (${c.resent} sent again: the batch in flight when an earlier attempt died)` : ""}`],
    [
      "skipped",
      `${c.skippedCurrent + (c.skippedFailed ?? 0) + c.skippedFolders} (${c.skippedCurrent} already ${c.skippedCurrent === 1 ? "matches" : "match"} the tenant's config, ${c.skippedFailed ?? 0} failed under it for a reason a retry would not change (--status failed --force redoes them), ${c.skippedFolders} ${c.skippedFolders === 1 ? "is a folder marker or platform file" : "are folder markers or platform files"})`,
    ],
    ["this time", `${result.sent} sent in ${seconds.toFixed(1)} s${seconds > 0 ? ` (${(result.sent / seconds).toFixed(1)} objects/s)` : ""}`],
  ];
  if (checkpointFile && !dryRun) rows.push(["checkpoint", path.relative(process.cwd(), checkpointFile) || checkpointFile]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `${dryRun ? "dry run of " : ""}reprocess of tenant ${tenant}, run ${result.checkpoint.runId}: ${result.complete ? "complete" : "interrupted"}`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
  ];
  if (!result.complete) lines.push("  run the same command again to resume where it stopped");
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseCommandLine("reprocess", USAGE, {
    options: {
      tenant: { type: "string" },
      stack: { type: "string" },
      outputs: { type: "string" },
      "data-dir": { type: "string" },
      prefix: { type: "string" },
      status: { type: "string" },
      since: { type: "string" },
      rate: { type: "string", default: String(DEFAULT_RATE) },
      "dry-run": { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      checkpoint: { type: "string" },
      restart: { type: "boolean", default: false },
      // The stack's names, when `pulumi stack output` is not at hand (all four: it is not asked).
      "source-bucket": { type: "string" },
      table: { type: "string" },
      "queue-url": { type: "string" },
      "config-hash": { type: "string" },
    },
  });
  if (!values.tenant) fail("reprocess", USAGE);
  const status = values.status as StatusSelection | undefined;
  if (status !== undefined && !STATUS_SELECTIONS.includes(status)) fail("reprocess", `--status must be one of ${STATUS_SELECTIONS.join(", ")}`);
  const rate = Number(values.rate);
  if (!(rate > 0)) fail("reprocess", `--rate must be a positive number of objects per second, not "${values.rate}"`);
  const selection: ReprocessSelection = { prefix: values.prefix, status, since: parseSince("reprocess", values.since), force: values.force };
  const dryRun = values["dry-run"];

  const resolved = resolveTarget(values.tenant, {
    stack: values.stack,
    outputs: values.outputs,
    dataDir: values["data-dir"],
    names: { sourceBucket: values["source-bucket"], table: values.table, queueUrl: values["queue-url"], configHash: values["config-hash"] },
    needs: ["sourceBucket", "table", "queueUrl", "configHash"],
  });
  const target: ReprocessTarget = {
    s3: resolved.clients.s3,
    sqs: resolved.clients.sqs,
    store: new MetadataStore(resolved.clients.dynamo, resolved.tenant.table),
    sourceBucket: resolved.tenant.sourceBucket,
    queueUrl: resolved.tenant.queueUrl,
    configHash: resolved.tenant.configHash,
  };
  if (!target.configHash) {
    console.error(
      "reprocess: the stack's outputs have no configHash (deployed before reprocess existed): every object is sent, and the function skips those that match",
    );
  }
  const dataDir = values["data-dir"] ?? path.join(ROOT, ".local");
  const file = new CheckpointFile(
    values.checkpoint ?? path.join(dataDir, "reprocess", `${values.stack ? `stack-${values.stack}` : "local"}-${values.tenant}.json`),
  );
  const { checkpoint, resumed } = dryRun ? startOrResume(file, values.tenant, selection, true) : startOrResume(file, values.tenant, selection, values.restart);
  if (resumed) console.error(`reprocess: resuming run ${checkpoint.runId} (${checkpoint.counts.enqueued} enqueued before) from ${file.file}`);

  // Ctrl-C: finish the batch being sent, save the checkpoint, stop. A second Ctrl-C stops at once.
  const stop = new AbortController();
  process.on("SIGINT", () => {
    if (stop.signal.aborted) process.exit(INTERRUPTED);
    stop.abort();
    console.error("\nreprocess: stopping after the batch being sent (Ctrl-C again to stop at once)");
  });

  const total = await countCandidates(target, checkpoint, stop.signal);
  const bar = new SingleBar({
    format: `reprocess ${values.tenant} [{bar}] {percentage}% | {value}/{total} objects | {speed} objects/s | ETA {eta_formatted} | enqueued {enqueued}, skipped {skipped}`,
    noTTYOutput: true,
    notTTYSchedule: 2_000,
    etaBuffer: 50,
  });
  const started = performance.now();
  const payload = (c: ReprocessCounts, handled: number) => ({
    enqueued: c.enqueued,
    skipped: c.skippedCurrent + c.skippedFolders,
    speed: (handled / Math.max(0.001, (performance.now() - started) / 1000)).toFixed(1),
  });
  bar.start(total, 0, payload(checkpoint.counts, 0));
  let result: ReprocessResult;
  try {
    result = await runReprocess(target, checkpoint, file, {
      rate,
      dryRun,
      signal: stop.signal,
      onProgress: ({ counts, handled }) => bar.update(Math.min(handled, total), payload(counts, handled)),
    });
  } finally {
    bar.stop();
  }
  console.log(summary(values.tenant, result, file.file, dryRun));
  if (!result.complete) process.exitCode = INTERRUPTED;
}

if (require.main === module) {
  main().catch((err) => fail("reprocess", `${errorMessage(err)} (a checkpoint, if any, keeps the progress: run the same command again)`));
}
