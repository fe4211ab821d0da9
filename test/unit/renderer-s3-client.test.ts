/**
 * The renderer's S3 client (clients.ts RENDERER_S3_SETTINGS) resolves its middleware once per
 * command class (the SDK's `cacheMiddleware`). The SDK then shares one handler, and one context
 * object, between every request of a class: this checks that concurrent requests of one class to
 * two buckets (the renderer's sidecar HEAD in the proxy bucket beside an overlay's in the source
 * bucket) each still reach their own bucket and get their own answer.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { GetObjectCommand, HeadObjectCommand, NotFound } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { createS3Client, RENDERER_S3_SETTINGS } from "../../runtime/clients";

const eTagOf = (path: string) => createHash("md5").update(path).digest("hex");

/** Requests as received; HEADs in "source" answered 200 with an ETag of their own path, in "proxy" 404, each a few ms late so that they interleave. */
const received: string[] = [];
const server = createServer((req, res) => {
  const path = req.url ?? "";
  received.push(`${req.method} ${path}`);
  setTimeout(() => {
    if (path.startsWith("/source/")) res.writeHead(200, { etag: `"${eTagOf(path)}"`, "content-length": "0" });
    else res.writeHead(404, { "content-type": "application/xml" });
    res.end();
  }, received.length % 5);
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  vi.stubEnv("AWS_ENDPOINT_URL_S3", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKID");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
});
afterEach(() => void (received.length = 0));
afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const rendererClient = () => createS3Client({ S3_FORCE_PATH_STYLE: "true", AWS_MAX_ATTEMPTS: "1" }, RENDERER_S3_SETTINGS);

it("sends concurrent requests of one command class to two buckets each to its own bucket, each answered with its own answer", async () => {
  const s3 = rendererClient();
  const requests = Array.from({ length: 40 }, (_, i) => ({ bucket: i % 2 ? "source" : "proxy", key: `photos/${i}/a b+c.jpg` }));
  const answers = await Promise.all(
    requests.map(({ bucket, key }) =>
      s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
        (head) => head.ETag,
        (err: unknown) => (err instanceof NotFound ? "not found" : err),
      ),
    ),
  );
  const paths = requests.map(({ bucket, key }) => `/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`);
  expect(answers).toEqual(requests.map(({ bucket }, i) => (bucket === "source" ? `"${eTagOf(paths[i]!)}"` : "not found")));
  expect([...received].sort()).toEqual(paths.map((p) => `HEAD ${p}`).sort());
});

it("resolves its middleware once per command class: a middleware added after the first request does not run for that class", async () => {
  const s3 = rendererClient();
  await s3.send(new HeadObjectCommand({ Bucket: "source", Key: "first.jpg" }));
  const seen: string[] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push(context.commandName ?? "");
      return next(args);
    },
    { step: "initialize", name: "seen-by-test" },
  );
  await s3.send(new HeadObjectCommand({ Bucket: "source", Key: "second.jpg" }));
  await s3.send(new GetObjectCommand({ Bucket: "proxy", Key: "first-get.jpg" })).catch(() => undefined);
  // HeadObject's handler was resolved before the middleware existed; GetObject's first request resolves it now.
  expect(seen).toEqual(["GetObjectCommand"]);
  expect(received).toEqual(["HEAD /source/first.jpg", "HEAD /source/second.jpg", "GET /proxy/first-get.jpg?x-id=GetObject"]);
});
