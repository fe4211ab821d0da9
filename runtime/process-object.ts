/**
 * One object event, start to finish: claim the key, read metadata by ranges, render, store outputs,
 * write the final item. Permanent problems end as a `failed` item with a reason; transient ones are
 * thrown for the queue to retry (and recorded on the item once the retry budget is spent).
 */
import path from "node:path";
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { classify, isPreconditionFailed, PermanentError, TransientError } from "./errors";
import type { ObjectEvent } from "./events";
import { isFolderMarker, isPlatformKey, renditionKey, sidecarKey } from "./keys";
import { PLATFORM_PREFIX } from "../contract/naming";
import type { MetadataExtractor } from "./metadata/extractor";
import { RangeReader } from "./metadata/range-reader";
import { summarizeTags } from "./metadata/summary";
import type { MemoryBudget } from "./memory-budget";
import { checkPixelLimit } from "./decoded-image";
import { looksLikeHeif } from "./heif";
import { checkSourceSize, isHeifFileType, renderFromSource, rendersFromPreviewAfter, type SourceRendered } from "./render-source";
import type { RenderedRendition, SourceImage } from "./renditions";
import { downloadObject, headIfExists, S3ByteSource, type Download, type ObjectHead } from "./s3-object";
import type { MetadataStore, ObjectItem, RenditionRecord } from "./store";
import type { TenantConfig } from "../contract/tenant-config";
import type { VariantPurger } from "./on-demand/purge";
import type { Outcome } from "./outcome";
import { NO_TRACING, type Tracer } from "./tracing";
import { UploadAnalysis, type AnalysisRecord } from "./analysis/upload-analysis";
import type { NearDuplicates } from "./analysis/near-duplicates";
import type { Reviewer } from "./analysis/rekognition";
import type { SimilarObject } from "./analysis/similar-index";
import { FOCUS_METADATA, focusMetadata, STATUS_METADATA } from "./analysis/focus";
import { outcomeDocument, type OutcomePublisher } from "./outcome-events";
import { overlayKeys, type OverlayStore } from "./overlays";

/** Names that promise an image: content that is not one is an error, not a document to catalogue. */
const IMAGE_EXTENSIONS = new Set([
  ".jpg",
  ".jpeg",
  ".jpe",
  ".png",
  ".gif",
  ".webp",
  ".avif",
  ".tif",
  ".tiff",
  ".heic",
  ".heif",
  ".bmp",
  ".dng",
  ".cr2",
  ".cr3",
  ".nef",
  ".arw",
  ".orf",
  ".rw2",
  ".raf",
]);

export interface ProcessDeps {
  s3: S3Client;
  store: MetadataStore;
  extractor: MetadataExtractor;
  tenant: TenantConfig;
  sourceBucket: string;
  proxyBucket: string;
  /** How long a claim keeps other events of the key waiting: at least the function timeout. */
  leaseMs: number;
  /** Objects above this are spooled to a temp file instead of memory. */
  spoolAboveBytes: number;
  /** This process's spool folder (emptied when the process starts). */
  spoolDir: string;
  /** The container's memory for decoding images, shared by the objects it processes at once. */
  memoryBudget: MemoryBudget;
  /** For tenants with on-demand renditions: removes a source's generated variants from bucket and CDN. */
  variants?: VariantPurger;
  /** X-Ray, for tenants with function.tracing: a subsegment per stage. Default: none. */
  tracer?: Tracer;
  /** outputConfigHash(tenant), computed once per container: written on items, checked by reprocess claims. */
  configHash: string;
  /** The tenant's similarity index: `similar` on items, kept free of phantoms. Default: none (no `similar`). */
  nearDuplicates?: NearDuplicates;
  /** Amazon Rekognition, for tenants that opt in (analysis.rekognition). */
  reviewer?: Reviewer;
  /** The tenant's outcome topic (docs/events.md): an event for every final state. Default: none. */
  outcomes?: OutcomePublisher;
  /** The overlay images renditions draw (docs/overlays.md). Default: none (a rendition with an overlay then fails). */
  overlays?: OverlayStore;
}

