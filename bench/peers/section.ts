/**
 * `peers` (BENCH_ONLY=peers): the on-demand miss against the engines and servers a platform team
 * would compare it with, in the shape of imgproxy's public image-servers-benchmark: 2 clients with
 * keep-alive on this machine's 2 cores, real photos (../shared/corpus/photos), each resized to fit
 * inside 512x512 at quality 80, every request a miss (copies under distinct keys).
 *
 * Rows, one after the other, nothing else running: raw sharp (one process, 2 in flight, one
 * pipeline from the bytes in memory); Pillow as a careful user writes it (Debian's python3-pil,
 * draft() before load so libjpeg decodes at 1/2, 1/4 or 1/8 scale, transposed after, 2 processes);
 * our render function alone (no HTTP, no S3); our miss through the local endpoint, with S3 in
 * another process so that its work is not counted as the renderer's; our hit. Then the miss again
 * with 15 ms added to every S3 round trip, and the sequential S3 round trips before a miss's first byte.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { cameraPhotos, type CorpusFile } from "../../fixtures/corpus";
import type { JournalEntry } from "../../fixtures/fault-proxy";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws";
import { decodeBudgetBytes, MemoryBudget } from "../../runtime/memory-budget";
import { renderFromSource } from "../../runtime/render-source";
import { rendererEnvironment } from "../../contract/environment";
import { parseTenant, type Rendition, type TenantConfig } from "../../contract/tenant-config";
import { harnessScript, lambdaBootstrapFlags, unpackedArchive, type UnpackedArchive } from "../archives";
import type { HarnessUsage } from "../lambda-harness";
import type { AwsProcessAnswer, AwsProcessReady, AwsProcessRequest } from "./aws-process";

type Format = "jpeg" | "webp" | "avif";
const FORMATS = (process.env.PEERS_FORMATS ?? "jpeg,webp,avif").split(",") as readonly Format[];
const CLIENTS = 2;
const BOX = 512;
const QUALITY = 80;
/** Requests per row: every photo this many times. */
const ROUNDS = Number(process.env.PEERS_ROUNDS ?? 8);
const S3_LATENCY_MS = 15;
const SOURCE_BUCKET = "peers-source";
const PROXY_BUCKET = "peers-proxy";

type Table = (title: string, rows: Record<string, string | number>[]) => void;

interface Run {
  requests: number;
  seconds: number;
  latenciesMs: number[];
  /** CPU of the process that did the work, per request (ms), when known. */
  cpuMsPerRequest?: number;
  /** The renderer's mark-compacts during the row and their pauses' total (ms), for the miss rows. */
  majorGc?: { count: number; ms: number };
  /** The renderer process's peak resident memory at the row's end (MB). */
  rendererPeakRssMb?: number;
  /** CPU of the AWS process (S3 and the CDN) per request (ms), for the rows that use it. */
  s3CpuMsPerRequest?: number;
  /** Output size of each request, in order, to check that every row made the same images. */
  sizes: string[];
  /** Encoded bytes of each request's output: equal work makes about equal files. */
  outputBytes: number[];
}

/** What one request made: its image's size (`<width>x<height>`) and its encoded bytes. */
interface Output {
  size: string;
  bytes: number;
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
export const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

/** `count` requests from `clients` clients at once, each waiting for its answer before the next. */
async function load(count: number, work: (i: number) => Promise<Output | undefined>): Promise<Omit<Run, "cpuMsPerRequest">> {
  const latenciesMs: number[] = [];
  const sizes: string[] = new Array<string>(count);
  const outputBytes: number[] = new Array<number>(count);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < count) {
        const i = next++;
        const start = performance.now();
        const output = await work(i);
        latenciesMs.push(performance.now() - start);
        [sizes[i], outputBytes[i]] = [output?.size ?? "", output?.bytes ?? 0];
      }
    }),
  );
  return { requests: count, seconds: (performance.now() - t0) / 1000, latenciesMs, sizes, outputBytes };
}

async function measuredHere(count: number, work: (i: number) => Promise<Output>): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const run = await load(count, work);
  return { ...run, cpuMsPerRequest: cpuMs(process.cpuUsage(cpu0)) / count };
}

const preset = (format: Format): Rendition => ({ name: `fit${BOX}-${format}`, width: BOX, height: BOX, fit: "inside", format, quality: QUALITY });

