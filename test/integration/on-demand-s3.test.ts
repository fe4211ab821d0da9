/**
 * The renderer's S3 traffic. A miss is answered after one request, the source's GET; the variant's
 * conditional PUT runs while the answer is sent, and the invocation returns once it is stored. And a render that read a source's old bytes can store its variant after the pipeline purged the
 * source's variants (the renderer no longer checks the source again after its PUT: one round trip
 * less on every miss). The purge drain removes such late variants just before it asks CloudFront
 * for the invalidation, so nothing of the old bytes is left in the bucket or at the edge.
 * Ordered with held requests, not with timing: the render's PUT waits until the pipeline has
 * handled the new bytes, and the drain's listing waits until that PUT has landed.
 */
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import pino from "pino";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FaultProxy } from "../../fixtures/fault-proxy";
import { jpegWithExif } from "../../fixtures/images";
import { localClients, localRendererEnvironment } from "../../local/platform";
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import { createStreamingHandler, createVariantService, type StreamingApi } from "../../runtime/on-demand/handler";
import { keyHash, variantsPrefix } from "../../runtime/on-demand/variants";
import { startFaultyPlatform, type FaultyPlatform } from "../support/faulty-platform";

let f: FaultyPlatform;
const renderS3 = new FaultProxy();

beforeAll(async () => {
  f = await startFaultyPlatform([{ name: "media", onDemand: { enabled: true, widths: [320], formats: ["jpeg"] } }], () => undefined, {
    maxAttempts: 3,
    requestTimeoutMs: 10_000,
  });
  renderS3.upstream = f.t.platform.endpoints.s3ConditionalWrites!;
  await renderS3.start();
}, 120_000);

afterAll(async () => {
  await renderS3.stop();
  await f?.stop();
});

const release = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

const media = () => f.t.platform.tenants.get("media")!;

/** A renderer's container of its own (its own in-flight map), whose S3 requests pass `endpoint`. */
const containerVia = (endpoint: string) =>
  createVariantService(
    { ...process.env, ...localRendererEnvironment(media()) },
    localClients(endpoint, f.t.platform.endpoints.dynamodb),
    pino({ level: "silent" }),
  );

/** Holds the renderer's PUTs to the proxy bucket that pass `proxy` (its only rule) until `release()`; `held` settles when the first arrives. */
function holdVariantPuts(proxy: FaultProxy, name: string) {
  const held = release();
  const released = release();
  proxy.rules.length = 0;
  proxy.add({
    name,
    kind: "hold",
    match: (req) => req.method === "PUT" && req.path.startsWith(`/${media().proxyBucket}/`),
    until: released.promise,
    onHeld: () => held.resolve(),
  });
  return { held: held.promise, release: released.resolve };
}

it("removes a variant of the old bytes stored after the source changed, before the invalidation", async () => {
  const tenant = media();
  const key = "albums/late.jpg";
  const stored = async () =>
    ((await f.t.platform.clients.s3.send(new ListObjectsV2Command({ Bucket: tenant.proxyBucket, Prefix: variantsPrefix(key) }))).Contents ?? []).map(
      (o) => o.Key!,
    );
  await f.t.upload("media", key, await jpegWithExif({ width: 900, height: 600 }), "image/jpeg");
  await f.t.drain();

  // A container renders the old bytes; its PUT is held.
  const put = holdVariantPuts(renderS3, "late put");
  const late = containerVia(renderS3.url).serve(`/_variants/${keyHash(key)}/w320.jpeg/${key}`);
  await put.held;

  // The pipeline's own listing (when the new bytes arrive) goes through; the drain's (later) waits for the PUT.
  const lateStored = release();
  let listings = 0;
  f.s3.add({
    name: "drain listing",
    kind: "hold",
    match: (req) => req.method === "GET" && req.path.replace(/\/$/, "") === `/${tenant.proxyBucket}` && ++listings >= 2,
    until: lateStored.promise,
  });
  await f.t.upload("media", key, await jpegWithExif({ width: 600, height: 900 }), "image/jpeg");
  await f.t.platform.drain(60_000, { purges: false });

  put.release();
  const response = await late;
  await response.stored;
  expect(response.statusCode).toBe(200);
  expect((await sharp(response.body).metadata()).width).toBe(320); // the old, landscape bytes
  expect(await stored()).toHaveLength(1);
  lateStored.resolve();

  await f.t.drain();
  expect(f.s3.injected.get("drain listing")).toBeGreaterThanOrEqual(1);
  expect(await stored()).toEqual([]);
  const paths = f.t.platform.cloudfront!.invalidations(tenant.onDemand!.distributionId).flatMap((i) => i.paths);
  expect(paths).toContain(`/_variants/${keyHash(key)}/*`);
});

