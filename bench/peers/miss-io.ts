/**
 * `miss-io` (BENCH_ONLY=miss-io): what a miss's two S3 requests cost the renderer in CPU, alone: the
 * source's GET (a 1.96 MB photo, read as the renderer reads it: s3-object.ts downloadCurrent) and
 * the variant's conditional PUT (40 KB), against S3 in another process (the peers bench's AWS
 * process), so that only the client's side is counted. Four clients, interleaved in rounds: the
 * SDK with its defaults (as the processor's), with the renderer's checksum settings, with all of the
 * renderer's settings (clients.ts RENDERER_S3_SETTINGS), and plain node:http without signing, the
 * floor that any client pays for the same bytes on the same sockets.
 */
import path from "node:path";
import { Agent, request, type IncomingMessage } from "node:http";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { cameraPhotos } from "../../fixtures/corpus";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws";
import { clientOptionsFrom, RENDERER_S3_SETTINGS, sdkConfig } from "../../runtime/clients";
import { downloadCurrent } from "../../runtime/s3-object";
import type { AwsProcessReady } from "./aws-process";
import { cpuMs, startChild } from "./section";

type Table = (title: string, rows: Record<string, string | number>[]) => void;

const ROUNDS = 8;
const PER_ROUND = 60;
const VARIANT_BYTES = 40_000;

function plainRequest(agent: Agent, url: URL, method: string, requestPath: string, headers: Record<string, string>, body?: Buffer): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const out = request({ method, host: url.hostname, port: url.port, path: requestPath, headers, agent }, resolve);
    out.on("error", reject);
    out.end(body);
  });
}

export async function missIoBench(table: Table) {
  const { child, ready } = await startChild<AwsProcessReady>(["--import", "tsx", path.join(__dirname, "aws-process.ts")], process.env);
  try {
    const sdk = (settings: object) =>
      new S3Client({
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        ...sdkConfig(clientOptionsFrom({})),
        endpoint: ready.direct,
        forcePathStyle: true,
        ...settings,
      });
    const source = cameraPhotos().reduce((a, b) => (Math.abs(b.data.length - 2e6) < Math.abs(a.data.length - 2e6) ? b : a)).data;
    const variant = Buffer.alloc(VARIANT_BYTES, 7);
    const setup = sdk({});
    for (const Bucket of ["miss-io-source", "miss-io-proxy"]) await setup.send(new CreateBucketCommand({ Bucket }));
    await setup.send(new PutObjectCommand({ Bucket: "miss-io-source", Key: "photo.jpg", Body: source }));
    let written = 0;
    const viaSdk = (s3: S3Client) => async () => {
      const download = await downloadCurrent(s3, "miss-io-source", "photo.jpg", () => undefined, Infinity, "");
      if ((download?.input as Buffer | undefined)?.length !== source.length) throw new Error("the GET did not read the whole source");
      const Key = `variants/${written++}`;
      await s3.send(
        new PutObjectCommand({
          Bucket: "miss-io-proxy",
          Key,
          Body: variant,
          ContentType: "image/webp",
          CacheControl: "public, max-age=60",
          IfNoneMatch: "*",
          Metadata: { "source-etag": "e" },
        }),
      );
    };
    const url = new URL(ready.direct);
    const agent = new Agent({ keepAlive: true });
    const plain = async () => {
      const got = await plainRequest(agent, url, "GET", "/miss-io-source/photo.jpg", {});
      const bytes = Buffer.allocUnsafe(Number(got.headers["content-length"]));
      let at = 0;
      for await (const chunk of got as AsyncIterable<Buffer>) at += chunk.copy(bytes, at);
      if (got.statusCode !== 200 || at !== source.length) throw new Error(`plain GET: ${got.statusCode}, ${at} bytes`);
      const headers = {
        "content-type": "image/webp",
        "content-length": String(variant.length),
        "cache-control": "public, max-age=60",
        "if-none-match": "*",
        "x-amz-meta-source-etag": "e",
      };
      const put = await plainRequest(agent, url, "PUT", `/miss-io-proxy/variants/${written++}`, headers, variant);
      put.resume();
      await new Promise((resolve) => put.on("end", resolve));
      if (put.statusCode !== 200) throw new Error(`plain PUT: ${put.statusCode}`);
    };
    const modes: Record<string, () => Promise<void>> = {
      "SDK, its defaults (the processor's client)": viaSdk(sdk({ cacheMiddleware: false })),
      "SDK, the renderer's checksum settings only": viaSdk(sdk({ ...RENDERER_S3_SETTINGS, cacheMiddleware: false })),
      "SDK, the renderer's settings (+ middleware resolved once)": viaSdk(sdk(RENDERER_S3_SETTINGS)),
      "node:http, unsigned (the floor)": plain,
    };
    const samples: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, miss] of Object.entries(modes)) {
        for (let i = 0; i < 10; i++) await miss();
        const c0 = cpuMs(process.cpuUsage());
        for (let i = 0; i < PER_ROUND; i++) await miss();
        // The first round warms every path (JIT, sockets): not counted.
        if (round > 0) (samples[name] ??= []).push((cpuMs(process.cpuUsage()) - c0) / PER_ROUND);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const baseline = mean(Object.values(samples)[0]!);
    const rows = Object.entries(samples).map(([client, xs]) => ({
      client,
      "CPU ms per GET + PUT (mean)": mean(xs).toFixed(2),
      "rounds (min - max)": `${Math.min(...xs).toFixed(2)} - ${Math.max(...xs).toFixed(2)}`,
      "/ SDK defaults": (mean(xs) / baseline).toFixed(2),
    }));
    table(
      `M. A miss's S3 I/O in the renderer's process: GET ${(source.length / 1e6).toFixed(2)} MB + conditional PUT ${VARIANT_BYTES / 1000} KB, ${ROUNDS - 1} rounds of ${PER_ROUND}, interleaved`,
      rows,
    );
    return rows;
  } finally {
    child.disconnect();
  }
}