export interface Attempt {
  receiveCount: number;
  maxReceiveCount: number;
  /** Epoch ms when the function will be stopped (Lambda's context); undefined: no limit (tests, tools). */
  deadline?: number;
}

/** Time kept at the end of an invocation to record the outcome: 10% of the function's timeout, at least 3 s. */
export function outcomeReserveMs(timeoutSeconds: number): number {
  return Math.max(3_000, timeoutSeconds * 100);
}

/**
 * Stage timings, and the attempt's deadline: no stage starts once less than `reserveMs` is left of
 * the function's time, which is kept for recording the outcome (a Lambda timeout would record
 * nothing and leave the item `processing`).
 */
class Timer {
  private readonly start = performance.now();
  readonly marks: Record<string, number> = {};
  constructor(
    private readonly deadline?: number,
    private readonly reserveMs = 0,
    private readonly tracer: Tracer = NO_TRACING,
  ) {}

  /** Seconds this attempt may still spend on one piece of work (sharp's own timeout), or undefined without a deadline. */
  budgetSeconds(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(1, Math.floor((this.deadline - this.reserveMs - Date.now()) / 1000));
  }

  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (this.deadline !== undefined) {
      const left = this.deadline - Date.now();
      if (left < this.reserveMs) {
        throw new TransientError(
          "DEADLINE",
          `stopped before "${name}" with ${left} ms left of the function's time (${this.reserveMs} ms are kept to record the outcome)`,
        );
      }
    }
    const t0 = performance.now();
    try {
      return await this.tracer.span(name, work);
    } finally {
      this.marks[name] = Math.round(performance.now() - t0);
    }
  }
  total(): Record<string, number> {
    return { ...this.marks, total: Math.round(performance.now() - this.start) };
  }
}

/** Every proxy key an object can have produced: configured renditions, the previous item's, the sidecar. */
function derivedKeys(deps: ProcessDeps, key: string, previous?: ObjectItem): string[] {
  const keys = new Set<string>([sidecarKey(key)]);
  for (const r of deps.tenant.renditions) keys.add(renditionKey(r.name, key, r.format));
  for (const r of previous?.renditions ?? []) keys.add(r.key);
  return [...keys];
}

async function deleteKeys(deps: ProcessDeps, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const result = await deps.s3.send(
      new DeleteObjectsCommand({ Bucket: deps.proxyBucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }),
    );
    if (result.Errors?.length) throw new TransientError("PROXY_DELETE", `could not delete ${result.Errors.length} proxy objects: ${result.Errors[0]?.Message}`);
  }
}

export async function processEvent(deps: ProcessDeps, event: ObjectEvent, attempt: Attempt, log: Logger): Promise<Outcome> {
  const base = { tenant: deps.tenant.name, key: event.key, event: event.eventName };
  // A removal of a folder marker has no size: it is one when no upload of that key was ever recorded.
  const folderMarker = event.kind === "created" ? isFolderMarker(event.key, event.size) : event.key.endsWith("/") && !(await deps.store.get(event.key));
  if (folderMarker) {
    return { ...base, status: "skipped", reason: "a folder marker (a 0-byte key ending in '/'), not an upload" };
  }
  if (isPlatformKey(event.key)) return { ...base, status: "skipped", reason: `under ${PLATFORM_PREFIX}, the platform's own prefix: never processed` };
  const { configHash } = deps;
  const reprocess = event.reprocess ? { ...event.reprocess, configHash } : undefined;
  const claim = await deps.store.claim(event.key, event.sequencer, deps.leaseMs, event.eventName, reprocess);
  if (claim.outcome !== "claimed") {
    // A redelivery of an event whose outcome is written: what it could not publish then, it publishes now.
    if (claim.outcome !== "stale") await announce(deps, claim.current);
    return { ...base, status: "skipped", reason: SKIP_REASONS[claim.outcome](reprocess !== undefined) };
  }
  const { previous } = claim;
  const timer = new Timer(attempt.deadline, outcomeReserveMs(deps.tenant.function.timeoutSeconds), deps.tracer);
  const written = { configHash, reprocessRun: event.reprocess?.runId };
  let finished: ObjectItem | undefined;
  const finish: FinishItem = async (item) => {
    finished = await deps.store.finish(item, owedEvents(deps, previous));
    return finished;
  };
  const job: Job = { deps, event, previous, attempt, timer, base, log, written, finish };
  const outcome = await decide(job);
  // After the decision: a failed publish is retried through the queue, and never taken for a failure of the object.
  await announce(deps, finished);
  return outcome;
}

