/**
 * Renditions with sharp: decode once (shrink-on-load to the smallest size that still serves every
 * rendition, auto-oriented, converted to sRGB), then fan out to every rendition of the tenant from
 * those raw pixels. Outputs carry no EXIF/XMP (so no GPS); an sRGB ICC profile only when asked.
 */
import sharp from "sharp";
import { PermanentError, TransientError } from "./errors";
import { checkPixelLimit, type RawImage } from "./decoded-image";
import { decoderWorkingSetBytes, type MemoryBudget } from "./memory-budget";
import { CONTENT_TYPES } from "./keys";
import type { Rendition, TenantConfig } from "../contract/tenant-config";
import { focusCrop, type Focus } from "./analysis/focus";
import type { Pixels } from "./analysis/image-analysis";
import { placeOverlay, type OverlayImages } from "./overlays";
import { readJpegFileHeader, readJpegHeader } from "./jpeg-header";

// libvips' operation cache holds decoded inputs, and with them the spool files they came from, open
// after they are deleted (7 deleted files still open after 6 WebPs): /tmp space that never comes back
// in a warm container. Every object is decoded once anyway, so the cache saves nothing.
sharp.cache(false);

/** One encoded rendition; where it is stored is the caller's to decide (runtime/keys.ts, or an on-demand variant path). */
export interface RenderedRendition {
  name: string;
  width: number;
  height: number;
  bytes: number;
  format: Rendition["format"];
  contentType: string;
  body: Buffer;
}

export interface SourceImage {
  /** Upright, of one frame for an animation. */
  width: number;
  height: number;
  format: string;
  pages: number;
  /** Animated GIF or WebP: the frames, their total duration, and the loop count (0: forever). */
  animation?: { frames: number; durationMs: number; loop: number };
}

export interface RenderOptions {
  maxInputPixels: number;
  /** Frames of an animated input (limits.maxFrames); more is refused. Default: no limit beyond maxInputPixels. */
  maxFrames?: number;
  /** The overlay images the renditions draw, by key (runtime/overlays.ts OverlayStore.load). */
  overlays?: OverlayImages;
  profile: TenantConfig["metadata"]["renditionProfile"];
  /** sharp's timeout for the decode (seconds): what is left of the attempt's time. Default none. */
  timeoutSeconds?: number;
  /** The container's decode memory: reserved before decoding. Default: none (tools, tests of pixels). */
  budget?: MemoryBudget;
  /** Where `fit: cover` renditions crop (their gravity "focus"): the object's stored focus. Default: the centre. */
  focus?: Pick<Focus, "x" | "y" | "width" | "height">;
  /**
   * Looks at the decoded pixels before any rendition is encoded (the processor's analysis at upload):
   * its focus replaces `focus`, and `withhold` (a reason) means no rendition is encoded.
   */
  inspect?: Inspector;
}

export interface Inspector {
  /** The long side the decoded pixels must keep for the inspection, whatever the renditions need. */
  minSide: number;
  look(pixels: Pixels): Promise<{ focus?: Focus; withhold?: string }>;
}

/**
 * libvips' error text: every warning its loaders printed before the failure, one a line, many of
 * them the same (a Canon CR2 gives 16 lines of libtiff's, 4 different; a HEVC HEIC 7 "bad seek to
 * <offset>" before the one that says why). Each different line once, in order, with how many more
 * of its kind came (lines differing only in numbers are of a kind): a failure's reason that an
 * operator reads in one go, and that the renderer's answer carries whole.
 */
export function conciseDecoderMessage(message: string): string {
  const kinds = new Map<string, { line: string; more: number }>();
  for (const line of message.split("\n").map((l) => l.trim())) {
    if (!line) continue;
    const shape = line.replace(/\d+/g, "#");
    const kind = kinds.get(shape);
    if (kind) kind.more++;
    else kinds.set(shape, { line, more: 0 });
  }
  return [...kinds.values()].map(({ line, more }) => (more ? `${line} (and ${more} more like it)` : line)).join("; ");
}

