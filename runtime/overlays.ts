/**
 * Overlay images (watermarks, logos: docs/overlays.md) from the tenant's source bucket, kept once
 * per container and revalidated by ETag at every use: a GET with If-None-Match costs S3 no body
 * when nothing changed (304), and a replaced overlay is used from the next object on. The callers
 * start it beside the source's own download, so it adds no round trip to an object or a miss.
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { isNotFound, PermanentError } from "./errors";
import type { Overlay, Rendition } from "../contract/tenant-config";

/** The overlays some renditions draw, by key: the bytes to hand to the renderer (RenderOptions.overlays). */
export type OverlayImages = ReadonlyMap<string, Buffer>;

/** Every overlay key the renditions name, once each. */
export function overlayKeys(renditions: readonly Pick<Rendition, "overlay">[]): string[] {
  return [...new Set(renditions.flatMap((r) => (r.overlay ? [r.overlay.key] : [])))];
}

export class OverlayStore {
  private readonly cache = new Map<string, { eTag: string; body: Buffer }>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** The current bytes of each key. A missing overlay fails the object permanently, naming the key. */
  async load(keys: readonly string[]): Promise<OverlayImages> {
    const loaded = await Promise.all(keys.map(async (key) => [key, await this.current(key)] as const));
    return new Map(loaded);
  }

  private async current(key: string): Promise<Buffer> {
    const cached = this.cache.get(key);
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: cached?.eTag }));
      const body = Buffer.from(await result.Body!.transformToByteArray());
      this.cache.set(key, { eTag: result.ETag ?? "", body });
      return body;
    } catch (err) {
      if (cached && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 304) return cached.body;
      if (isNotFound(err)) {
        this.cache.delete(key);
        throw new PermanentError(
          "OVERLAY_MISSING",
          `the overlay s3://${this.bucket}/${key} that the tenant's renditions draw does not exist: upload it (then \`npm run reprocess -- --tenant <name> --status failed --force\`), or remove the overlay from the config`,
          { cause: err },
        );
      }
      throw err;
    }
  }
}

/** The overlay's pixels at its size on one rendition, and where they go. */
interface PlacedOverlay {
  data: Buffer;
  width: number;
  height: number;
  left: number;
  top: number;
}

/** Prepared overlays, by source bytes and target size: every rendition of that size reuses one. */
const prepared = new WeakMap<Buffer, Map<string, Promise<PlacedOverlay>>>();

/**
 * The overlay sized to `widthRatio` of the rendition (within it), its alpha scaled by `opacity`,
 * placed by its gravity at `margin` from the edges. SVG is rasterised at the size it is drawn.
 */
export function placeOverlay(image: Buffer, overlay: Overlay, target: { width: number; height: number }): Promise<PlacedOverlay> {
  const id = `${target.width}x${target.height}|${overlay.widthRatio}|${overlay.opacity}|${overlay.margin}|${overlay.gravity}`;
  let sizes = prepared.get(image);
  if (!sizes) prepared.set(image, (sizes = new Map()));
  let placed = sizes.get(id);
  if (!placed) {
    placed = prepare(image, overlay, target);
    placed.catch(() => sizes.delete(id));
    sizes.set(id, placed);
  }
  return placed;
}

async function prepare(image: Buffer, overlay: Overlay, target: { width: number; height: number }): Promise<PlacedOverlay> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(image).metadata();
  } catch (err) {
    throw new PermanentError("OVERLAY_INVALID", `the overlay ${overlay.key} is not an image sharp can read: ${(err as Error).message}`, { cause: err });
  }
  if (!meta.width || !meta.height) throw new PermanentError("OVERLAY_INVALID", `the overlay ${overlay.key} has no dimensions`);
  const margin = Math.round(overlay.margin * Math.min(target.width, target.height));
  // As wide as asked, but never taller or wider than the rendition leaves inside its margins.
  const room = { width: Math.max(1, target.width - 2 * margin), height: Math.max(1, target.height - 2 * margin) };
  const scale = Math.min((overlay.widthRatio * target.width) / meta.width, room.width / meta.width, room.height / meta.height);
  const width = Math.max(1, Math.round(meta.width * scale));
  const height = Math.max(1, Math.round(meta.height * scale));
  // SVG: rendered at the density that gives this size (crisp), not scaled from 72 dpi.
  const density = meta.format === "svg" ? Math.min(100_000, Math.max(1, (72 * width) / meta.width)) : undefined;
  const { data } = await sharp(image, density ? { density } : {})
    .resize(width, height, { fit: "fill" })
    .toColourspace("srgb")
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (overlay.opacity < 1) for (let i = 3; i < data.length; i += 4) data[i] = Math.round(data[i]! * overlay.opacity);
  const g = overlay.gravity;
  const left = g.includes("west") ? margin : g.includes("east") ? target.width - margin - width : Math.round((target.width - width) / 2);
  const top = g.startsWith("north") ? margin : g.startsWith("south") ? target.height - margin - height : Math.round((target.height - height) / 2);
  return { data, width, height, left, top };
}