/**
 * What the claimed event makes of the key: processed, or failed for good (recorded, announced),
 * or a transient failure thrown for the queue to retry.
 */
async function decide(job: Job): Promise<Outcome> {
  const { deps, event, previous, attempt, timer, base, log, written } = job;
  try {
    // A removal, or a reprocess (which redoes whatever the key holds now), goes by what S3 says.
    return event.kind === "removed" || event.reprocess ? await reconcileWithSource(job) : await createObject(job);
  } catch (err) {
    // Every read carries If-Match with the event's ETag: 412 anywhere means a newer upload replaced
    // this version, whose own event will decide the key.
    const failure = isPreconditionFailed(err)
      ? new PermanentError("OBJECT_GONE", "the object was overwritten before this version could be processed", { cause: err })
      : classify(err);
    if (failure.code === "OBJECT_GONE" && !isPreconditionFailed(err) && !previous && outlivesTombstones(event, deps.tenant)) {
      // The key may have been deleted, tombstoned, and the tombstone expired: a `failed` item would
      // stay forever for an object nobody has. Record the absence as a tombstone instead, which expires.
      const durationsMs = timer.total();
      await recordTombstone(deps, event, job.finish, durationsMs);
      const reason = `the object is gone, and this event (of ${event.eventTime}) is older than a tombstone lives (${deps.tenant.storage.tombstoneTtlDays} days): recorded as a tombstone`;
      log.warn({ eventTime: event.eventTime }, reason);
      return { ...base, status: "deleted", reason, durationsMs };
    }
    const lastAttempt = attempt.receiveCount >= attempt.maxReceiveCount;
    if (failure instanceof TransientError && !lastAttempt) {
      await deps.store
        .release(event.key, event.sequencer)
        .catch((releaseErr) => log.warn({ err: releaseErr }, "could not release the claim; the retry waits for the lease"));
      throw failure;
    }
    // Permanent, or out of retries: leave nothing that looks complete, and say why.
    await deleteKeys(deps, derivedKeys(deps, event.key, previous)).catch((cleanupErr) =>
      log.warn({ err: cleanupErr }, "could not remove proxy objects of a failed object"),
    );
    await purgeVariants(deps, event, attempt, previous).catch((cleanupErr) =>
      log.warn({ err: cleanupErr }, "could not remove on-demand variants of a failed object"),
    );
    await forgetHash(deps, event.key, previous).catch((cleanupErr) =>
      log.warn({ err: cleanupErr }, "could not take a failed object out of the similarity index"),
    );
    const retryable = failure instanceof TransientError;
    const durationsMs = timer.total();
    const message = retryable ? `gave up after ${attempt.receiveCount} attempts: ${failure.message}` : failure.message;
    const failedItem = await job.finish({
      objectKey: event.key,
      status: "failed",
      sequencer: event.sequencer,
      eventName: event.eventName,
      size: event.size,
      etag: event.eTag,
      error: { code: failure.code, message: message.slice(0, 2000), retryable, attempts: attempt.receiveCount },
      durationsMs,
      ...written,
    });
    await unlinkAgain(deps, event.key, previous, log);
    if (retryable) {
      // To the dead-letter queue, with the failure recorded and announced (or owed, for a redrive to send).
      await announce(deps, failedItem).catch((publishErr) => log.warn({ err: publishErr }, "could not publish the failed event; it stays owed"));
      throw failure;
    }
    return { ...base, status: "failed", code: failure.code, reason: failure.message, durationsMs };
  }
}

