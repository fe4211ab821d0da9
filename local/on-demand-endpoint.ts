/**
 * A tenant's on-demand endpoint on loopback, arranged as its CloudFront distribution is: the
 * viewer-request function (the deployed code, edge-function.js), then the proxy bucket (the
 * primary origin), then, on a miss, the rendering function's service (the failover origin), then
 * the viewer-response function. There is no edge cache: a "hit" here is the stored variant served
 * by the proxy bucket without a render, which is what a CloudFront miss-then-hit costs too. So the
 * body of a miss, which the renderer sends while it stores the variant, follows its headers only
 * once the variant is stored: the next request finds it, as it would find CloudFront's cached copy.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { isNotFound } from "../runtime/errors";
import {
  edgePolicy,
  isCfResponse,
  keyValueStore,
  loadEdgeFunction,
  signingKeyEntry,
  viewerRequestEvent,
  type CfRequest,
  type CfResponse,
  type CfValue,
  type EdgeFunction,
} from "../edge/edge";
import type { VariantService } from "../runtime/on-demand/render-variant";
import type { TenantConfig } from "../contract/tenant-config";
import { LOOPBACK } from "./emulators";
import type { SigningKeys } from "./signing-keys";

export interface OnDemandEndpoint {
  url: string;
  edge: EdgeFunction;
  close(): Promise<void>;
}

export interface OnDemandEndpointOptions {
  tenant: TenantConfig;
  proxyBucket: string;
  /** Reads the proxy bucket as CloudFront's origin access does. */
  s3: S3Client;
  /** The renderer: the service in this process, or anything that answers as it does (the peers bench's renderer in its own process). */
  service: Pick<VariantService, "serve">;
  keys: SigningKeys;
  port?: number;
  log: Logger;
}

interface OriginAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: Readable | Buffer;
  /** The rendered variant's PUT (VariantResponse.stored). */
  stored?: Promise<void>;
}

const cfHeaders = (headers: Record<string, string>): Record<string, CfValue> =>
  Object.fromEntries(Object.entries(headers).map(([k, value]) => [k.toLowerCase(), { value }]));

async function fromProxyBucket(options: OnDemandEndpointOptions, request: CfRequest): Promise<OriginAnswer | undefined> {
  const key = decodeURIComponent(request.uri.slice(1));
  const command =
    request.method === "HEAD"
      ? new HeadObjectCommand({ Bucket: options.proxyBucket, Key: key })
      : new GetObjectCommand({ Bucket: options.proxyBucket, Key: key });
  try {
    const object = await options.s3.send(command as GetObjectCommand);
    const headers: Record<string, string> = { "x-origin": "proxy-bucket" };
    if (object.ContentType) headers["content-type"] = object.ContentType;
    if (object.CacheControl) headers["cache-control"] = object.CacheControl;
    if (object.ETag) headers.etag = object.ETag;
    if (object.ContentLength !== undefined) headers["content-length"] = String(object.ContentLength);
    return { statusCode: 200, headers, body: object.Body ? (object.Body as Readable) : Buffer.alloc(0) };
  } catch (err) {
    // The distribution fails over on the bucket's 403 and 404 alike (OAC without ListBucket says 403).
    if (isNotFound(err) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) return undefined;
    throw err;
  }
}

async function send(res: ServerResponse, answer: OriginAnswer): Promise<void> {
  res.writeHead(answer.statusCode, answer.headers);
  if (!Buffer.isBuffer(answer.body)) return void answer.body.pipe(res);
  if (answer.stored) {
    res.flushHeaders();
    await answer.stored;
  }
  res.end(answer.body);
}

function sendEdgeResponse(res: ServerResponse, response: CfResponse): void {
  const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, v.value]));
  const body = response.body ? Buffer.from(response.body.data, response.body.encoding === "base64" ? "base64" : "utf8") : Buffer.alloc(0);
  res.writeHead(response.statusCode, { ...headers, "x-origin": "edge-function", "content-length": String(body.length) });
  res.end(body);
}

export async function startOnDemandEndpoint(options: OnDemandEndpointOptions): Promise<OnDemandEndpoint> {
  const kvs = keyValueStore(Object.fromEntries(Object.entries(options.keys.keys).map(([id, secret]) => [signingKeyEntry(id), secret])));
  const edge = loadEdgeFunction(edgePolicy(options.tenant), kvs);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const event = viewerRequestEvent(req.method ?? "GET", req.url ?? "/", req.headers, req.socket.remoteAddress ?? LOOPBACK);
    const result = await edge.handler(event);
    if (isCfResponse(result)) return sendEdgeResponse(res, result);
    let answer = await fromProxyBucket(options, result);
    if (!answer) {
      const rendered = await options.service.serve(result.uri, result.method);
      answer = {
        statusCode: rendered.statusCode,
        headers: { ...rendered.headers, "content-length": String(rendered.body.length), "x-origin": "render" },
        body: rendered.body,
        stored: rendered.stored,
      };
    }
    const viewerResponse = (await edge.handler({
      ...event,
      context: { eventType: "viewer-response" },
      request: result,
      response: { statusCode: answer.statusCode, headers: cfHeaders(answer.headers) },
    })) as CfResponse;
    await send(res, { ...answer, headers: Object.fromEntries(Object.entries(viewerResponse.headers).map(([k, v]) => [k, v.value])) });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      options.log.error({ err }, "on-demand endpoint failed");
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("the local endpoint failed\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  return {
    url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    edge,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
