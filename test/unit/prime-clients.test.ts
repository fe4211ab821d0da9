import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { HeadObjectCommand, NotFound, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { primeS3Client } from "../../runtime/prime-clients";

/** Every request that reaches "AWS": priming must send none. */
const received: IncomingMessage[] = [];
const server = createServer((req, res) => {
  received.push(req);
  res.writeHead(404, { "content-type": "application/xml" });
  res.end();
});
let endpoint = "";

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it("makes the S3 client's first calls without sending a request, and leaves the clients usable", async () => {
  const s3 = new S3Client({
    region: "eu-west-1",
    endpoint,
    credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
    maxAttempts: 4,
    forcePathStyle: true,
  });
  const results = await primeS3Client(s3, "tenant-source");

  expect(results).toHaveLength(3);
  // Refused by the HTTP handler, after serialising and signing; never retried (4 attempts allowed).
  for (const result of results) expect(result).toMatchObject({ status: "rejected", reason: { name: "AbortError" } });
  expect(received).toHaveLength(0);

  // The next call is a real one: it is sent, once, and answered.
  await expect(s3.send(new HeadObjectCommand({ Bucket: "tenant-source", Key: "photo.jpg" }))).rejects.toBeInstanceOf(NotFound);
  expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(["HEAD /tenant-source/photo.jpg"]);
});
