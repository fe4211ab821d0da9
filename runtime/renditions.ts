/**
 * Renditions with sharp: decode once (shrink-on-load to the smallest size that still serves every
 * rendition, auto-oriented, converted to sRGB), then fan out to every rendition of the tenant from
 * those raw pixels. Outputs carry no EXIF/XMP (so no GPS); an sRGB ICC profile only when asked.
 */
import sharp from "sharp";
import { PermanentError } from "./errors";
import type { RawImage } from "./heif";
import { CONTENT_TYPES, renditionKey } from "./keys";
import type { Rendition, TenantConfig } from "./tenant-config";

export interface RenderedRendition {
  name: string;
  key: string;
  width: number;
  height: number;
  bytes: number;
  format: Rendition["format"];
  contentType: string;
  body: Buffer;
}

export interface SourceImage {
  width: number;
  height: number;
  format: string;
  pages: number;
}

export interface RenderOptions {
  maxInputPixels: number;
  profile: TenantConfig["metadata"]["renditionProfile"];
}

function toImageError(err: unknown): PermanentError {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new PermanentError("TOO_MANY_PIXELS", `image exceeds the pixel limit: ${message}`, { cause: err });
  if (/unsupported image format|bad seek|not a known file format/i.test(message)) {
    return new PermanentError("UNSUPPORTED_FORMAT", `sharp cannot decode this format: ${message}`, { cause: err });
  }
  return new PermanentError("CORRUPT_IMAGE", `image could not be decoded: ${message}`, { cause: err });
}

/** The decompression-bomb guard, applied to whichever header is read first (exiftool's or sharp's). */
export function checkPixelLimit(width: number, height: number, maxInputPixels: number): void {
  if (width * height > maxInputPixels) {
    throw new PermanentError("TOO_MANY_PIXELS", `image is ${width}x${height} (${width * height} pixels), above the tenant's limit of ${maxInputPixels}`);
  }
}

/** The scale (<= 1) at which the decoded image still covers every rendition without enlarging. */
export function sharedScale(width: number, height: number, renditions: readonly Rendition[]): number {
  let scale = 0;
  for (const r of renditions) {
    const sx = r.width ? r.width / width : undefined;
    const sy = r.height ? r.height / height : undefined;
    const needed =
      sx !== undefined && sy !== undefined
        ? r.fit === "cover" || r.fit === "outside" || r.fit === "fill"
          ? Math.max(sx, sy)
          : Math.min(sx, sy)
        : (sx ?? sy)!;
    scale = Math.max(scale, needed);
  }
  return Math.min(1, scale);
}

/** What sharp renders from: an encoded image in memory or in a file, or pixels another decoder produced. */
export type RenderInput = Buffer | string | RawImage;

function open(input: RenderInput, limitInputPixels: number): sharp.Sharp {
  if (typeof input === "string" || Buffer.isBuffer(input)) return sharp(input, { limitInputPixels, failOn: "truncated" });
  return sharp(input.raw.data, { raw: { width: input.raw.width, height: input.raw.height, channels: input.raw.channels }, limitInputPixels });
}

export async function renderRenditions(
  input: RenderInput,
  sourceKey: string,
  renditions: readonly Rendition[],
  options: RenderOptions,
): Promise<{ source: SourceImage; outputs: RenderedRendition[] }> {
  let header: sharp.Metadata;
  try {
    header = await open(input, options.maxInputPixels).metadata();
  } catch (err) {
    throw toImageError(err);
  }
  const { width, height } = header;
  if (!width || !height) throw new PermanentError("CORRUPT_IMAGE", "image has no dimensions");
  // Checked from the header so a decompression bomb is refused before any pixel is decoded.
  checkPixelLimit(width, height, options.maxInputPixels);
  const rotated = (header.orientation ?? 1) >= 5;
  const upright = rotated ? { width: height, height: width } : { width, height };
  const scale = sharedScale(upright.width, upright.height, renditions);
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await open(input, options.maxInputPixels)
      .autoOrient()
      .resize(Math.max(1, Math.round(upright.width * scale)), Math.max(1, Math.round(upright.height * scale)), { fit: "fill" })
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw toImageError(err);
  }
  const raw = { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };
  const outputs = await Promise.all(renditions.map((r) => renderOne(decoded.data, raw, sourceKey, r, options)));
  return { source: { width: upright.width, height: upright.height, format: header.format ?? "unknown", pages: header.pages ?? 1 }, outputs };
}

async function renderOne(
  pixels: Buffer,
  raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 },
  sourceKey: string,
  rendition: Rendition,
  options: RenderOptions,
): Promise<RenderedRendition> {
  let pipeline = sharp(pixels, { raw }).resize({
    width: rendition.width,
    height: rendition.height,
    fit: rendition.fit,
    withoutEnlargement: true,
  });
  if (rendition.format === "jpeg") pipeline = pipeline.flatten({ background: "#ffffff" });
  if (options.profile === "icc") pipeline = pipeline.withIccProfile("srgb");
  switch (rendition.format) {
    case "jpeg":
      pipeline = pipeline.jpeg({ quality: rendition.quality, mozjpeg: false });
      break;
    case "webp":
      pipeline = pipeline.webp({ quality: rendition.quality });
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
    key: renditionKey(rendition.name, sourceKey, rendition.format),
    width: info.width,
    height: info.height,
    bytes: data.length,
    format: rendition.format,
    contentType: CONTENT_TYPES[rendition.format],
    body: data,
  };
}