/** The encoder settings our renderer uses (runtime/renditions.ts), so that raw sharp does the same work. */
function rawSharp(input: Buffer, format: Format): sharp.Sharp {
  const resized = sharp(input).autoOrient().resize(BOX, BOX, { fit: "inside", withoutEnlargement: true });
  if (format === "jpeg") return resized.jpeg({ quality: QUALITY });
  if (format === "webp") return resized.webp({ quality: QUALITY });
  return resized.avif({ quality: QUALITY, effort: 2 });
}

const PILLOW_SCRIPT = `import io, json, sys, time
from PIL import Image, ImageOps
fmt, count, offset, box, quality = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
files = sys.argv[6:]
times, sizes, encoded_bytes = [], [], []
cpu0, start = time.process_time(), time.time()
for i in range(count):
    t0 = time.perf_counter()
    im = Image.open(files[(offset + i) % len(files)])
    # What the output will be, then draft(): libjpeg decodes at the largest 1/2, 1/4 or 1/8 scale that covers it.
    k = min(box / im.width, box / im.height, 1)
    im.draft("RGB", (max(1, round(im.width * k)), max(1, round(im.height * k))))
    im.thumbnail((box, box), Image.LANCZOS)
    im = ImageOps.exif_transpose(im)
    out = io.BytesIO()
    # optimize: Huffman tables fitted to the image, as sharp's JPEG encoder does by default (optimiseCoding).
    im.save(out, "JPEG", quality=quality, optimize=True) if fmt == "jpeg" else im.save(out, "WEBP", quality=quality)
    times.append((time.perf_counter() - t0) * 1000)
    sizes.append(f"{im.width}x{im.height}")
    encoded_bytes.append(out.tell())
print(json.dumps({"times": times, "sizes": sizes, "bytes": encoded_bytes, "cpu": (time.process_time() - cpu0) * 1000, "start": start, "end": time.time()}))
`;

function pillowVersion(): string | undefined {
  try {
    return execFileSync("/usr/bin/python3", ["-c", "import PIL; print(PIL.__version__)"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

/** Pillow in 2 processes, each doing half the requests; the run is from the first start to the last end. */
async function pillowRun(photos: CorpusFile[], format: Format, count: number): Promise<Run> {
  const half = Math.ceil(count / 2);
  const outputs = await Promise.all(
    [0, 1].map(
      (p) =>
        new Promise<{ times: number[]; sizes: string[]; bytes: number[]; cpu: number; start: number; end: number }>((resolve, reject) => {
          const args = ["-c", PILLOW_SCRIPT, format, String(p === 0 ? half : count - half), String(p * half), String(BOX), String(QUALITY)];
          const child = spawn("/usr/bin/python3", [...args, ...photos.map((f) => f.path)], { stdio: ["ignore", "pipe", "inherit"] });
          let out = "";
          child.stdout.on("data", (c: Buffer) => (out += c.toString()));
          child.on("error", reject);
          child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`Pillow exited with ${code}`))));
        }),
    ),
  );
  const seconds = Math.max(...outputs.map((o) => o.end)) - Math.min(...outputs.map((o) => o.start));
  return {
    requests: count,
    seconds,
    latenciesMs: outputs.flatMap((o) => o.times),
    cpuMsPerRequest: outputs.reduce((a, o) => a + o.cpu, 0) / count,
    sizes: outputs.flatMap((o) => o.sizes),
    outputBytes: outputs.flatMap((o) => o.bytes),
  };
}

const profileArgs = () => (process.env.PEERS_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PEERS_PROFILE_DIR}`] : []);

/** A child process talking over IPC; resolves with its first message (it is ready). */
export function startChild<Ready>(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = spawn(process.execPath, [...profileArgs(), ...args], { env, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (ready: Ready) => resolve({ child, ready }));
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code} before it was ready`)));
  });
}

function ask<Answer>(child: ChildProcess, request: unknown): Promise<Answer> {
  return new Promise((resolve) => {
    child.once("message", (answer: Answer) => resolve(answer));
    child.send(request as object);
  });
}

