/**
 * Reprocess and backfill: synthetic S3 events for a tenant's objects, sent to its queue (never to the
 * function), so retries, the dead-letter queue and per-key ordering work as for uploads.
 *
 * - Candidates: the source bucket's listing (a backfill, or after a config change), or with a status
 *   the table's items of that status (through the status index).
 * - Each synthetic event carries the sequencer of the key's item as read just before sending (zeros
 *   when there is none). The function redoes the item only while it still has that sequencer, so a
 *   real event of the key, always newer, wins whatever the order; and only once per run, so a
 *   message sent twice is harmless.
 * - Items whose outputs already match the tenant's output config are skipped (unless forced).
 * - Progress is kept in a checkpoint file, written (atomically) before and after every batch sent:
 *   an interrupted run resumes after the last batch that was sent; the batch in flight when a
 *   process died is sent again, and only that one (the run id makes it harmless).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { REPROCESS_EVENT_NAME, s3Notification, SEQUENCER_WIDTH, type ReprocessMark } from "../runtime/events";
import { isFolderMarker, isPlatformKey } from "../runtime/keys";
import { matchesConfig, statusIndexKey, type ItemStatus, type MetadataStore, type ObjectItem, type StatusIndexKey } from "../runtime/store";

export const STATUS_SELECTIONS = ["failed", "done", "any"] as const;
export type StatusSelection = (typeof STATUS_SELECTIONS)[number];

/** What a run reprocesses; a resumed run must be asked for the same. */
export interface ReprocessSelection {
  /** Only keys under this prefix (bucket listing) or starting with it (table). */
  prefix?: string;
  /** Items of this status, from the table; unset: every object in the source bucket. */
  status?: StatusSelection;
  /** Only objects modified (bucket) or items updated (table) at or after this ISO time. */
  since?: string;
  /** Redo items even when their outputs match the config. `--status failed` always redoes them. */
  force: boolean;
}

export interface ReprocessTarget {
  s3: S3Client;
  sqs: SQSClient;
  store: MetadataStore;
  sourceBucket: string;
  queueUrl: string;
  /** The deployed config's outputConfigHash; unknown: nothing is skipped here (the function still skips). */
  configHash?: string;
}

/** Where a run stands in its listing: the status phase (table) and the last candidate handled. */
interface Cursor {
  phase: number;
  afterKey?: string;
  afterIndexKey?: StatusIndexKey;
}

interface PendingEntry {
  key: string;
  sequencer: string;
  size?: number;
}

export interface ReprocessCounts {
  /** Candidates looked at. */
  listed: number;
  enqueued: number;
  /** Items whose outputs already match the config. */
  skippedCurrent: number;
  /** Items failed under this config for a reason a retry would not change (`--status failed --force` redoes them). */
  skippedFailed?: number;
  /** 0-byte keys ending in '/' (folders of the S3 console) and the platform's own files (`_platform/`: overlays): never uploads. */
  skippedFolders: number;
  /** Messages sent again: the batch in flight when a run died. */
  resent: number;
}

/** Candidates listed since the last saved cursor, by what became of them. */
type Tally = Required<Pick<ReprocessCounts, "listed" | "skippedCurrent" | "skippedFailed" | "skippedFolders">>;

export interface Checkpoint {
  version: 1;
  tenant: string;
  runId: string;
  selection: ReprocessSelection;
  startedAt: string;
  cursor: Cursor;
  /** A batch being sent (and what was listed up to it); a run that finds it did not see it through, and sends it again. */
  pending?: { entries: PendingEntry[]; cursor: Cursor; tally: Tally };
  counts: ReprocessCounts;
  finishedAt?: string;
}

/** The checkpoint on disk: replaced with a rename, so a crash leaves the old one or the new one. */
export class CheckpointFile {
  constructor(readonly file: string) {}

  load(): Checkpoint | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return undefined;
    }
    const checkpoint = JSON.parse(text) as Checkpoint;
    if (checkpoint.version !== 1) throw new Error(`${this.file} is not a checkpoint of this version`);
    return checkpoint;
  }

  save(checkpoint: Checkpoint): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
    renameSync(temporary, this.file);
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

function newRunId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

function sameSelection(a: ReprocessSelection, b: ReprocessSelection): boolean {
  return a.prefix === b.prefix && a.status === b.status && a.since === b.since && a.force === b.force;
}

