/**
 * The rendering origin behind CloudFront: a miss for `/_variants/<hash>/<variant>/<key>` reads the
 * source in one GET (size limit from its headers, pixel limit, memory budget, as the pipeline does), renders it with
 * the pipeline's own sharp code, answers with it and, at the same time, stores it with a conditional
 * PUT (the first writer across containers is kept). Concurrent misses of one variant in a container
 * share one render. Every failure is a precise status with a short text body.
 */
import { createHash } from "node:crypto";
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { classify, isNotFound, isPreconditionFailed, type PermanentError, TransientError } from "../errors";
import { sidecarKey } from "../keys";
import { FOCUS_METADATA, parseFocusMetadata, STATUS_METADATA } from "../analysis/focus";
import { HttpFailure } from "../http-failure";
import type { MemoryBudget } from "../memory-budget";
import { checkSourceSize, renderFromSource } from "../render-source";
import type { RenderedRendition, RenderOptions } from "../renditions";
import { downloadCurrent, type Download, type ObjectHead } from "../s3-object";
import type { TenantConfig } from "../../contract/tenant-config";
import { reviewSettings } from "../../contract/tenant-runtime";
import { parseStoredPath, resolveVariant, variantsPrefix, type ResolvedVariant, type StoredVariantPath } from "./variants";
import { OverlayStore } from "../overlays";

export interface VariantServiceDeps {
  s3: S3Client;
  tenant: TenantConfig;
  sourceBucket: string;
  proxyBucket: string;
  spoolAboveBytes: number;
  spoolDir: string;
  memoryBudget: MemoryBudget;
  log: Logger;
  /** sharp's timeout per render (seconds): what the function's timeout leaves. */
  renderTimeoutSeconds?: number;
}

export interface VariantResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
  /**
   * What the answer does not wait for: the variant's PUT, running while the body is sent. Never
   * rejects (a failed PUT is logged; the next miss renders again). The handler awaits it after the
   * body before it returns, since Lambda does not wait for work its handler has not awaited.
   */
  stored?: Promise<void>;
}

/** How long a variant cut before its source's focus was known may be cached (seconds): until the analysis has run. */
const PROVISIONAL_MAX_AGE_SECONDS = 60;

/**
 * The most of a failure's reason an answer carries (characters): the whole of a decoder's (one line
 * per different warning: renditions.ts conciseDecoderMessage; a Canon CR2's is ~350), bounded.
 */
const MAX_REASON_CHARS = 1000;

/** How long a failure may be cached (seconds): a missing source may be uploaded soon; the rest stay as they are. */
const ERROR_CACHE_SECONDS: Record<number, number> = { 400: 300, 404: 10, 413: 300, 415: 300, 422: 300, 451: 300 };

const PERMANENT_STATUS: Partial<Record<PermanentError["code"], number>> = {
  TOO_LARGE: 413,
  TOO_MANY_PIXELS: 422,
  OVER_MEMORY_BUDGET: 422,
  UNSUPPORTED_FORMAT: 415,
  CORRUPT_IMAGE: 415,
  EMPTY_OBJECT: 415,
  OBJECT_GONE: 404,
};

function failureResponse(err: unknown, log: Logger): VariantResponse {
  let statusCode: number;
  let message: string;
  if (err instanceof HttpFailure) {
    [statusCode, message] = [err.statusCode, err.message];
  } else {
    const failure = classify(err);
    if (failure instanceof TransientError) {
      [statusCode, message] = [503, `temporarily unable to render (${failure.code}): retry`];
    } else {
      statusCode = PERMANENT_STATUS[failure.code] ?? 500;
      message = failure.message;
    }
    if (statusCode >= 500) log.warn({ err: failure.message, code: failure.code }, "variant not rendered");
  }
  const maxAge = ERROR_CACHE_SECONDS[statusCode];
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": maxAge ? `public, max-age=${maxAge}` : "no-store",
  };
  if (statusCode === 503) headers["retry-after"] = err instanceof HttpFailure ? "5" : "1";
  return { statusCode, headers, body: Buffer.from(`${message.slice(0, MAX_REASON_CHARS)}\n`) };
}

export class VariantService {
  /** Renders started and variants stored, for tests and the bench (a hit must not render). */
  readonly stats = { renders: 0, stored: 0, keptFirstWriter: 0 };
  private readonly inFlight = new Map<string, Promise<VariantResponse>>();

  /** Tenants that quarantine by moderation labels: no variant of a source its processing has not cleared. */
  private readonly moderated: boolean;
  /** Overlays of presets that draw one (docs/overlays.md): kept per container, revalidated by ETag. */
  private readonly overlays: OverlayStore;

  constructor(private readonly deps: VariantServiceDeps) {
    this.moderated = reviewSettings(deps.tenant.analysis)?.quarantine ?? false;
    this.overlays = new OverlayStore(deps.s3, deps.sourceBucket);
  }

