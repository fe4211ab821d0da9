/**
 * The on-demand renderer's entry point (its archive's `index.onDemandHandler`): a Lambda function URL with response streaming (so a
 * variant above the 6 MB buffered-response limit is served), reachable only by the tenant's
 * CloudFront distribution (IAM auth through Origin Access Control). Thin: the path goes to the
 * VariantService; its answer is streamed back.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { ENV } from "../../contract/environment";
import { SPOOL_ABOVE_BYTES } from "../../contract/timing";
import { createS3Client, RENDERER_S3_SETTINGS, required } from "../clients";
import { createLogger } from "../logger";
import { decodeBudgetBytes, MemoryBudget } from "../memory-budget";
import { cleanStaleSpools, spoolRoot } from "../s3-object";
import type { TenantConfig } from "../../contract/tenant-config";
import { readTenantConfig } from "../../contract/tenant-runtime";
import { VariantService, type VariantResponse } from "./render-variant";
import { primeS3Client } from "../prime-clients";

/** The part of a function URL event (payload 2.0) the handler reads. */
export interface FunctionUrlEvent {
  rawPath: string;
  requestContext: { http: { method: string }; requestId?: string };
}

/** Lambda's streaming API (the runtime's global `awslambda`). */
export interface StreamingApi {
  streamifyResponse<T>(handler: (event: T, responseStream: Writable, context: unknown) => Promise<void>): unknown;
  HttpResponseStream: { from(stream: Writable, metadata: { statusCode: number; headers: Record<string, string> }): Writable };
}

/** Lambda writes a streamed body in pieces; 1 MiB keeps each write small and the stream moving. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * The body in 1 MiB writes, each after the stream has drained the last, then the end. Written
 * directly, not through stream.pipeline, which aborts an AbortController at every finish and so
 * builds a DOMException with its stack trace: ~0.25 ms of the main thread a miss in a CPU profile
 * of the peers bench (docs/benchmarks.md).
 */
async function writeBody(stream: Writable, body: Buffer): Promise<void> {
  // Settles when the stream has finished, or failed or closed before (a viewer gone): never waits for a drain that cannot come.
  const done = finished(stream, { readable: false });
  done.catch(() => undefined); // awaited below
  for (let offset = 0; offset < body.length; offset += CHUNK_BYTES) {
    if (!stream.write(body.subarray(offset, offset + CHUNK_BYTES))) await Promise.race([once(stream, "drain"), done]);
  }
  stream.end();
  await done;
}

/**
 * Sends the answer and ends the stream, then waits for the variant's PUT: the viewer has its bytes
 * one S3 round trip sooner, and the invocation still lasts until the variant is stored (whether or
 * not the answer reached the viewer), since Lambda does not wait for work the handler has not awaited
 * (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html, "Ending the stream").
 */
export async function writeResponse(api: StreamingApi, responseStream: Writable, response: VariantResponse): Promise<void> {
  const headers = { ...response.headers, "content-length": String(response.body.length) };
  try {
    await writeBody(api.HttpResponseStream.from(responseStream, { statusCode: response.statusCode, headers }), response.body);
  } finally {
    // Also when the viewer went away mid-answer: the variant is stored for the next request.
    await response.stored;
  }
}

export function createVariantService(
  env: NodeJS.ProcessEnv = process.env,
  clients: { s3: S3Client } = { s3: createS3Client(env, RENDERER_S3_SETTINGS) },
  log: Logger = createLogger(env),
): VariantService {
  const tenant = readTenantConfig<TenantConfig>(required(env, ENV.tenantConfig), ENV.tenantConfig);
  cleanStaleSpools(env);
  return new VariantService({
    s3: clients.s3,
    tenant,
    sourceBucket: required(env, ENV.sourceBucket),
    proxyBucket: required(env, ENV.proxyBucket),
    spoolAboveBytes: SPOOL_ABOVE_BYTES,
    spoolDir: spoolRoot(env),
    // One variant at a time is the norm, but concurrent misses of different variants share a container's memory.
    memoryBudget: new MemoryBudget(decodeBudgetBytes(tenant.onDemand.memoryMb), tenant.onDemand.memoryMb),
    log: log.child({ tenant: tenant.name, role: "on-demand" }),
    renderTimeoutSeconds: Math.max(1, tenant.onDemand.timeoutSeconds - 5),
  });
}

export function createStreamingHandler(service: () => VariantService, api: StreamingApi) {
  return async (event: FunctionUrlEvent, responseStream: Writable): Promise<void> => {
    const response = await service().serve(event.rawPath, event.requestContext.http.method);
    await writeResponse(api, responseStream, response);
  };
}

function isStreamingApi(api: Partial<StreamingApi> | undefined): api is StreamingApi {
  return typeof api?.streamifyResponse === "function" && typeof api.HttpResponseStream?.from === "function";
}

/** A Lambda container's service, its S3 client's first calls made during INIT without sending them (prime-clients.ts). */
function primedVariantService(env: NodeJS.ProcessEnv = process.env): VariantService {
  const s3 = createS3Client(env, RENDERER_S3_SETTINGS);
  void primeS3Client(s3, required(env, ENV.sourceBucket));
  return createVariantService(env, { s3 });
}

/** Built during INIT in a Lambda container (AWS_LAMBDA_FUNCTION_NAME is Lambda's), else by the first request. */
let containerService: VariantService | undefined = process.env.AWS_LAMBDA_FUNCTION_NAME ? primedVariantService() : undefined;
// The AWS SDK defines an empty `awslambda` of its own outside Lambda: look for the method.
const streaming = (globalThis as { awslambda?: Partial<StreamingApi> }).awslambda;

/** The function's handler ("index.onDemandHandler"): the service lives as long as the container. */
export const onDemandHandler = isStreamingApi(streaming)
  ? streaming.streamifyResponse(createStreamingHandler(() => (containerService ??= createVariantService()), streaming))
  : () => {
      throw new Error("onDemandHandler needs Lambda's response streaming (the awslambda global of the nodejs runtime)");
    };
