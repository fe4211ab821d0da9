/**
 * Where on-demand variants live and what a stored variant name means. The CloudFront Function
 * (edge-function.js) turns a signed viewer URL into `/_variants/<hash>/<concrete>/<key>`; this
 * module reads that path back on the rendering side and checks it against the tenant again.
 * Every variant of one source shares the prefix `_variants/<hash>/`: one listing and one
 * invalidation path remove them all. (`_` starts no rendition name, so no pipeline key is there.)
 */
import { createHash } from "node:crypto";
import { VARIANTS_ROOT } from "../../contract/naming";
import type { Rendition, RenditionFormat, TenantConfig } from "../../contract/tenant-config";

/** Formats "auto" chooses from, best first (the edge function's NEGOTIATED). */
const NEGOTIATED_FORMATS: readonly RenditionFormat[] = ["avif", "webp", "jpeg"];

/** First 32 hex digits of the key's SHA-256: the edge function's keyHash. */
export function keyHash(sourceKey: string): string {
  return createHash("sha256").update(sourceKey, "utf8").digest("hex").slice(0, 32);
}

/** The prefix that holds every generated variant of one source key. */
export function variantsPrefix(sourceKey: string): string {
  return `${VARIANTS_ROOT}${keyHash(sourceKey)}/`;
}

/** The one CloudFront path that covers every cached variant of one source key. */
export function invalidationPath(sourceKey: string): string {
  return `/${variantsPrefix(sourceKey)}*`;
}

export interface StoredVariantPath {
  /** The proxy-bucket key of the variant. */
  objectKey: string;
  sourceKey: string;
  /** e.g. `w1024.webp`, `thumb.webp`, `w1024.auto-avif` */
  concrete: string;
}

/** `/_variants/<hash>/<concrete>/<encoded key>` as the function URL receives it; undefined when malformed or the hash is not the key's. */
export function parseStoredPath(rawPath: string): StoredVariantPath | undefined {
  const match = /^\/_variants\/([0-9a-f]{32})\/([^/]+)\/(.+)$/.exec(rawPath);
  if (!match) return undefined;
  let sourceKey: string;
  try {
    sourceKey = decodeURIComponent(match[3]!);
  } catch {
    return undefined;
  }
  if (keyHash(sourceKey) !== match[1]) return undefined;
  return { objectKey: `${VARIANTS_ROOT}${match[1]}/${match[2]}/${sourceKey}`, sourceKey, concrete: match[2]! };
}

export interface ResolvedVariant {
  rendition: Rendition;
  /** The format was chosen from Accept: the response varies by it. */
  negotiated: boolean;
}

/** The rendition a concrete variant name stands for, if the tenant offers it. */
export function resolveVariant(tenant: TenantConfig, concrete: string): ResolvedVariant | undefined {
  const match = /^([a-z0-9][a-z0-9_-]{0,62})\.(auto-)?(jpeg|webp|avif|png)$/.exec(concrete);
  if (!match) return undefined;
  const [, name, auto, formatName] = match;
  const format = formatName as RenditionFormat;
  const negotiated = auto !== undefined;
  const { onDemand } = tenant;
  if (negotiated && !NEGOTIATED_FORMATS.includes(format)) return undefined;
  const width = /^w([1-9][0-9]{0,4})$/.exec(name!);
  if (width) {
    const pixels = Number(width[1]);
    if (!onDemand.widths.includes(pixels)) return undefined;
    if (!onDemand.formats.includes(negotiated ? "auto" : format)) return undefined;
    return { rendition: { name: name!, width: pixels, fit: "inside", format, quality: onDemand.quality }, negotiated };
  }
  const named = [...tenant.renditions, ...onDemand.presets].find((r) => r.name === name);
  if (!named || named.format !== (negotiated ? "auto" : format)) return undefined;
  return { rendition: { ...named, format }, negotiated };
}