  /** Answers a request the CDN forwarded on a miss (method GET or HEAD, path as rewritten by the edge). */
  async serve(rawPath: string, method = "GET"): Promise<VariantResponse> {
    const response = await this.respond(rawPath, method);
    return method === "HEAD" ? { ...response, body: Buffer.alloc(0) } : response;
  }

  private async respond(rawPath: string, method: string): Promise<VariantResponse> {
    const log = this.deps.log;
    try {
      if (method !== "GET" && method !== "HEAD") throw new HttpFailure(405, "only GET and HEAD");
      const stored = parseStoredPath(rawPath);
      if (!stored) throw new HttpFailure(400, "not a variant path: /_variants/<key hash>/<variant>/<source key>");
      const variant = resolveVariant(this.deps.tenant, stored.concrete);
      if (!variant) throw new HttpFailure(400, `variant "${stored.concrete}" is not offered by this tenant`);
      let pending = this.inFlight.get(stored.objectKey);
      if (!pending) {
        pending = this.renderAndStore(stored, variant);
        this.inFlight.set(stored.objectKey, pending);
        // Shared until the variant is stored: a miss arriving meanwhile would otherwise render it again.
        void pending
          .then(
            (r) => r.stored,
            () => undefined,
          )
          .finally(() => this.inFlight.delete(stored.objectKey));
      }
      return await pending;
    } catch (err) {
      return failureResponse(err, log);
    }
  }

  /**
   * One S3 round trip before the first byte (two with CloudFront's miss in the proxy bucket): the
   * source's GET, its head checked from the response's headers. The conditional PUT runs while the
   * body is sent; its ETag is the body's MD5 computed here (S3's ETag of a single-part PUT to a bucket
   * with SSE-S3 encryption is the MD5 of the object's data:
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html), so that the miss's ETag is the
   * hits' from the start. A source replaced while it rendered leaves a variant of the old bytes
   * behind only until the pipeline's owed purge, which is delayed past the longest render and removes
   * such late variants before CloudFront forgets them (purge.ts): no check of the source after the PUT.
   */
  private async renderAndStore(stored: StoredVariantPath, variant: ResolvedVariant): Promise<VariantResponse> {
    const { tenant } = this.deps;
    const t0 = performance.now();
    const { source, output, provisional } = await this.render(stored.sourceKey, variant);
    if (provisional) {
      // Cut before the upload's analysis found its focus: served briefly, never stored, so that the
      // variant the CDN keeps is the one around the focus.
      this.deps.log.info({ key: stored.sourceKey, variant: stored.concrete }, "variant rendered before the source's focus is known: not stored");
      const headers = { "content-type": output.contentType, "cache-control": `public, max-age=${PROVISIONAL_MAX_AGE_SECONDS}` };
      return { statusCode: 200, headers: variant.negotiated ? { ...headers, vary: "accept" } : headers, body: output.body };
    }
    const cacheControl = `public, max-age=${tenant.onDemand.browserMaxAgeSeconds}, s-maxage=${tenant.onDemand.maxAgeDays * 86_400}`;
    const headers: Record<string, string> = {
      "content-type": output.contentType,
      "cache-control": cacheControl,
      etag: `"${createHash("md5").update(output.body).digest("hex")}"`,
      ...(variant.negotiated ? { vary: "accept" } : {}),
    };
    const renderedMs = Math.round(performance.now() - t0);
    return { statusCode: 200, headers, body: output.body, stored: this.store(stored, output, headers, source, renderedMs) };
  }