/** Writes a job's final item (store.finish with the events it owes). */
type FinishItem = (item: Omit<ObjectItem, "updatedAt">) => Promise<ObjectItem | undefined>;

/**
 * The events a final item owes: any an earlier owner of the key left unsent (a claim keeps them),
 * then its own, built from the item as written (runtime/outcome-events.ts).
 */
function owedEvents(deps: ProcessDeps, previous: ObjectItem | undefined): ((written: ObjectItem) => string[]) | undefined {
  if (!deps.outcomes) return undefined;
  const context = { tenant: deps.tenant.name, sourceBucket: deps.sourceBucket, proxyBucket: deps.proxyBucket };
  return (written) => [...(previous?.pendingEvents ?? []), JSON.stringify(outcomeDocument(written, context))];
}

/** Publishes the events an item owes, then clears them. A failure is transient: the message comes back and the next owner sends them. */
async function announce(deps: ProcessDeps, item: ObjectItem | undefined): Promise<void> {
  if (!deps.outcomes || !item?.pendingEvents?.length) return;
  const { outcomes } = deps;
  const events = item.pendingEvents;
  await (deps.tracer ?? NO_TRACING).span("announce", async () => {
    await outcomes.publish(events);
    await deps.store.clearPendingEvents(item);
  });
}

/**
 * Whether an event is older than the tenant's tombstones live, by the event's own time (S3's
 * `eventTime`), not its queue's: a dead-letter redrive resets a message's age in SQS, so an event can
 * come back after the key's deletion was recorded and its tombstone expired.
 */
function outlivesTombstones(event: ObjectEvent, tenant: TenantConfig): boolean {
  const time = event.eventTime ? Date.parse(event.eventTime) : NaN;
  return Number.isFinite(time) && Date.now() - time > tenant.storage.tombstoneTtlDays * 86_400_000;
}

const SKIP_REASONS: Record<"stale" | "duplicate" | "current", (reprocess: boolean) => string> = {
  stale: () => "a newer event already decided this key",
  duplicate: (reprocess) => (reprocess ? "already redone by this reprocess run" : "duplicate delivery"),
  current: () => "its outputs already match the tenant's config",
};

/** One event being processed: what every step needs. */
interface Job {
  deps: ProcessDeps;
  event: ObjectEvent;
  /** The item before this event claimed the key. */
  previous: ObjectItem | undefined;
  attempt: Attempt;
  timer: Timer;
  base: Pick<Outcome, "tenant" | "key" | "event">;
  log: Logger;
  /** Written on the item the job ends with (tombstones aside). */
  written: Pick<ObjectItem, "configHash" | "reprocessRun">;
  finish: FinishItem;
}

/**
 * A removal event decides from what S3 says now, not from its name. With versioning,
 * `ObjectRemoved:Delete` also fires when a noncurrent version is deleted (the object is still
 * there) or the current one is (the previous version becomes current), and deleting a delete marker
 * brings the object back with no ObjectCreated event. So: if a current version exists, it is
 * processed, under this event's sequencer; only when none does is the key tombstoned. A reprocess
 * event goes the same way: it redoes whatever the key holds now.
 */
async function reconcileWithSource(job: Job): Promise<Outcome> {
  const { deps, event, previous, timer, base, log } = job;
  const current = await timer.time("head", () => headIfExists(deps.s3, deps.sourceBucket, event.key));
  if (current) {
    log.info({ eTag: current.eTag, versionId: current.versionId }, "the object still has a current version after this removal: processing it");
    return createObject({ ...job, event: { ...event, eTag: current.eTag, size: current.size } });
  }
  await timer.time("cleanup", () => deleteKeys(deps, derivedKeys(deps, event.key, previous)));
  await timer.time("purge", () => purgeVariants(deps, event, job.attempt, previous));
  await timer.time("index", () => forgetHash(deps, event.key, previous));
  await recordTombstone(deps, event, job.finish, timer.total());
  await unlinkAgain(deps, event.key, previous, log);
  return { ...base, status: "deleted", durationsMs: timer.total() };
}