/** A new run's checkpoint, or the unfinished one of the same selection to resume. */
export function startOrResume(
  file: CheckpointFile,
  tenant: string,
  selection: ReprocessSelection,
  restart = false,
): { checkpoint: Checkpoint; resumed: boolean } {
  const existing = restart ? undefined : file.load();
  if (existing && !existing.finishedAt) {
    if (existing.tenant !== tenant || !sameSelection(existing.selection, selection)) {
      throw new Error(
        `${file.file} holds an unfinished run (${existing.runId}) of another selection (${JSON.stringify({ tenant: existing.tenant, ...existing.selection })}): ` +
          "run that again to finish it, or pass --restart to drop it",
      );
    }
    return { checkpoint: existing, resumed: true };
  }
  const now = new Date();
  return {
    checkpoint: {
      version: 1,
      tenant,
      runId: newRunId(now),
      selection,
      startedAt: now.toISOString(),
      cursor: { phase: 0 },
      counts: { listed: 0, enqueued: 0, skippedCurrent: 0, skippedFolders: 0, resent: 0 },
    },
    resumed: false,
  };
}

interface Candidate {
  key: string;
  size?: number;
  /** The cursor that resumes after this candidate. */
  cursor: Cursor;
}

/** The table's statuses a selection lists, one phase each. */
function statusPhases(status: StatusSelection): ItemStatus[] {
  return status === "any" ? ["failed", "done"] : [status];
}

