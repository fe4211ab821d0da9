/**
 * The S3 client of a function container, built once from its environment, and the SDK settings the
 * local platform shares so that both time out and retry alike. (DynamoDB is the processor's alone:
 * runtime/table-client.ts, so that the renderer's bundle does not carry it.)
 */
import { S3Client } from "@aws-sdk/client-s3";
import { ENV } from "../contract/environment";

export function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

export interface ClientOptions {
  /** SDK attempts per call (its own backoff between them) before the queue's retry takes over. */
  maxAttempts: number;
  /** A response slower than this is abandoned and retried. */
  requestTimeoutMs: number;
}

export function clientOptionsFrom(env: NodeJS.ProcessEnv): ClientOptions {
  return { maxAttempts: Number(env.AWS_MAX_ATTEMPTS ?? 4), requestTimeoutMs: Number(env[ENV.requestTimeoutMs] ?? 20_000) };
}

/**
 * Shared by the Lambda's clients and the local platform's, so both time out and retry alike. The
 * timeout is the socket's idle time (a stalled answer is abandoned; a large body that keeps coming
 * is not): `socketTimeout`, which fails the call with a TimeoutError (retried as transient).
 * @smithy/node-http-handler 4.x's `requestTimeout` only logs a warning unless `throwOnRequestTimeout`
 * is set, and then bounds the whole transfer: the setting this used before did nothing (found when
 * the fake Rekognition held an answer and the call waited forever).
 */
export function sdkConfig(options: ClientOptions) {
  return { maxAttempts: options.maxAttempts, requestHandler: { socketTimeout: options.requestTimeoutMs, connectionTimeout: 5_000 } };
}

/**
 * S3 settings of the on-demand renderer's client, whose every miss waits on a GET of the whole
 * source and ends with a PUT:
 * - No CRC of the body computed and checked by the SDK in JavaScript (its default since 3.729.0, a
 *   setting S3 does not require: https://docs.aws.amazon.com/sdkref/latest/guide/feature-dataintegrity.html).
 *   TLS already guarantees the bytes in transit, the body's length is checked (s3-object.ts
 *   readExactly), and a damaged image fails its decode.
 * - The middleware stack resolved once per command class instead of on every request (the SDK's
 *   `cacheMiddleware`, "0-1ms per request" in its documentation; measured here 0.35-0.4 ms of CPU less
 *   a miss's GET and PUT: docs/benchmarks.md, section M). The SDK's one condition, no middleware added after the
 *   first request, holds: nothing in the renderer adds any. A send with options (the INIT's priming,
 *   prime-clients.ts) bypasses the cache and is made before the first request.
 * The processor keeps the SDK's defaults: it stores what it reads, and its ranged reads pass an
 * abort signal, which bypasses the cache anyway.
 */
export const RENDERER_S3_SETTINGS = {
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
  cacheMiddleware: true,
} as const;

/** The container's S3 client (both functions). The endpoint comes from the SDK's own AWS_ENDPOINT_URL_S3 when set. */
export function createS3Client(env: NodeJS.ProcessEnv = process.env, settings: Partial<typeof RENDERER_S3_SETTINGS> = {}): S3Client {
  return new S3Client({ ...sdkConfig(clientOptionsFrom(env)), forcePathStyle: env[ENV.forcePathStyle] === "true", ...settings });
}
