/**
 * Proxy-bucket keys derived from the full source key, so `a/x.jpg` and `b/x.jpg` never collide:
 * `<rendition>/<source key>.<ext>` and `metadata/<source key>.json`. S3 keys are limited to 1,024
 * UTF-8 bytes; a source key too long to carry a prefix and suffix maps to `<rendition>.long/<sha256>`.
 */
import { createHash } from "node:crypto";
import type { RenditionFormat } from "../contract/tenant-config";
import { PLATFORM_PREFIX, SIDECAR_ROOT } from "../contract/naming";

const MAX_KEY_BYTES = 1024;

const EXTENSIONS: Record<RenditionFormat, string> = { jpeg: "jpg", webp: "webp", avif: "avif", png: "png" };
export const CONTENT_TYPES: Record<RenditionFormat, string> = {
  jpeg: "image/jpeg",
  webp: "image/webp",
  avif: "image/avif",
  png: "image/png",
};

function derivedKey(prefix: string, sourceKey: string, extension: string): string {
  const key = `${prefix}/${sourceKey}.${extension}`;
  if (Buffer.byteLength(key, "utf8") <= MAX_KEY_BYTES) return key;
  const digest = createHash("sha256").update(sourceKey, "utf8").digest("hex");
  // `<prefix>.long/`: rendition names hold no '.', so no unhashed key (always `<prefix>/...`) can
  // ever be this one, whatever the user names an object (`_long-keys/<sha256>` included).
  return `${prefix}.long/${digest}.${extension}`;
}

export function renditionKey(renditionName: string, sourceKey: string, format: RenditionFormat): string {
  return derivedKey(renditionName, sourceKey, EXTENSIONS[format]);
}

export function sidecarKey(sourceKey: string): string {
  return derivedKey(SIDECAR_ROOT, sourceKey, "json");
}

/** "Folders" made by the S3 console and sync tools: 0-byte keys ending in '/', never uploads. */
export function isFolderMarker(key: string, size: number | undefined): boolean {
  return key.endsWith("/") && (size ?? 0) === 0;
}

export function isPlatformKey(key: string): boolean {
  return key.startsWith(PLATFORM_PREFIX);
}