/** The key has no object: a tombstone, which DynamoDB's TTL removes after the tenant's tombstoneTtlDays. */
async function recordTombstone(deps: ProcessDeps, event: ObjectEvent, finish: FinishItem, durationsMs: Record<string, number>): Promise<void> {
  await finish({
    objectKey: event.key,
    status: "deleted",
    sequencer: event.sequencer,
    eventName: event.eventName,
    versionId: event.versionId,
    expiresAt: Math.floor(Date.now() / 1000) + deps.tenant.storage.tombstoneTtlDays * 86_400,
    durationsMs,
  });
}

async function readHead(deps: ProcessDeps, event: ObjectEvent): Promise<ObjectHead> {
  const head = await headIfExists(deps.s3, deps.sourceBucket, event.key, event.eTag);
  if (!head) throw new PermanentError("OBJECT_GONE", "the object was deleted before it could be processed");
  return head;
}

/** The downloaded bytes: in memory, or the spool file that holds them. */
type SourceBytes = Omit<Download, "head">;

/** One download of the object and its render, started with or without exiftool's FileType. */
interface RenderAttempt {
  download: Promise<SourceBytes>;
  rendered: Promise<SourceRendered>;
  /** The upload's analysis of this render's decoded pixels (its focus, labels, review). */
  analysis: UploadAnalysis;
}

function newAnalysis(job: Job): UploadAnalysis {
  return new UploadAnalysis(job.deps.tenant.analysis, job.deps.reviewer, (stage, work) => job.timer.time(stage, work));
}

/**
 * Downloads the object (unless `download` is given: the bytes an earlier attempt read) and renders
 * it. `fileType` is exiftool's, or undefined when exiftool has not answered yet: HEIF is then told
 * by the file's brands, and a RAW gets no fall back to its preview (render-source.ts).
 */
function startRender(job: Job, head: ObjectHead, reader: RangeReader, fileType?: string, download?: Promise<SourceBytes>): RenderAttempt {
  const { deps, event, timer, log } = job;
  const { tenant } = deps;
  const analysis = newAnalysis(job);
  // The overlays the renditions draw, revalidated beside the download (no round trip added).
  const overlaysRead = deps.overlays?.load(overlayKeys(tenant.renditions));
  overlaysRead?.catch(() => undefined); // awaited below; a failed download must not leave it unhandled
  const downloaded = download ?? timer.time("download", () => downloadObject(deps.s3, deps.sourceBucket, event.key, head, deps.spoolAboveBytes, deps.spoolDir));
  const rendered = (async () => {
    const { input } = await downloaded;
    const overlays = await overlaysRead;
    return renderFromSource({
      input,
      renditions: tenant.renditions,
      options: {
        maxInputPixels: tenant.limits.maxInputPixels,
        maxFrames: tenant.limits.maxFrames,
        overlays,
        profile: tenant.metadata.renditionProfile,
        timeoutSeconds: timer.budgetSeconds(),
        budget: deps.memoryBudget,
        inspect: analysis,
      },
      fileType,
      preview: fileType === undefined ? undefined : () => deps.extractor.extractPreview(reader, event.key),
      time: (stage, work) => timer.time(stage, work),
      log,
    });
  })();
  // Both are awaited or discarded by readAndRender; neither may end unhandled meanwhile.
  downloaded.catch(() => undefined);
  rendered.catch(() => undefined);
  return { download: downloaded, rendered, analysis };
}

/** Waits for an attempt's work to end, whatever its result, and removes its download (a spool file). */
async function discard(attempt: RenderAttempt): Promise<void> {
  await attempt.rendered.catch(() => undefined);
  const download = await attempt.download.catch(() => undefined);
  await download?.cleanup();
}

/**
 * Whether a render made before exiftool answered stands for the one its FileType makes: the same
 * decoder, and a result or a failure the type would not change. A failed download, a transient
 * failure (throttling, memory, time) or a limit is the attempt's as before, for the queue to retry or
 * to record; a decode that the type would follow with the file's preview (a RAW) is made again.
 */