it("answers a miss after one S3 request, the source's GET; the conditional PUT follows, with the ETag the answer gave", async () => {
  const tenant = media();
  const key = "albums/counted.jpg";
  await f.t.upload("media", key, await jpegWithExif({ width: 640, height: 480 }), "image/jpeg");
  await f.t.drain();
  const counted = new FaultProxy(f.t.platform.endpoints.s3ConditionalWrites!);
  const put = holdVariantPuts(counted, "variant put");
  await counted.start();
  try {
    counted.journal = [];
    // Answered while its PUT is held.
    const response = await containerVia(counted.url).serve(`/_variants/${keyHash(key)}/w320.jpeg/${key}`);
    expect(response.statusCode).toBe(200);
    expect(counted.journal.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([`GET /${tenant.sourceBucket}/${key} 200`]);
    put.release();
    await response.stored;
    expect(counted.journal.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      `GET /${tenant.sourceBucket}/${key} 200`,
      `PUT /${tenant.proxyBucket}/_variants/${keyHash(key)}/w320.jpeg/${key} 200`,
    ]);
    // The answer's ETag is the one S3 gave the stored variant.
    const stored = await f.t.platform.clients.s3.send(new HeadObjectCommand({ Bucket: tenant.proxyBucket, Key: `_variants/${keyHash(key)}/w320.jpeg/${key}` }));
    expect(response.headers.etag).toBe(stored.ETag);
  } finally {
    await counted.stop();
  }
});

it("ends the function URL's response before the variant's PUT, and returns from the invocation only once it is stored", async () => {
  const tenant = media();
  const key = "albums/streamed.jpg";
  const variantKey = `_variants/${keyHash(key)}/w320.jpeg/${key}`;
  await f.t.upload("media", key, await jpegWithExif({ width: 640, height: 480 }), "image/jpeg");
  await f.t.drain();
  const put = holdVariantPuts(renderS3, "streamed put");
  const container = containerVia(renderS3.url);
  const api: StreamingApi = { streamifyResponse: (handler) => handler, HttpResponseStream: { from: (stream) => stream } };
  const sink = new PassThrough();
  const received: Buffer[] = [];
  sink.on("data", (chunk: Buffer) => received.push(chunk));
  let returned = false;
  const invocation = createStreamingHandler(() => container, api)({ rawPath: `/${variantKey}`, requestContext: { http: { method: "GET" } } }, sink).then(
    () => (returned = true),
  );
  await Promise.all([finished(sink), put.held]);
  expect((await sharp(Buffer.concat(received)).metadata()).width).toBe(320);
  expect(returned).toBe(false); // the PUT is still held: the invocation waits for it
  const before = await f.t.platform.clients.s3.send(new ListObjectsV2Command({ Bucket: tenant.proxyBucket, Prefix: variantsPrefix(key) }));
  expect(before.KeyCount ?? 0).toBe(0);
  put.release();
  await invocation;
  const after = await f.t.platform.clients.s3.send(new HeadObjectCommand({ Bucket: tenant.proxyBucket, Key: variantKey }));
  expect(after.ContentLength).toBe(Buffer.concat(received).length);
  expect(container.stats.stored).toBe(1);
});