/**
 * A decode failure, classified by what retrying can change: the image's own faults are permanent;
 * memory, a spool file gone from /tmp or a time limit belong to this attempt, and are retried.
 */
function toImageError(err: unknown): PermanentError | TransientError {
  const message = conciseDecoderMessage(err instanceof Error ? err.message : String(err));
  if (/out of memory|cannot allocate|memory allocation|bad_alloc|vips_malloc|failed to allocate/i.test(message)) {
    return new TransientError("OUT_OF_MEMORY", `decoding ran out of memory in this attempt: ${message}`, { cause: err });
  }
  if (/Input file is missing|ENOENT/i.test(message))
    return new TransientError("SPOOL_FILE_MISSING", `the downloaded copy disappeared: ${message}`, { cause: err });
  if (/timeout/i.test(message)) return new TransientError("RENDER_TIMEOUT", `rendering took longer than this attempt allows: ${message}`, { cause: err });
  if (/pixel limit/i.test(message)) return new PermanentError("TOO_MANY_PIXELS", `image exceeds the pixel limit: ${message}`, { cause: err });
  if (/unsupported image format|bad seek|not a known file format/i.test(message)) {
    return new PermanentError("UNSUPPORTED_FORMAT", `sharp cannot decode this format: ${message}`, { cause: err });
  }
  return new PermanentError("CORRUPT_IMAGE", `image could not be decoded: ${message}`, { cause: err });
}

/** The scale (<= 1) at which the decoded image still covers every rendition without enlarging. */
export function sharedScale(width: number, height: number, renditions: readonly Rendition[]): number {
  return Math.min(1, Math.max(0, ...renditions.map((r) => fitScale(width, height, r))));
}

/** The scale at which a `width` x `height` image fills one rendition as its fit asks (before "never enlarge"). */
function fitScale(width: number, height: number, rendition: Rendition): number {
  const sx = rendition.width ? rendition.width / width : undefined;
  const sy = rendition.height ? rendition.height / height : undefined;
  if (sx === undefined || sy === undefined) return (sx ?? sy)!;
  return rendition.fit === "cover" || rendition.fit === "outside" || rendition.fit === "fill" ? Math.max(sx, sy) : Math.min(sx, sy);
}

/** What sharp renders from: an encoded image in memory or in a file, or pixels another decoder produced. */
export type RenderInput = Buffer | string | RawImage;

function open(input: RenderInput, limitInputPixels: number, timeoutSeconds?: number, animated = false): sharp.Sharp {
  const image =
    typeof input === "string" || Buffer.isBuffer(input)
      ? sharp(input, { limitInputPixels, failOn: "truncated", animated })
      : sharp(input.raw.data, { raw: { width: input.raw.width, height: input.raw.height, channels: input.raw.channels }, limitInputPixels });
  return timeoutSeconds ? image.timeout({ seconds: timeoutSeconds }) : image;
}