async function standsForTyped(attempt: RenderAttempt, fileType: string): Promise<boolean> {
  const [download, rendered] = await Promise.allSettled([attempt.download, attempt.rendered]);
  if (download.status === "rejected") return true;
  if ((await looksLikeHeif(download.value.input)) !== isHeifFileType(fileType)) return false;
  return rendered.status === "fulfilled" || !rendersFromPreviewAfter(rendered.reason, fileType);
}

/**
 * The object's metadata (exiftool, by ranges) and its renditions. An object whose name or
 * Content-Type promises an image is downloaded and rendered beside the metadata read, not after it:
 * the two overlap (on the first object of a container, the render runs while perl still loads
 * ExifTool). exiftool's answer still decides: what it says is no image gets no renditions, and a
 * render its FileType would have made otherwise (a RAW's preview after a failed decode, HEIF told
 * otherwise by the brands) is made again from the same bytes (standsForTyped).
 */
async function readAndRender(job: Job, head: ObjectHead, reader: RangeReader) {
  const { deps, event, timer } = job;
  const { tenant } = deps;
  const extension = path.extname(event.key).toLowerCase();
  const attempts: RenderAttempt[] = [];
  if (IMAGE_EXTENSIONS.has(extension) || head.contentType?.startsWith("image/")) attempts.push(startRender(job, head, reader));
  try {
    const metadata = await timer.time("metadata", () => deps.extractor.extract(reader, event.key));
    const summary = summarizeTags(metadata.tags, tenant.metadata.keepGps);
    if (!summary.fileType) {
      throw new PermanentError("UNSUPPORTED_FORMAT", `not a recognised file: ${summary.exiftoolError ?? "exiftool found no file type"}`);
    }
    const fileType = summary.fileType;

    // From here on exiftool has read the object: whatever the pixels do, what it learned is kept.
    const isImage = summary.mimeType?.startsWith("image/") ?? false;
    let outputs: (RenderedRendition & { key: string })[] = [];
    let renditionsSkipped: string | undefined;
    let source: SourceImage | undefined;
    let renderFailure: PermanentError | undefined;
    let analysis = newAnalysis(job);
    try {
      if (!isImage && IMAGE_EXTENSIONS.has(extension)) {
        throw new PermanentError("UNSUPPORTED_FORMAT", `the name says ${extension} but the content is ${summary.mimeType ?? summary.fileType}, not an image`);
      }
      // Refused from the header exiftool read, whatever an early render made of the pixels.
      if (isImage && summary.width && summary.height) checkPixelLimit(summary.width, summary.height, tenant.limits.maxInputPixels);
      if (!isImage) {
        renditionsSkipped = `not an image (${summary.mimeType ?? summary.fileType})`;
      } else {
        const early = attempts[0];
        let attempt: RenderAttempt;
        if (early && (await standsForTyped(early, fileType))) {
          attempt = early;
        } else {
          // From the early render's bytes when there were any (they were read, or it would stand).
          attempt = startRender(job, head, reader, fileType, early?.download);
          attempts.push(attempt);
        }
        analysis = attempt.analysis;
        const rendered = await attempt.rendered;
        outputs = rendered.outputs.map((output) => ({ ...output, key: renditionKey(output.name, event.key, output.format) }));
        source = rendered.source;
      }
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err; // transient: retried, nothing written yet
      renderFailure = err;
    }
    return { metadata, summary, outputs, renditionsSkipped, source, renderFailure, analysis };
  } finally {
    await Promise.all(attempts.map(discard));
  }
}