/** The selection's candidates after the cursor, in a stable order (keys; or status, then update time). */
async function* candidates(target: ReprocessTarget, checkpoint: Pick<Checkpoint, "selection" | "startedAt" | "cursor">): AsyncGenerator<Candidate> {
  const { selection, cursor } = checkpoint;
  if (!selection.status) {
    let token: string | undefined;
    do {
      const page = await target.s3.send(
        new ListObjectsV2Command({
          Bucket: target.sourceBucket,
          Prefix: selection.prefix,
          StartAfter: token ? undefined : cursor.afterKey,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (selection.since && object.LastModified && object.LastModified.toISOString() < selection.since) continue;
        yield { key: object.Key!, size: object.Size, cursor: { phase: 0, afterKey: object.Key! } };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return;
  }
  const phases = statusPhases(selection.status);
  for (let phase = cursor.phase; phase < phases.length; phase++) {
    // Items this run redoes are updated after it started, so they leave the range it lists.
    const range = { since: selection.since, until: checkpoint.startedAt, startAfter: phase === cursor.phase ? cursor.afterIndexKey : undefined };
    for await (const item of target.store.itemsByStatus(phases[phase]!, range)) {
      if (selection.prefix && !item.objectKey.startsWith(selection.prefix)) continue;
      yield { key: item.objectKey, size: item.size, cursor: { phase, afterIndexKey: statusIndexKey(item) } };
    }
  }
}

interface ReprocessProgress {
  counts: ReprocessCounts;
  /** Candidates handled by this process (the progress bar's value). */
  handled: number;
}

export interface ReprocessOptions {
  /** Most messages sent per second. */
  rate: number;
  /** Decide and count, send nothing, write no checkpoint. */
  dryRun?: boolean;
  /** Stops the run after the batch being sent (Ctrl-C). */
  signal?: AbortSignal;
  onProgress?: (progress: ReprocessProgress) => void;
  /** Candidates read from the table at once (BatchGetItem allows 100). */
  groupSize?: number;
}

export interface ReprocessResult {
  checkpoint: Checkpoint;
  /** False when stopped by the signal; the checkpoint resumes it. */
  complete: boolean;
  /** Messages this process sent, and over how long. */
  sent: number;
  elapsedMs: number;
}

/** SQS takes at most 10 messages per SendMessageBatch. */
const SEND_BATCH = 10;
const NO_ITEM_SEQUENCER = "0".repeat(SEQUENCER_WIDTH);

async function sendBatch(target: Pick<ReprocessTarget, "sqs" | "sourceBucket" | "queueUrl">, entries: PendingEntry[], mark: ReprocessMark): Promise<void> {
  let unsent = entries.map((entry, i) => ({
    Id: String(i),
    MessageBody: s3Notification({
      eventName: REPROCESS_EVENT_NAME,
      bucket: target.sourceBucket,
      key: entry.key,
      sequencer: entry.sequencer,
      size: entry.size,
      reprocess: mark,
    }),
  }));
  for (let attempt = 1; unsent.length > 0; attempt++) {
    const result = await target.sqs.send(new SendMessageBatchCommand({ QueueUrl: target.queueUrl, Entries: unsent }));
    const failed = new Set((result.Failed ?? []).map((f) => f.Id));
    if (failed.size && attempt >= 5) throw new Error(`SQS refused ${failed.size} messages: ${result.Failed?.[0]?.Message ?? result.Failed?.[0]?.Code}`);
    unsent = unsent.filter((entry) => failed.has(entry.Id));
    if (unsent.length) await sleep(100 * 2 ** attempt);
  }
}

/**
 * One object sent again now, as `--status failed --force` would send it (the console's reprocess
 * button): its item's sequencer, so a newer upload of the key still wins; forced, so a failure that a
 * retry would not change is redone too (the user asked for this one).
 */
export async function reprocessOne(
  target: Pick<ReprocessTarget, "sqs" | "sourceBucket" | "queueUrl">,
  item: Pick<ObjectItem, "objectKey" | "sequencer" | "size">,
): Promise<{ runId: string }> {
  const runId = newRunId();
  await sendBatch(target, [{ key: item.objectKey, sequencer: item.sequencer ?? NO_ITEM_SEQUENCER, size: item.size }], { runId, force: true });
  return { runId };
}

/** Runs (or resumes) a reprocess run until its candidates are exhausted or the signal stops it. */
export async function runReprocess(
  target: ReprocessTarget,
  checkpoint: Checkpoint,
  file: CheckpointFile | undefined,
  options: ReprocessOptions,
): Promise<ReprocessResult> {
  const started = performance.now();
  const { selection, counts } = checkpoint;
  const mark: ReprocessMark = { runId: checkpoint.runId, force: selection.force || selection.status === "failed" };
  const save = () => {
    if (!options.dryRun) file?.save(checkpoint);
  };
  let sent = 0;
  let handled = 0;
  const report = () => options.onProgress?.({ counts: { ...counts }, handled });
  // The messages already sent have had their share of time before more go.
  const pace = async () => {
    const due = started + (sent / options.rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait, undefined, { signal: options.signal }).catch(() => undefined);
  };
  const send = async (entries: PendingEntry[], cursor: Cursor, tally: Tally): Promise<void> => {
    if (!options.dryRun) {
      checkpoint.pending = { entries, cursor, tally };
      save();
      await sendBatch(target, entries, mark);
    }
    sent += entries.length;
    delete checkpoint.pending;
  };
  // Counted when their cursor is saved: a stopped run lists the rest again when it resumes.
  const commit = (cursor: Cursor, tally: Tally, enqueued: number) => {
    counts.listed += tally.listed;
    counts.skippedCurrent += tally.skippedCurrent;
    // Absent from checkpoints written before it was counted.
    counts.skippedFailed = (counts.skippedFailed ?? 0) + tally.skippedFailed;
    counts.skippedFolders += tally.skippedFolders;
    counts.enqueued += enqueued;
    handled += tally.listed;
    checkpoint.cursor = cursor;
    save();
    report();
  };

  // A batch that a dead run may or may not have sent: sent (again), or it could be missed.
  if (checkpoint.pending) {
    const { entries, cursor, tally } = checkpoint.pending;
    await send(entries, cursor, tally);
    counts.resent += entries.length;
    commit(cursor, tally, entries.length);
  }

  const stopped = () => options.signal?.aborted === true;
  const skipCurrent = !mark.force && target.configHash !== undefined;
  const groupSize = options.groupSize ?? 100;
  let group: Candidate[] = [];

  const handleGroup = async (): Promise<boolean> => {
    const items: Map<string, ObjectItem> = await target.store.getMany(group.map((c) => c.key));
    let tally: Tally = { listed: 0, skippedCurrent: 0, skippedFailed: 0, skippedFolders: 0 };
    let batch: PendingEntry[] = [];
    for (const candidate of group) {
      tally.listed++;
      const item = items.get(candidate.key);
      if (isFolderMarker(candidate.key, candidate.size) || isPlatformKey(candidate.key)) tally.skippedFolders++;
      else if (skipCurrent && item && matchesConfig(item, target.configHash!)) {
        if (item.status === "failed") tally.skippedFailed++;
        else tally.skippedCurrent++;
      } else batch.push({ key: candidate.key, sequencer: item?.sequencer ?? NO_ITEM_SEQUENCER, size: candidate.size ?? item?.size });
      if (batch.length < SEND_BATCH && candidate !== group[group.length - 1]) continue;
      if (batch.length > 0) {
        if (stopped()) return false;
        await pace();
        if (stopped()) return false;
        await send(batch, candidate.cursor, tally);
      }
      commit(candidate.cursor, tally, batch.length);
      tally = { listed: 0, skippedCurrent: 0, skippedFailed: 0, skippedFolders: 0 };
      batch = [];
    }
    return true;
  };

  let complete = true;
  for await (const candidate of candidates(target, checkpoint)) {
    if (stopped()) {
      complete = false;
      break;
    }
    group.push(candidate);
    if (group.length < groupSize) continue;
    complete = await handleGroup();
    group = [];
    if (!complete) break;
  }
  if (complete && group.length) complete = await handleGroup();
  if (complete) {
    checkpoint.finishedAt = new Date().toISOString();
    save();
  }
  return { checkpoint, complete, sent, elapsedMs: performance.now() - started };
}

/** How many candidates the run has left: the progress bar's total (a listing without the table reads). */
export async function countCandidates(target: ReprocessTarget, checkpoint: Checkpoint, signal?: AbortSignal): Promise<number> {
  let count = 0;
  for await (const _ of candidates(target, checkpoint)) {
    count++;
    if (signal?.aborted) break;
  }
  return count;
}