export async function renderRenditions(
  input: RenderInput,
  renditions: readonly Rendition[],
  options: RenderOptions,
): Promise<{ source: SourceImage; outputs: RenderedRendition[] }> {
  let header: ImageHeader;
  try {
    const ours = Buffer.isBuffer(input) ? readJpegHeader(input) : typeof input === "string" ? await readJpegFileHeader(input) : undefined;
    header = ours ?? (await open(input, options.maxInputPixels).metadata());
  } catch (err) {
    throw toImageError(err);
  }
  const { width, height } = header;
  if (!width || !height) throw new PermanentError("CORRUPT_IMAGE", "image has no dimensions");
  const animation = animationOf(header);
  const frames = animation?.frames ?? 1;
  if (options.maxFrames !== undefined && frames > options.maxFrames) {
    throw new PermanentError("TOO_MANY_FRAMES", `the animation has ${frames} frames, above the tenant's limit of ${options.maxFrames} (limits.maxFrames)`);
  }
  // Checked from the header so a decompression bomb is refused before any pixel is decoded: every frame counts.
  checkPixelLimit(width, height * frames, options.maxInputPixels);
  const rotated = (header.orientation ?? 1) >= 5;
  const upright = rotated ? { width: height, height: width } : { width, height };
  const inspectScale = options.inspect ? Math.min(1, options.inspect.minSide / Math.max(upright.width, upright.height)) : 0;
  let scale = Math.max(sharedScale(upright.width, upright.height, renditions), inspectScale);
  const channels = header.hasAlpha ? 4 : 3;
  let rawBytes = upright.width * upright.height * scale * scale * channels;
  // The one buffer every rendition is cut from stays within a quarter of the budget: a cover
  // thumbnail of a 256 x 400,000 strip would otherwise hold the whole strip (410 MB) decoded.
  const maxRawBytes = options.budget ? options.budget.totalBytes / 4 : Infinity;
  if (rawBytes > maxRawBytes) {
    scale *= Math.sqrt(maxRawBytes / rawBytes);
    rawBytes = maxRawBytes;
  }
  const release = await options.budget?.acquire(
    // An animation is decoded as the strip of all its frames, one under another.
    decoderWorkingSetBytes({ ...header, width, height: height * frames, bytesPerSample: header.depth === "ushort" ? 2 : 1 }) +
      rawBytes * (rotated ? 2 : 1) +
      16 * 1024 * 1024,
    `a ${width}x${height} ${header.format ?? "image"}${animation ? ` of ${frames} frames` : ""}${header.isProgressive ? " (progressive)" : ""}`,
  );
  try {
    const source = { ...sourceImage(upright, header), animation };
    const moving = animation ? renditions.filter((r) => ANIMATED_FORMATS.has(r.format)) : [];
    const still = renditions.filter((r) => !moving.includes(r));
    // One rendition (an on-demand variant): one pipeline from the encoded input, as raw sharp does,
    // with no raw copy in between. Several: decode once (the first frame), then fan out from the shared pixels.
    const stills =
      still.length === 1 && !options.inspect
        ? { outputs: [await renderAlone(input, upright, still[0]!, options)] }
        : still.length || options.inspect
          ? await decodeAndEncode(input, upright, scale, still, options)
          : { outputs: [] };
    if (stills.withheld) return { source, outputs: [] };
    // Animated outputs keep every frame, its delay and the loop count: a pipeline each, from the encoded input.
    const animatedOutputs = await Promise.all(
      moving.map((r) => renderAlone(input, upright, r, { ...options, focus: stills.focus ?? options.focus }, framesOf(header))),
    );
    const byName = new Map([...stills.outputs, ...animatedOutputs].map((o) => [o.name, o]));
    return { source, outputs: renditions.map((r) => byName.get(r.name)!) };
  } finally {
    release?.();
  }
}

/** What a render reads of the input before it decodes: sharp's metadata, or a JPEG's markers read directly (jpeg-header.ts). */
type ImageHeader = Pick<
  sharp.Metadata,
  "format" | "width" | "height" | "orientation" | "pages" | "delay" | "loop" | "hasAlpha" | "depth" | "isProgressive" | "channels" | "chromaSubsampling"
> & { coefficientPlanes?: number };

/** Output formats that keep an animation (every other gets its first frame: docs/formats.md). */
const ANIMATED_FORMATS = new Set<Rendition["format"]>(["webp"]);

/** What an animated output must be told again after its pixels went through a raw buffer (an overlay). */
interface Frames {
  count: number;
  delay: number[];
  loop: number;
}

const framesOf = (header: ImageHeader): Frames => ({ count: header.pages ?? 1, delay: header.delay ?? [], loop: header.loop ?? 0 });

/** An animated GIF or WebP (a multi-page TIFF or HEIF is not an animation). */
function animationOf(header: ImageHeader): SourceImage["animation"] {
  const frames = header.pages ?? 1;
  if (frames < 2 || (header.format !== "gif" && header.format !== "webp")) return undefined;
  const delays = header.delay ?? [];
  return { frames, durationMs: delays.reduce((sum, d) => sum + d, 0), loop: header.loop ?? 0 };
}