async function createObject(job: Job): Promise<Outcome> {
  const { deps, event, previous, attempt, timer, base, log } = job;
  const { tenant } = deps;
  const head = await timer.time("head", () => readHead(deps, event));
  checkSourceSize(head.size, tenant.limits.maxObjectBytes);
  const reader = new RangeReader(new S3ByteSource(deps.s3, deps.sourceBucket, event.key, head));
  const { metadata, summary, outputs, renditionsSkipped, source, renderFailure, analysis } = await readAndRender(job, head, reader);

  const record = renderFailure ? undefined : analysis.record;
  const analysisSkipped = record ? undefined : (renditionsSkipped ?? renderFailure?.message ?? "rendered from no decoded image");
  const similar =
    record && deps.nearDuplicates && !analysis.quarantine ? await timer.time("similar", () => deps.nearDuplicates!.find(event.key, record.phash)) : undefined;
  const status = renderFailure ? "failed" : analysis.quarantine ? "quarantined" : "done";

  const sidecar = sidecarKey(event.key);
  const common = { Bucket: deps.proxyBucket, Metadata: { "source-etag": head.eTag, "source-sequencer": event.sequencer } };
  const sidecarTags = tenant.metadata.keepGps ? metadata.raw : withoutLocation(metadata.raw);
  await timer.time("upload", async () => {
    // Renditions of an earlier version that this one does not produce must not outlive it.
    const produced = new Set(outputs.map((o) => o.key));
    const obsolete = derivedKeys(deps, event.key, previous).filter((k) => k !== sidecar && !produced.has(k));
    // Every PUT settles before the attempt decides anything: a rejected Promise.all would let a
    // late PUT of this attempt land after a retry (or a newer event) has written its own outputs.
    await settleAll([
      ...outputs.map((o) =>
        deps.s3.send(new PutObjectCommand({ ...common, Key: o.key, Body: o.body, ContentType: o.contentType, CacheControl: tenant.storage.cacheControl })),
      ),
      deps.s3.send(
        new PutObjectCommand({
          ...common,
          // The on-demand renderer reads the focus (its cover crops) and the status (quarantine) from here, in a HEAD.
          Metadata: { ...common.Metadata, [STATUS_METADATA]: status, ...(record ? { [FOCUS_METADATA]: focusMetadata(record.focus) } : {}) },
          Key: sidecar,
          ContentType: "application/json",
          Body: JSON.stringify({
            sourceKey: event.key,
            eTag: head.eTag,
            versionId: head.versionId,
            size: head.size,
            contentType: head.contentType,
            method: metadata.method,
            ...(record ? { analysis: { ...record, similar } } : { analysisSkipped }),
            tags: sidecarTags,
          }),
        }),
      ),
      obsolete.length ? deleteKeys(deps, obsolete) : Promise.resolve(),
    ]);
  });
  // After the new outputs: variants of the bytes this version replaced must not outlive them. The
  // same bytes again (a re-upload, a deleted noncurrent version) leave them valid.
  // A quarantined source keeps none either, whatever its bytes were before (moderation just turned on).
  if (previous?.etag !== head.eTag || status === "quarantined") await timer.time("purge", () => purgeVariants(deps, event, attempt, previous));
  // The hash the index keeps for the key: a done object's only.
  const indexedHash = status === "done" ? record?.phash : undefined;
  await timer.time("index", () => updateIndex(deps, event.key, previous, indexedHash));

  const renditions: RenditionRecord[] = outputs.map(({ name, key, width, height, bytes, format }) => ({ name, key, width, height, bytes, format }));
  const durationsMs = timer.total();
  const finished = await job.finish({
    objectKey: event.key,
    status,
    sequencer: event.sequencer,
    eventName: event.eventName,
    size: head.size,
    etag: head.eTag,
    versionId: head.versionId,
    contentType: head.contentType,
    width: source?.width ?? summary.width,
    height: source?.height ?? summary.height,
    frames: source?.animation?.frames,
    durationMs: source?.animation?.durationMs,
    format: summary.fileType,
    mimeType: summary.mimeType,
    orientation: summary.orientation,
    capturedAt: summary.capturedAt,
    camera: summary.camera,
    gps: summary.gps,
    renditions,
    renditionsSkipped,
    sidecarKey: sidecar,
    metadataMethod: metadata.method,
    metadataBytesRead: reader.stats.bytesFetched,
    metadataRequests: reader.stats.requests,
    ...analysisFields(record, similar),
    analysisSkipped,
    durationsMs,
    error: renderFailure
      ? { code: renderFailure.code, message: renderFailure.message.slice(0, 2000), retryable: false, attempts: attempt.receiveCount }
      : undefined,
    ...job.written,
  });
  if (!finished) return { ...base, status: "skipped", reason: "a newer event took the key over while processing" };
  if (replacesHash(previous, indexedHash)) await unlinkAgain(deps, event.key, previous, log);
  if (record && similar?.length) {
    await deps.nearDuplicates?.recheck(event.key, record.phash, similar).catch((err) => log.warn({ err }, "could not recheck the similar list"));
  }
  return {
    ...base,
    status,
    code: renderFailure?.code,
    reason: renderFailure?.message ?? analysis.quarantine ?? renditionsSkipped,
    analysis: record && { ...record, similar },
    renditions: renditions.length,
    size: head.size,
    metadataMethod: metadata.method,
    metadataBytesRead: reader.stats.bytesFetched,
    metadataRequests: reader.stats.requests,
    durationsMs,
  };
}

