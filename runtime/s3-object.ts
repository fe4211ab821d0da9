/**
 * Reads of one source object version. Every request carries If-Match with the event's ETag, so a
 * stale event can never read (and render) bytes of a newer upload: S3 answers 412 instead.
 */
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandOutput, type HeadObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { isNotFound, TransientError } from "./errors";
import type { ByteSource } from "./metadata/range-reader";

export interface ObjectHead {
  size: number;
  eTag: string;
  versionId?: string;
  contentType?: string;
  lastModified?: string;
}

const quote = (eTag: string) => `"${eTag.replace(/"/g, "")}"`;

/** The head S3 answers with, from a HEAD or from a GET's headers alike. */
function toHead(answer: HeadObjectCommandOutput | GetObjectCommandOutput): ObjectHead {
  return {
    size: answer.ContentLength ?? 0,
    eTag: (answer.ETag ?? "").replace(/"/g, ""),
    versionId: answer.VersionId ?? undefined,
    contentType: answer.ContentType ?? undefined,
    lastModified: answer.LastModified?.toISOString(),
  };
}

export async function headObject(s3: S3Client, bucket: string, key: string, eTag?: string): Promise<ObjectHead> {
  return toHead(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfMatch: eTag ? quote(eTag) : undefined })));
}

/** The object's head, or undefined when there is no such key (404; with s3:ListBucket, S3 says 404, not 403). */
export async function headIfExists(s3: S3Client, bucket: string, key: string, eTag?: string): Promise<ObjectHead | undefined> {
  try {
    return await headObject(s3, bucket, key, eTag);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export class S3ByteSource implements ByteSource {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly head: ObjectHead,
  ) {}

  get size(): number {
    return this.head.size;
  }

  async fetch(start: number, end: number, signal?: AbortSignal): Promise<Buffer> {
    const response = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.key, Range: `bytes=${start}-${end}`, IfMatch: quote(this.head.eTag) }),
      { abortSignal: signal },
    );
    return Buffer.from(await response.Body!.transformToByteArray());
  }
}

/** Where this process spools large objects: its own folder (SPOOL_DIR overrides), emptied when a process starts. */
export function spoolRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.SPOOL_DIR ?? path.join(os.tmpdir(), "tip-spool");
}

export function cleanStaleSpools(env: NodeJS.ProcessEnv = process.env): void {
  rmSync(spoolRoot(env), { recursive: true, force: true });
  mkdirSync(spoolRoot(env), { recursive: true });
}

export interface Download {
  head: ObjectHead;
  /** The bytes, or the spool file that holds them. */
  input: Buffer | string;
  cleanup: () => Promise<void>;
}

/** Downloads the object whole: into memory when small, into a temp file (Lambda's /tmp) when large. */
export async function downloadObject(
  s3: S3Client,
  bucket: string,
  key: string,
  head: ObjectHead,
  spoolAboveBytes: number,
  spoolDir: string,
): Promise<Omit<Download, "head">> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: quote(head.eTag) }));
  return readBody(response.Body as Readable, head.size, spoolAboveBytes, spoolDir);
}

/**
 * The object's current version in one round trip (the on-demand renderer's read): `accept` sees its
 * head (size, ETag) from the response's headers before a byte of the body is read, and may refuse
 * it (the body is then dropped unread). Undefined when there is no such key.
 */
export async function downloadCurrent(
  s3: S3Client,
  bucket: string,
  key: string,
  accept: (head: ObjectHead) => void,
  spoolAboveBytes: number,
  spoolDir: string,
): Promise<Download | undefined> {
  let response;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const head = toHead(response);
  const body = response.Body as Readable;
  try {
    accept(head);
  } catch (err) {
    body.destroy();
    throw err;
  }
  return { head, ...(await readBody(body, head.size, spoolAboveBytes, spoolDir)) };
}

/**
 * The body into one buffer of the size S3 announced, chunk by chunk as it arrives: no list of
 * chunks joined at the end (the SDK's transformToByteArray), so one copy and one allocation.
 * A body longer or shorter than announced is an error of this read (retried), never an image.
 */
export async function readExactly(body: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.length > size) throw new TransientError("BODY_LENGTH_MISMATCH", `the object's body is longer than the ${size} bytes S3 announced`);
    at += chunk.copy(bytes, at);
  }
  if (at !== size) throw new TransientError("BODY_LENGTH_MISMATCH", `the object's body ended after ${at} of ${size} bytes`);
  return bytes;
}

async function readBody(body: Readable, size: number, spoolAboveBytes: number, spoolDir: string): Promise<Omit<Download, "head">> {
  if (size <= spoolAboveBytes) return { input: await readExactly(body, size), cleanup: async () => undefined };
  // sharp buffers a stream whole and copies it; from a file path it reads what it needs.
  await mkdir(spoolDir, { recursive: true });
  const dir = await mkdtemp(path.join(spoolDir, "source-"));
  const file = path.join(dir, "object");
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    await pipeline(body, createWriteStream(file));
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { input: file, cleanup };
}