const sourceImage = (upright: { width: number; height: number }, header: ImageHeader): SourceImage => ({
  width: upright.width,
  height: upright.height,
  format: header.format ?? "unknown",
  pages: header.pages ?? 1,
});

async function renderAlone(
  input: RenderInput,
  upright: { width: number; height: number },
  rendition: Rendition,
  options: RenderOptions,
  frames?: Frames,
): Promise<RenderedRendition> {
  const pipeline = open(input, options.maxInputPixels, options.timeoutSeconds, frames !== undefined)
    .autoOrient()
    .toColourspace("srgb");
  try {
    return await encode(pipeline, upright, rendition, options, frames);
  } catch (err) {
    throw toImageError(err);
  }
}

/** The first frame decoded once, looked at (the analysis), and cut into each rendition. */
async function decodeAndEncode(
  input: RenderInput,
  upright: { width: number; height: number },
  scale: number,
  renditions: readonly Rendition[],
  options: RenderOptions,
): Promise<{ outputs: RenderedRendition[]; focus?: RenderOptions["focus"]; withheld?: boolean }> {
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await open(input, options.maxInputPixels, options.timeoutSeconds)
      .autoOrient()
      .resize(Math.max(1, Math.round(upright.width * scale)), Math.max(1, Math.round(upright.height * scale)), { fit: "fill" })
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw toImageError(err);
  }
  const raw = { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };
  let focus = options.focus;
  if (options.inspect) {
    const seen = await options.inspect.look({ data: decoded.data, ...raw });
    if (seen.withhold) return { outputs: [], withheld: true };
    focus = seen.focus ?? focus;
  }
  const outputs = await Promise.all(renditions.map((r) => encode(sharp(decoded.data, { raw }), raw, r, { ...options, focus })));
  return { outputs, focus };
}

/** The largest width or height each encoder writes (measured with sharp's libvips; JPEG: libjpeg-turbo's 65,500, below sharp's own check of 65,535). */
export const ENCODER_MAX_SIDE: Record<Rendition["format"], number> = { webp: 16_383, jpeg: 65_500, avif: 16_384, png: 2 ** 31 - 1 };

/**
 * Where a rendition would land given the decoded size (sharp's fits, never enlarged), scaled down to
 * what its encoder accepts: a width-only rendition of a very tall image keeps the image's aspect.
 * Undefined when the rendition's own resize already fits.
 */
export function clampToEncoder(width: number, height: number, rendition: Rendition): { width: number; height: number } | undefined {
  const boxed =
    rendition.width !== undefined && rendition.height !== undefined && (rendition.fit === "cover" || rendition.fit === "fill" || rendition.fit === "contain");
  if (boxed) return undefined; // the output is the box, at most 16,384 on a side (the schema's limit)
  const scale = Math.min(1, fitScale(width, height, rendition));
  const [w, h] = [width * scale, height * scale];
  const max = ENCODER_MAX_SIDE[rendition.format];
  if (Math.max(w, h) <= max) return undefined;
  const k = max / Math.max(w, h);
  return { width: Math.max(1, Math.min(max, Math.round(w * k))), height: Math.max(1, Math.min(max, Math.round(h * k))) };
}

/**
 * A `fit: cover` box never enlarges, and keeps its shape: where the image is smaller than the box
 * on a side, the box shrinks as a whole (a 512 x 512 square of a 640 x 480 photo is 480 x 480, not
 * 512 x 480). Other fits are unchanged (docs/formats.md#what-each-fit-gives).
 */
function coverBox(size: { width: number; height: number }, rendition: Rendition): Rendition {
  if (rendition.fit !== "cover" || !rendition.width || !rendition.height) return rendition;
  const k = Math.min(1, size.width / rendition.width, size.height / rendition.height);
  if (k === 1) return rendition;
  return { ...rendition, width: Math.max(1, Math.round(rendition.width * k)), height: Math.max(1, Math.round(rendition.height * k)) };
}