/**
 * On-demand variants of the key, from the bucket and the CDN. The CDN is owed an invalidation
 * whenever the key had an upload recorded (variants may have been served from it, whatever S3's
 * lifecycle has removed since) or this is a retry (its first attempt may have deleted them).
 */
async function purgeVariants(deps: ProcessDeps, event: ObjectEvent, attempt: Attempt, previous: ObjectItem | undefined): Promise<void> {
  const hadUpload = previous !== undefined && previous.status !== "deleted";
  await deps.variants?.purge(event.key, event.sequencer, hadUpload || attempt.receiveCount > 1);
}

/** The item's fields of an analysis (docs/metadata.md). */
function analysisFields(record: AnalysisRecord | undefined, similar: SimilarObject[] | undefined): Partial<ObjectItem> {
  if (!record) return {};
  const { thumbhash, blurhash, dominantColor, palette, phash, focus, faces, labels, moderation } = record;
  return { thumbhash, blurhash, dominantColor, palette, phash, focus, similar, faces, labels, moderation };
}

/**
 * Keeps the similarity index true to the key's current bytes: the hash the previous item had is
 * forgotten (with every list naming the key) unless the key still has it, done; `phash` (the new,
 * done object's) is added.
 */
async function updateIndex(deps: ProcessDeps, key: string, previous: ObjectItem | undefined, phash: string | undefined): Promise<void> {
  if (!deps.nearDuplicates) return;
  if (replacesHash(previous, phash)) await deps.nearDuplicates.forget(key, previous!.phash!);
  if (phash) await deps.nearDuplicates.index.add(key, phash);
}

/** Whether the key's previous hash stops being current: it had one, and the key does not end done with the same. */
function replacesHash(previous: ObjectItem | undefined, phash: string | undefined): boolean {
  return !!previous?.phash && !(previous.phash === phash && previous.status === "done");
}

/**
 * The second unlink pass of a forgotten hash (near-duplicates.ts), once the key's new item is
 * written. The outcome is decided by then: a failure here is logged, not retried.
 */
async function unlinkAgain(deps: ProcessDeps, key: string, previous: ObjectItem | undefined, log: Logger): Promise<void> {
  if (!deps.nearDuplicates || !previous?.phash) return;
  await deps.nearDuplicates.unlinkEverywhere(key, previous.phash).catch((err) => log.warn({ err }, "could not remove the key from near-duplicates' lists"));
}

/** The key's hash is no longer current (deleted, failed): out of the index and out of every list. */
async function forgetHash(deps: ProcessDeps, key: string, previous: ObjectItem | undefined): Promise<void> {
  if (deps.nearDuplicates && previous?.phash) await deps.nearDuplicates.forget(key, previous.phash);
}

/** Waits for every promise; then rethrows the first failure, if any. */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Location tags (GPS, geolocation) for a tenant that does not keep location: left out of the sidecar too. */
const LOCATION_TAG = /^(GPS|Geolocation)/;

function withoutLocation(tags: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tags).filter(([name]) => !LOCATION_TAG.test(name)));
}