type AnswerOf<T extends AwsProcessAnswer["type"]> = Extract<AwsProcessAnswer, { type: T }>;
const aws = {
  cpu: async (child: ChildProcess) => (await ask<AnswerOf<"cpu">>(child, { type: "cpu" } satisfies AwsProcessRequest)).usage,
  journal: async (child: ChildProcess) => (await ask<AnswerOf<"journal">>(child, { type: "journal" } satisfies AwsProcessRequest)).entries,
  sign: async (child: ChildProcess, variant: string, keys: string[]) =>
    (await ask<AnswerOf<"sign">>(child, { type: "sign", variant, keys } satisfies AwsProcessRequest)).paths,
  endpoint: async (child: ChildProcess, tenant: TenantConfig, rendererUrl: string, s3: string) =>
    (
      await ask<AnswerOf<"endpoint">>(child, {
        type: "endpoint",
        tenant: JSON.stringify(tenant),
        proxyBucket: PROXY_BUCKET,
        rendererUrl,
        s3,
      } satisfies AwsProcessRequest)
    ).url,
};
const rendererUsage = (child: ChildProcess) => ask<HarnessUsage>(child, "cpu");

/** How many S3 round trips, one after the other, ended before `firstByteAt` (overlapping requests count once). */
function sequentialRoundTrips(entries: JournalEntry[], sinceMs: number, firstByteAt: number): number {
  const before = entries.filter((e) => e.startMs >= sinceMs && e.endMs <= firstByteAt).sort((a, b) => a.startMs - b.startMs);
  let trips = 0;
  let until = -Infinity;
  for (const e of before) {
    if (e.startMs >= until) trips++;
    until = Math.max(until, e.endMs);
  }
  return trips;
}

interface Endpoint {
  renderer: ChildProcess;
  /** The CloudFront endpoint in the AWS process, in front of the renderer. */
  url: string;
}

/** The renderer's archive in a fresh process behind a function URL, and the CDN in front of it. */
async function startRenderer(archive: UnpackedArchive, awsChild: ChildProcess, tenant: TenantConfig, s3Endpoint: string): Promise<Endpoint> {
  const env = {
    PATH: process.env.PATH,
    ...rendererEnvironment(tenant, { sourceBucket: SOURCE_BUCKET, proxyBucket: PROXY_BUCKET }),
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    S3_FORCE_PATH_STYLE: "true",
    AWS_LAMBDA_FUNCTION_NAME: "tip-local-peers-renderer",
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    LOG_LEVEL: "info",
    HARNESS_MODE: "serve",
    HARNESS_ARCHIVE_DIR: archive.dir,
    HARNESS_HANDLER: archive.handler,
  };
  const { child, ready } = await startChild<{ url: string }>(
    [...lambdaBootstrapFlags(tenant.onDemand.memoryMb, (env as NodeJS.ProcessEnv).NODE_OPTIONS), harnessScript()],
    env,
  );
  return { renderer: child, url: await aws.endpoint(awsChild, tenant, ready.url, s3Endpoint) };
}

