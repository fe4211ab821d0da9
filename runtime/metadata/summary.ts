/** The few facts the table item keeps, picked from exiftool-vendored's parsed Tags. */
import type { Tags } from "exiftool-vendored";

export interface MetadataSummary {
  fileType?: string;
  mimeType?: string;
  width?: number;
  height?: number;
  orientation?: number;
  capturedAt?: string;
  camera?: string;
  gps?: { latitude: number; longitude: number; altitude?: number };
  exiftoolError?: string;
}

const CAPTURE_TAGS = ["SubSecDateTimeOriginal", "DateTimeOriginal", "CreateDate", "DateTimeCreated", "DigitalCreationDateTime", "MediaCreateDate"] as const;

function dateToIso(value: unknown): string | undefined {
  if (value && typeof value === "object" && "toISOString" in value && typeof value.toISOString === "function") {
    const iso = (value as { toISOString(): string | undefined }).toISOString();
    return iso || undefined;
  }
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

const finite = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Item fields copied from a file's tags are bounded: a file must not be able to push its item past DynamoDB's 400 KB. */
const MAX_FIELD_CHARS = 256;
const clip = (v: string | undefined): string | undefined => (v && v.length > MAX_FIELD_CHARS ? `${v.slice(0, MAX_FIELD_CHARS - 1)}…` : v);

export function summarizeTags(tags: Tags, keepGps: boolean): MetadataSummary {
  const t = tags as Record<string, unknown>;
  let capturedAt: string | undefined;
  for (const name of CAPTURE_TAGS) {
    capturedAt = dateToIso(t[name]);
    if (capturedAt) break;
  }
  const make = typeof t.Make === "string" ? t.Make.trim() : "";
  const model = typeof t.Model === "string" ? t.Model.trim() : "";
  const camera = model.toLowerCase().startsWith(make.toLowerCase()) ? model : [make, model].filter(Boolean).join(" ");
  const latitude = finite(t.GPSLatitude);
  const longitude = finite(t.GPSLongitude);
  const altitude = finite(t.GPSAltitude);
  return {
    fileType: typeof t.FileType === "string" ? clip(t.FileType) : undefined,
    mimeType: typeof t.MIMEType === "string" ? clip(t.MIMEType) : undefined,
    width: finite(t.ImageWidth) ?? finite(t.ExifImageWidth),
    height: finite(t.ImageHeight) ?? finite(t.ExifImageHeight),
    orientation: finite(t.Orientation),
    capturedAt: clip(capturedAt),
    camera: clip(camera) || undefined,
    gps: keepGps && latitude !== undefined && longitude !== undefined ? { latitude, longitude, ...(altitude !== undefined ? { altitude } : {}) } : undefined,
    exiftoolError: typeof t.Error === "string" ? clip(t.Error) : undefined,
  };
}
