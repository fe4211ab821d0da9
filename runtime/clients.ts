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

/** Shared by the Lambda's clients and the local platform's, so both time out and retry alike. */
export function sdkConfig(options: ClientOptions) {
  return { maxAttempts: options.maxAttempts, requestHandler: { requestTimeout: options.requestTimeoutMs, connectionTimeout: 5_000 } };
}

/** The container's S3 client (both functions). The endpoint comes from the SDK's own AWS_ENDPOINT_URL_S3 when set. */
export function createS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client({ ...sdkConfig(clientOptionsFrom(env)), forcePathStyle: env[ENV.forcePathStyle] === "true" });
}
