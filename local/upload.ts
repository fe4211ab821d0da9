import type { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const MULTIPART_ABOVE = 8 * 1024 * 1024;

const unquoted = (eTag: string | undefined) => (eTag ?? "").replace(/"/g, "");

/** A multipart upload in parts of 8 MiB, two at a time: a body of any size, buffered or streamed. */
async function multipartUpload(s3: S3Client, bucket: string, key: string, body: Buffer | Readable, contentType?: string): Promise<string> {
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType },
    partSize: MULTIPART_ABOVE,
    queueSize: 2,
  });
  return unquoted((await upload.done()).ETag);
}

/** Uploads like `aws s3 cp`: one PUT for small bodies, multipart above 8 MiB. Returns the ETag. */
export async function uploadObject(s3: S3Client, bucket: string, key: string, body: Buffer, contentType?: string): Promise<string> {
  if (body.length > MULTIPART_ABOVE) return multipartUpload(s3, bucket, key, body, contentType);
  return unquoted((await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }))).ETag);
}

/**
 * A body that arrives as a stream of known length (the console's uploads): buffered and PUT when
 * small, streamed into a multipart upload above 8 MiB, so a large file never sits whole in memory.
 */
export async function uploadStream(s3: S3Client, bucket: string, key: string, body: Readable, size: number, contentType?: string): Promise<string> {
  if (size > MULTIPART_ABOVE) return multipartUpload(s3, bucket, key, body, contentType);
  return uploadObject(s3, bucket, key, await buffer(body), contentType);
}