  /** The variant's conditional PUT: the first writer across containers is kept (S3 answers 412 to the others). */
  private async store(
    stored: StoredVariantPath,
    output: RenderedRendition,
    headers: Record<string, string>,
    source: ObjectHead,
    renderedMs: number,
  ): Promise<void> {
    const log = this.deps.log.child({ key: stored.sourceKey, variant: stored.concrete });
    try {
      const put = await this.deps.s3.send(
        new PutObjectCommand({
          Bucket: this.deps.proxyBucket,
          Key: stored.objectKey,
          Body: output.body,
          ContentType: output.contentType,
          CacheControl: headers["cache-control"],
          IfNoneMatch: "*",
          Metadata: { "source-etag": source.eTag },
        }),
      );
      this.stats.stored++;
      // Only a bucket encrypted otherwise than SSE-S3 (components/tenant-buckets.ts) makes them differ.
      if (put.ETag !== headers.etag) log.warn({ served: headers.etag, stored: put.ETag }, "the stored variant's ETag is not the MD5 the miss served");
      log.info({ bytes: output.bytes, width: output.width, height: output.height, sourceBytes: source.size, ms: renderedMs }, "variant rendered");
    } catch (err) {
      if (isPreconditionFailed(err) || (err as { name?: string }).name === "ConditionalRequestConflict") {
        // Another container stored it first: the same render of the same source, unless the two run different code.
        this.stats.keptFirstWriter++;
        return;
      }
      // Answered already: the next miss renders it again.
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "variant served but not stored");
    }
  }

  /**
   * onDemand.maxVariantsPerSource: a source that already has that many stored variants gets no
   * other (429, not cached). One listing of its prefix, at most `cap` keys.
   */
  private async checkVariantCap(sourceKey: string): Promise<void> {
    const cap = this.deps.tenant.onDemand.maxVariantsPerSource;
    if (cap === undefined) return;
    const listing = await this.deps.s3.send(new ListObjectsV2Command({ Bucket: this.deps.proxyBucket, Prefix: variantsPrefix(sourceKey), MaxKeys: cap }));
    if ((listing.KeyCount ?? 0) >= cap) {
      throw new HttpFailure(429, `this source already has ${cap} variants, the most the tenant allows (onDemand.maxVariantsPerSource): ask for one of those`);
    }
  }

  /** The source's bytes, when the tenant's variant cap allows one more: the cap's count and the GET are two round trips at once. */
  private async download(sourceKey: string): Promise<Download> {
    const { s3, tenant, sourceBucket, spoolAboveBytes, spoolDir } = this.deps;
    const [download, cap] = await Promise.allSettled([
      downloadCurrent(
        s3,
        sourceBucket,
        sourceKey,
        (head) => checkSourceSize(head.size, tenant.limits.maxObjectBytes), // 413 or 415, as PERMANENT_STATUS maps them
        spoolAboveBytes,
        spoolDir,
      ),
      this.checkVariantCap(sourceKey),
    ]);
    if (cap.status === "rejected") {
      if (download.status === "fulfilled") await download.value?.cleanup();
      throw cap.reason;
    }
    if (download.status === "rejected") throw download.reason;
    if (!download.value) throw new HttpFailure(404, "no such source object");
    return download.value;
  }

  /**
   * What the upload's processing stored for these bytes: the sidecar's metadata (a HEAD, beside the
   * source's GET: no round trip added), the focus and the status, when made from the same ETag.
   */
  private async storedAnalysis(sourceKey: string): Promise<{ eTag?: string; focus?: RenderOptions["focus"]; status?: string }> {
    try {
      const head = await this.deps.s3.send(new HeadObjectCommand({ Bucket: this.deps.proxyBucket, Key: sidecarKey(sourceKey) }));
      return { eTag: head.Metadata?.["source-etag"], focus: parseFocusMetadata(head.Metadata?.[FOCUS_METADATA]), status: head.Metadata?.[STATUS_METADATA] };
    } catch (err) {
      // Without s3:ListBucket on the proxy bucket, S3 answers a HEAD of a missing key with 403
      // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html): no sidecar yet.
      if (isNotFound(err) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) return {};
      throw err;
    }
  }

  private async render(sourceKey: string, variant: ResolvedVariant): Promise<{ source: ObjectHead; output: RenderedRendition; provisional: boolean }> {
    const { tenant, memoryBudget } = this.deps;
    const { rendition } = variant;
    const needsFocus =
      rendition.fit === "cover" && rendition.width !== undefined && rendition.height !== undefined && (rendition.gravity ?? "focus") === "focus";
    const sidecarRead = needsFocus || this.moderated ? this.storedAnalysis(sourceKey) : undefined;
    sidecarRead?.catch(() => undefined); // awaited below; a failed download must not leave it unhandled
    const overlaysRead = rendition.overlay ? this.overlays.load([rendition.overlay.key]) : undefined;
    overlaysRead?.catch(() => undefined);
    const download = await this.download(sourceKey);
    try {
      const [read, overlays] = await Promise.all([sidecarRead, overlaysRead]);
      const stored = read?.eTag === download.head.eTag ? read : undefined;
      if (this.moderated && !stored) throw new HttpFailure(503, "the source has not been reviewed yet: retry");
      if (stored?.status === "quarantined") throw new HttpFailure(451, "the source was withheld by content moderation");
      const focus = stored?.focus;
      this.stats.renders++;
      const options: RenderOptions = {
        maxInputPixels: tenant.limits.maxInputPixels,
        maxFrames: tenant.limits.maxFrames,
        profile: tenant.metadata.renditionProfile,
        budget: memoryBudget,
        timeoutSeconds: this.deps.renderTimeoutSeconds,
        focus,
        overlays,
      };
      const rendered = await renderFromSource({ input: download.input, renditions: [rendition], options, log: this.deps.log });
      return { source: download.head, output: rendered.outputs[0]!, provisional: needsFocus && !focus };
    } finally {
      await download.cleanup();
    }
  }
}