export async function peersBench(table: Table) {
  const photos = cameraPhotos();
  const count = photos.length * ROUNDS;
  const pillow = pillowVersion();
  const tenant = parseTenant({ name: "peers", onDemand: { enabled: true, widths: [1024], formats: ["webp"], quality: QUALITY, presets: FORMATS.map(preset) } });
  const budget = new MemoryBudget(decodeBudgetBytes(tenant.onDemand.memoryMb), tenant.onDemand.memoryMb);
  const archive = await unpackedArchive("renderer");
  const { child: awsChild, ready: s3 } = await startChild<AwsProcessReady>(["--import", "tsx", path.join(__dirname, "aws-process.ts")], {
    ...process.env,
    S3_LATENCY_MS: String(S3_LATENCY_MS),
  });
  const client = new S3Client({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: s3.direct, forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: SOURCE_BUCKET }));
  await client.send(new CreateBucketCommand({ Bucket: PROXY_BUCKET }));
  let endpoint = await startRenderer(archive, awsChild, tenant, s3.direct);
  let copies = 0;
  /** Every photo under fresh keys: each request of the next run is a miss. */
  const freshCopies = async () => {
    const keys = Array.from({ length: count }, (_, i) => `copies/${copies++}/${photos[i % photos.length]!.name}`);
    for (const [i, key] of keys.entries())
      await client.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: photos[i % photos.length]!.data, ContentType: "image/jpeg" }));
    return keys;
  };
  const fetchVariant = async (url: string, expectedOrigin: string) => {
    const response = await fetch(url);
    const body = Buffer.from(await response.arrayBuffer());
    const origin = response.headers.get("x-origin");
    if (response.status !== 200 || origin !== expectedOrigin) throw new Error(`${url}: ${response.status} from ${origin}: ${body.toString().slice(0, 200)}`);
    return body;
  };
  const sizeOf = async (body: Buffer) => {
    const meta = await sharp(body).metadata();
    return `${meta.width}x${meta.height}`;
  };

  const results: Record<Format, Record<string, Run | undefined>> = { jpeg: {}, webp: {}, avif: {} };
  const journeys: { format: Format; latencyMs: number; roundTrips: number[] }[] = [];
  try {
    for (const format of FORMATS) {
      const rendition = preset(format);
      const variant = rendition.name;
      const input = (i: number) => photos[i % photos.length]!.data;
      const row = results[format];
      // Warm every path once (JIT, sharp's and the SDK's first calls), then measure.
      await load(photos.length, async (i) => void (await rawSharp(input(i), format).toBuffer()));
      row["raw sharp"] = await measuredHere(count, async (i) => {
        const { data, info } = await rawSharp(input(i), format).toBuffer({ resolveWithObject: true });
        return { size: `${info.width}x${info.height}`, bytes: data.length };
      });
      row[`Pillow ${pillow ?? "(missing)"}, draft()`] = pillow && format !== "avif" ? await pillowRun(photos, format, count) : undefined;
      const options = { maxInputPixels: tenant.limits.maxInputPixels, profile: tenant.metadata.renditionProfile, budget };
      row["our render function alone"] = await measuredHere(count, async (i) => {
        const [output] = (await renderFromSource({ input: input(i), renditions: [rendition], options })).outputs;
        return { size: `${output!.width}x${output!.height}`, bytes: output!.bytes };
      });
      for (const [label, endpointOf] of [
        ["our miss", s3.direct],
        [`our miss, S3 +${S3_LATENCY_MS} ms`, s3.delayed],
      ] as const) {
        if (label !== "our miss") {
          endpoint.renderer.disconnect();
          endpoint = await startRenderer(archive, awsChild, tenant, endpointOf);
        }
        const keys = await freshCopies();
        const urls = (await aws.sign(awsChild, variant, keys)).map((p) => `${endpoint.url}${p}`);
        await load(photos.length, async (i) => void (await fetchVariant(urls[i]!, "render")));
        const bodies: Buffer[] = [];
        const [renderer0, s3cpu0] = [await rendererUsage(endpoint.renderer), await aws.cpu(awsChild)];
        const run = await load(count - photos.length, async (i) => void (bodies[i] = await fetchVariant(urls[photos.length + i]!, "render")));
        const [renderer1, s3cpu1] = [await rendererUsage(endpoint.renderer), await aws.cpu(awsChild)];
        [run.sizes, run.outputBytes] = [await Promise.all(bodies.map(sizeOf)), bodies.map((b) => b.length)];
        row[label] = {
          ...run,
          cpuMsPerRequest: (cpuMs(renderer1.usage) - cpuMs(renderer0.usage)) / run.requests,
          majorGc: { count: renderer1.majorGc.count - renderer0.majorGc.count, ms: renderer1.majorGc.ms - renderer0.majorGc.ms },
          rendererPeakRssMb: renderer1.maxRssMb,
          s3CpuMsPerRequest: (cpuMs(s3cpu1) - cpuMs(s3cpu0)) / run.requests,
        };
        if (label === "our miss") {
          const hit = await load(count - photos.length, async (i) => void (bodies[i] = await fetchVariant(urls[photos.length + i]!, "proxy-bucket")));
          row["our hit"] = { ...hit, sizes: await Promise.all(bodies.map(sizeOf)), outputBytes: bodies.map((b) => b.length) };
        } else {
          // One miss at a time: which S3 requests ended before the first byte reached the client.
          const roundTrips: number[] = [];
          const more = await freshCopies();
          const moreUrls = (await aws.sign(awsChild, variant, more.slice(0, photos.length))).map((p) => `${endpoint.url}${p}`);
          await aws.journal(awsChild);
          for (const url of moreUrls) {
            const since = Date.now(); // the journal's clock (fault-proxy.ts)
            const response = await fetch(url);
            const firstByteAt = Date.now();
            await response.arrayBuffer();
            roundTrips.push(sequentialRoundTrips(await aws.journal(awsChild), since, firstByteAt));
          }
          journeys.push({ format, latencyMs: S3_LATENCY_MS, roundTrips });
          endpoint.renderer.disconnect();
          endpoint = await startRenderer(archive, awsChild, tenant, s3.direct);
        }
      }
    }
  } finally {
    endpoint.renderer.disconnect();
    awsChild.disconnect();
  }
  return report(table, results, journeys, count, pillow);
}

