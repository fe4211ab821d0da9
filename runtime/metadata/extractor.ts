/**
 * Metadata extraction: exiftool reads the object through the range helper (only the bytes it needs),
 * falling back to streaming into `exiftool -fast -json -` when the helper fails. exiftool-vendored's
 * ReadTask turns the JSON into typed Tags (dates, time zones, GPS), exactly as its own reads would.
 */
import type { Tags } from "exiftool-vendored";
import { ReadTask } from "exiftool-vendored/dist/ReadTask";
import path from "node:path";
import { ExiftoolHelper, ExiftoolRejected, HelperFailure, readOptionsFromArgs, SourceReadFailed, type ReadOptions } from "./exiftool-helper";
import type { ExiftoolPaths } from "./exiftool-paths";
import { PermanentError } from "../errors";
import type { RangeReader } from "./range-reader";
import { streamTags } from "./stream-fallback";

/** Tags exiftool derives from the file handle, not the content: S3 is the truth for these. */
export const HANDLE_TAGS: ReadonlySet<string> = new Set([
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

/** The key's extension without the dot ("" when none), as exiftool would take it from a file name. */
function extensionOf(sourceName: string): string {
  return path.extname(sourceName).slice(1);
}

export interface ExtractedMetadata {
  /** Parsed by exiftool-vendored (ExifDateTime objects, numeric GPS, time zone inference). */
  tags: Tags;
  /** exiftool's JSON, without the handle tags: what the sidecar stores. */
  raw: Record<string, unknown>;
  /** "ranged": exiftool read only what it asked for; "stream": the object was piped through exiftool from its start. */
  method: "ranged" | "stream";
  /** Helper processes that failed on this object (desync, death, hang) before it was read. */
  helperFailures: string[];
}

export interface ExtractorOptions {
  /** Budget of one helper request, S3 reads included. Default 30 s. */
  requestTimeoutMs?: number;
  /** Budget of the streaming fallback. Default: the request budget. */
  streamTimeoutMs?: number;
}

/** exiftool-vendored's arguments for a read, which are the same for every file but its name (the last one). */
export const exiftoolReadArgs = (): string[] => ReadTask.for("object", {}).args.slice(0, -1);

export class MetadataExtractor {
  readonly helper: ExiftoolHelper;
  private readonly streamTimeoutMs: number;
  private readonly exiftoolArgs: string[];
  private readonly readOptions: ReadOptions;

  constructor(
    readonly paths: ExiftoolPaths,
    options: ExtractorOptions = {},
  ) {
    this.helper = new ExiftoolHelper(paths, options);
    this.streamTimeoutMs = options.streamTimeoutMs ?? options.requestTimeoutMs ?? 30_000;
    this.exiftoolArgs = exiftoolReadArgs();
    this.readOptions = readOptionsFromArgs(this.exiftoolArgs);
  }

  /**
   * Ranged first; after a helper that died or fell out of step, once more by ranges on a fresh
   * helper (the failure may have been the previous object's doing); only then the streaming fallback.
   */
  async extract(reader: RangeReader, sourceName: string): Promise<ExtractedMetadata> {
    const task = ReadTask.for(sourceName, {});
    const helperFailures: string[] = [];
    let raw: Record<string, unknown> | undefined;
    for (let attempt = 1; attempt <= 2 && raw === undefined; attempt++) {
      try {
        raw = await this.helper.readTags(reader, { ...this.readOptions, ext: extensionOf(sourceName) });
      } catch (err) {
        // The object could not be read: streaming it would fail the same way; let the caller judge why.
        if (err instanceof SourceReadFailed) throw err.cause;
        if (err instanceof ExiftoolRejected) {
          helperFailures.push(`exiftool: ${err.message}`);
          break;
        }
        if (!(err instanceof HelperFailure)) throw err;
        helperFailures.push(`${err.kind}: ${err.message}`);
        if (!err.freshHelperMayRead) break;
      }
    }
    const method: ExtractedMetadata["method"] = raw === undefined ? "stream" : "ranged";
    raw ??= await this.viaStream(reader, this.exiftoolArgs, helperFailures);
    const content = Object.fromEntries(Object.entries(raw).filter(([name]) => !HANDLE_TAGS.has(name)));
    const tags = task.parse(JSON.stringify([content]));
    delete (tags as { SourceFile?: string }).SourceFile;
    return { tags, raw: content, method, helperFailures };
  }

  /** The largest embedded JPEG (RAW/HEIC previews), read by ranges like the metadata. */
  async extractPreview(reader: RangeReader, sourceName: string): Promise<Buffer | undefined> {
    try {
      return await this.helper.extractPreview(reader, extensionOf(sourceName));
    } catch (err) {
      throw err instanceof SourceReadFailed ? err.cause : err;
    }
  }

  close(): Promise<void> {
    return this.helper.close();
  }

  private async viaStream(reader: RangeReader, args: string[], helperFailures: string[]): Promise<Record<string, unknown>> {
    const { json, stderr } = await streamTags(this.paths, reader, args, this.streamTimeoutMs);
    try {
      const parsed = JSON.parse(json) as Record<string, unknown>[];
      if (parsed[0]) return parsed[0];
    } catch {
      // fall through to the error below
    }
    const why = [stderr.trim().slice(0, 300) || "no output", ...helperFailures.map((f) => f.slice(0, 200))].join("; ");
    throw new PermanentError("METADATA_FAILED", `exiftool could not read the file: ${why}`);
  }
}
