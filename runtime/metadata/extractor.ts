/**
 * Metadata extraction: exiftool reads the object through the range helper (only the bytes it needs),
 * falling back to streaming into `exiftool -fast -json -` when the helper fails. exiftool-vendored's
 * ReadTask turns the JSON into typed Tags (dates, time zones, GPS), exactly as its own reads would.
 */
import type { Tags } from "exiftool-vendored";
import { DefaultReadTaskOptions } from "exiftool-vendored";
import { ReadTask } from "exiftool-vendored/dist/ReadTask";
import { ExiftoolHelper, ExiftoolRejected, HelperFailure, SourceReadFailed } from "./exiftool-helper";
import type { ExiftoolPaths } from "./exiftool-paths";
import type { RangeReader } from "./range-reader";
import { streamTags } from "./stream-fallback";

/** Tags exiftool derives from the file handle, not the content: S3 is the truth for these. */
const HANDLE_TAGS = new Set([
  "SourceFile",
  "FileName",
  "Directory",
  "FileSize",
  "FileModifyDate",
  "FileAccessDate",
  "FileInodeChangeDate",
  "FilePermissions",
  "ExifToolVersion",
]);

export interface ExtractedMetadata {
  /** Parsed by exiftool-vendored (ExifDateTime objects, numeric GPS, time zone inference). */
  tags: Tags;
  /** exiftool's JSON, without the handle tags: what the sidecar stores. */
  raw: Record<string, unknown>;
  method: "ranged" | "stream";
}

export class MetadataExtractor {
  readonly helper: ExiftoolHelper;
  private readonly timeoutMs: number;

  constructor(
    readonly paths: ExiftoolPaths,
    options: { requestTimeoutMs?: number } = {},
  ) {
    this.helper = new ExiftoolHelper(paths, options);
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  async extract(reader: RangeReader, sourceName: string): Promise<ExtractedMetadata> {
    const task = ReadTask.for(sourceName, {});
    let raw: Record<string, unknown>;
    let method: ExtractedMetadata["method"] = "ranged";
    try {
      raw = await this.helper.readTags(reader, DefaultReadTaskOptions.numericTags);
    } catch (err) {
      // The object could not be read: streaming it would fail the same way; let the caller judge why.
      if (err instanceof SourceReadFailed) throw err.cause;
      if (!(err instanceof HelperFailure) && !(err instanceof ExiftoolRejected)) throw err;
      method = "stream";
      raw = await this.viaStream(reader, task.args.slice(0, -1));
    }
    const content = Object.fromEntries(Object.entries(raw).filter(([name]) => !HANDLE_TAGS.has(name)));
    const tags = task.parse(JSON.stringify([content]));
    delete (tags as { SourceFile?: string }).SourceFile;
    return { tags, raw: content, method };
  }

  /** The largest embedded JPEG (RAW/HEIC previews), read by ranges like the metadata. */
  async extractPreview(reader: RangeReader): Promise<Buffer | undefined> {
    try {
      return await this.helper.extractPreview(reader);
    } catch (err) {
      throw err instanceof SourceReadFailed ? err.cause : err;
    }
  }

  close(): Promise<void> {
    return this.helper.close();
  }

  private async viaStream(reader: RangeReader, args: string[]): Promise<Record<string, unknown>> {
    const { json, stderr } = await streamTags(this.paths, reader, args, this.timeoutMs);
    try {
      const parsed = JSON.parse(json) as Record<string, unknown>[];
      if (parsed[0]) return parsed[0];
    } catch {
      // fall through to the error below
    }
    throw new ExiftoolRejected(`exiftool produced no metadata: ${stderr.trim().slice(0, 300) || "no output"}`);
  }
}