function report(
  table: Table,
  results: Record<Format, Record<string, Run | undefined>>,
  journeys: { format: Format; latencyMs: number; roundTrips: number[] }[],
  count: number,
  pillow: string | undefined,
) {
  const rows = [];
  for (const format of FORMATS) {
    const runs = results[format];
    const rate = (r?: Run) => (r ? r.requests / r.seconds : undefined);
    const raw = rate(runs["raw sharp"])!;
    const pillowLabel = Object.keys(runs).find((k) => k.startsWith("Pillow"))!;
    const pillowRate = rate(runs[pillowLabel]);
    const expected = runs["raw sharp"]!.sizes;
    for (const [peer, run] of Object.entries(runs)) {
      const perSecond = rate(run);
      // Request i of every row is photo i % 7: the same output size is expected at the same index.
      const differing = run ? run.sizes.filter((size, i) => size !== expected[i]).length : undefined;
      rows.push({
        format,
        peer,
        requests: run?.requests,
        perSecond,
        p50Ms: run ? percentile(run.latenciesMs, 0.5) : undefined,
        p95Ms: run ? percentile(run.latenciesMs, 0.95) : undefined,
        cpuMsPerRequest: run?.cpuMsPerRequest,
        s3CpuMsPerRequest: run?.s3CpuMsPerRequest,
        rendererMajorGc: run?.majorGc,
        rendererPeakRssMb: run?.rendererPeakRssMb,
        overRawSharp: perSecond ? perSecond / raw : undefined,
        overPillow: perSecond && pillowRate ? perSecond / pillowRate : undefined,
        cpuOverRawSharp: run?.cpuMsPerRequest ? run.cpuMsPerRequest / runs["raw sharp"]!.cpuMsPerRequest! : undefined,
        sizesDifferingFromRawSharp: differing,
        outputKbPerRequest: run ? run.outputBytes.reduce((a, b) => a + b, 0) / run.outputBytes.length / 1000 : undefined,
      });
    }
  }
  const f = (n: number | undefined, digits = 1) => (n === undefined ? "-" : n.toFixed(digits));
  table(
    `P. Peers: ${count} requests per row (7 photos), fit inside ${BOX}x${BOX} q${QUALITY}, 2 clients, every request a miss (targets: render >= 1.0x raw sharp; miss CPU <= 1.15x raw sharp's; miss >= 1.0x Pillow)${pillow ? "" : " (python3-pil missing)"}`,
    rows.map((r) => ({
      format: r.format,
      peer: r.peer,
      "req/s": f(r.perSecond),
      "p50 / p95 ms": r.p50Ms === undefined ? "-" : `${f(r.p50Ms)} / ${f(r.p95Ms)}`,
      "CPU ms/req": f(r.cpuMsPerRequest),
      "AWS process CPU ms/req": f(r.s3CpuMsPerRequest),
      "renderer mark-compacts (ms)": r.rendererMajorGc ? `${r.rendererMajorGc.count} (${f(r.rendererMajorGc.ms)})` : "-",
      "renderer peak RSS MB": f(r.rendererPeakRssMb, 0),
      "/ raw sharp": f(r.overRawSharp, 2),
      "/ Pillow": f(r.overPillow, 2),
      "CPU / raw sharp's": f(r.cpuOverRawSharp, 2),
      "sizes != raw sharp": r.sizesDifferingFromRawSharp ?? "-",
      "output KB/req": f(r.outputKbPerRequest),
    })),
  );
  table(
    `P2. Sequential S3 round trips before a miss's first byte (S3 +${S3_LATENCY_MS} ms per request; target <= 2 for the renderer, CloudFront's bucket miss included here)`,
    journeys.map((j) => ({ format: j.format, "round trips (each miss)": j.roundTrips.join(" "), median: percentile(j.roundTrips, 0.5) })),
  );
  return { rows, roundTrips: journeys, pillowVersion: pillow };
}
