/**
 * A container's first call of each AWS SDK client pays, once, for what every later call reuses:
 * the credentials' resolution, the endpoint's rules, the signing key, the first run (and compile)
 * of the middleware and of each command's serializer. Measured on this project's machine under tsx
 * (where each module also loads on its first use; less in the bundle): ~50 ms for S3's first
 * HeadObject, ~3 ms for the next.
 *
 * `primeS3Client` makes those calls during INIT with a signal that is already aborted: everything
 * runs up to the HTTP handler, which refuses to send (an AbortError, which the SDK does not retry).
 * No request leaves the container, so no IAM permission is used and nothing is read or written;
 * the first request then meets a client that has made its first calls.
 *
 * Used by the on-demand renderer, whose first miss's PUT (after the body is sent, but within the
 * invocation) no longer pays for its first call: first - warm 67 -> 49 ms, means of 4 interleaved
 * pairs of `COLD_RUNS=7 BENCH_ONLY=cold npm run bench`. Not by the processor: there the same
 * priming (S3, and DynamoDB's update and put) measured no better (first - warm 260 -> 292 ms, within
 * this machine's noise, the wrong way), its CPU spent beside perl's preload on the same 2 cores.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";

/** The key of every primed request: shapes a request that is never sent. */
const NEVER_SENT_KEY = "prime-clients/never-sent";

/**
 * What a miss asks S3 for (the source's GET, the sidecar's HEAD, the variant's PUT), each refused
 * before it is sent. Settles when every call has been refused (AbortError); never rejects.
 */
export function primeS3Client(client: S3Client, bucket: string): Promise<PromiseSettledResult<unknown>[]> {
  const options = { abortSignal: AbortSignal.abort() };
  const [Bucket, Key] = [bucket, NEVER_SENT_KEY];
  return Promise.allSettled([
    client.send(new HeadObjectCommand({ Bucket, Key }), options),
    client.send(new GetObjectCommand({ Bucket, Key }), options),
    client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(0), ContentType: "image/webp" }), options),
  ]);
}