/** The cut of a `fit: cover` rendition whose gravity is the focus (the default), when there is one to keep. */
function coverAroundFocus(size: { width: number; height: number }, rendition: Rendition, focus: RenderOptions["focus"]) {
  if (rendition.fit !== "cover" || !rendition.width || !rendition.height || !focus) return undefined;
  if (rendition.gravity !== undefined && rendition.gravity !== "focus") return undefined;
  return focusCrop(size.width, size.height, { width: rendition.width, height: rendition.height }, focus);
}

/**
 * Draws the rendition's overlay over its resized pixels (every frame of an animation): they go
 * through a raw buffer, since the overlay's size and place depend on the rendition's final size.
 */
async function drawOverlay(resized: sharp.Sharp, overlay: NonNullable<Rendition["overlay"]>, options: RenderOptions, frames?: Frames): Promise<sharp.Sharp> {
  const image = options.overlays?.get(overlay.key);
  if (!image) throw new PermanentError("OVERLAY_MISSING", `the overlay ${overlay.key} was not loaded for this render`);
  const { data, info } = await resized.raw().toBuffer({ resolveWithObject: true });
  const pages = frames?.count ?? 1;
  const frameHeight = Math.round(info.height / pages);
  const mark = await placeOverlay(image, overlay, { width: info.width, height: frameHeight });
  const raw = { width: mark.width, height: mark.height, channels: 4 as const };
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels, ...(pages > 1 ? { pageHeight: frameHeight } : {}) } }).composite(
    Array.from({ length: pages }, (_, page) => ({ input: mark.data, raw, left: mark.left, top: page * frameHeight + mark.top })),
  );
}

/** Resizes an upright `size` image (decoded pixels, or an input still to decode) to the rendition, and encodes it. */
async function encode(
  image: sharp.Sharp,
  size: { width: number; height: number },
  rendition: Rendition,
  options: RenderOptions,
  frames?: Frames,
): Promise<RenderedRendition> {
  rendition = coverBox(size, rendition);
  const clamped = clampToEncoder(size.width, size.height, rendition);
  const crop = coverAroundFocus(size, rendition, options.focus);
  let pipeline = clamped
    ? image.resize({ ...clamped, fit: "fill" })
    : crop
      ? image.resize({ ...crop.resize, fit: "fill" }).extract(crop.extract)
      : image.resize({
          width: rendition.width,
          height: rendition.height,
          fit: rendition.fit,
          withoutEnlargement: true,
          position: rendition.gravity === undefined || rendition.gravity === "focus" ? "centre" : rendition.gravity,
        });
  if (rendition.overlay) pipeline = await drawOverlay(pipeline, rendition.overlay, options, frames);
  if (rendition.format === "jpeg") pipeline = pipeline.flatten({ background: "#ffffff" });
  if (options.profile === "icc") pipeline = pipeline.withIccProfile("srgb");
  switch (rendition.format) {
    case "jpeg":
      pipeline = pipeline.jpeg({ quality: rendition.quality, mozjpeg: false });
      break;
    case "webp":
      // An animation's delays and loop, which a raw buffer (an overlay) does not carry.
      pipeline = pipeline.webp({ quality: rendition.quality, ...(frames && rendition.overlay ? { delay: frames.delay, loop: frames.loop } : {}) });
      break;
    case "avif":
      pipeline = pipeline.avif({ quality: rendition.quality, effort: 2 });
      break;
    case "png":
      pipeline = pipeline.png({ compressionLevel: 6 });
      break;
  }
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  return {
    name: rendition.name,
    width: info.width,
    // An animation's output is its frames one under another: the rendition's height is one frame's.
    height: frames && ANIMATED_FORMATS.has(rendition.format) ? Math.round(info.height / frames.count) : info.height,
    bytes: data.length,
    format: rendition.format,
    contentType: CONTENT_TYPES[rendition.format],
    body: data,
  };
}
