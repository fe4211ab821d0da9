/**
 * `on-demand`: a 12 MP JPEG to a 1024 px WebP through the local on-demand endpoint (the viewer
 * function's code, a proxy-bucket miss, the renderer: GET, decode, encode, conditional PUT),
 * against raw sharp doing the same resize from a local file; hits (served from the
 * proxy bucket) against misses; and the classic design's miss (Pillow, whole object in memory).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { mapLimit } from "../runtime/concurrency";
import { signedPath } from "../edge/edge";
import { startLocalPlatform } from "../local/platform";
import { uploadObject } from "../local/upload";
import { parseTenants } from "../contract/tenant-config";
import type { BenchObject } from "./corpus";

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const MISSES = 20;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

/** The classic gateway's miss: Pillow opens the whole object and resizes it (1024 wide, WebP q80, as ours), one process. */
function pillowMissesMs(file: string, count: number): number[] | undefined {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import PIL"], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  const script = `import io, sys, time, json
from PIL import Image, ImageOps
times = []
for i in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    data = open(sys.argv[1], "rb").read()
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    im.thumbnail((1024, 1000000))
    out = io.BytesIO()
    im.save(out, "WEBP", quality=80)
    times.append((time.perf_counter() - t0) * 1000)
print(json.dumps(times))
`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, file, String(count)], { encoding: "utf8" })) as number[];
}

export async function onDemandLatency(objects: BenchObject[], table: (title: string, rows: Record<string, string | number>[]) => void) {
  const source = objects.find((o) => o.name === "jpeg-12mp")!;
  const jpeg = readFileSync(source.file);
  const platform = await startLocalPlatform({
    tenants: parseTenants([{ name: "bench", onDemand: { enabled: true, widths: [1024], formats: ["webp"], quality: 80 } }]),
    logLevel: "silent",
    notifications: false,
  });
  const tenant = platform.tenants.get("bench")!;
  const onDemand = tenant.onDemand!;
  const keyId = onDemand.keys.signingKeyId;
  const urlFor = (key: string) =>
    `${onDemand.url}${signedPath(onDemand.endpoint.edge, "w1024.webp", key, Math.floor(Date.now() / 1000) + 3600, keyId, onDemand.keys.keys[keyId]!)}`;
  const get = async (url: string) => {
    const response = await fetch(url, { headers: { accept: "image/webp" } });
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status !== 200) throw new Error(`${url}: ${response.status} ${body.toString().slice(0, 200)}`);
    return { origin: response.headers.get("x-origin"), body };
  };
  try {
    // Each miss a different key of the same bytes (a new variant every time), warmed by two misses first.
    const keys = Array.from({ length: MISSES + 2 }, (_, i) => `bench/photo-${i}.jpg`);
    for (const key of keys) await uploadObject(platform.clients.s3, tenant.sourceBucket, key, jpeg, "image/jpeg");
    const local = path.join(os.tmpdir(), "bench-on-demand");
    mkdirSync(local, { recursive: true });
    const localFile = path.join(local, "photo.jpg");
    writeFileSync(localFile, jpeg);
    // The same output as w1024.webp: 1024 wide (the photo is stored with orientation 6: upright 3000x4000).
    const rawSharp = () =>
      sharp(localFile).autoOrient().resize({ width: 1024, withoutEnlargement: true }).toColourspace("srgb").webp({ quality: 80 }).toBuffer();

    const misses: number[] = [];
    const raw: number[] = [];
    for (const [i, key] of keys.entries()) {
      // Interleaved, so both see the same machine.
      let origin: string | null = null;
      const miss = await timed(async () => ({ origin } = await get(urlFor(key))));
      if (origin !== "render") throw new Error(`expected a miss, got ${origin}`);
      const direct = await timed(rawSharp);
      if (i < 2) continue;
      misses.push(miss);
      raw.push(direct);
    }
    const hitUrls = keys.map(urlFor);
    const hits: number[] = [];
    for (const url of hitUrls)
      hits.push(
        await timed(async () => {
          const { origin } = await get(url);
          if (origin !== "proxy-bucket") throw new Error(`expected a hit, got ${origin}`);
        }),
      );
    const requests = Array.from({ length: 400 }, (_, i) => hitUrls[i % hitUrls.length]!);
    const hitSeconds = (await timed(() => mapLimit(requests, 8, (url) => get(url)))) / 1000;
    const missSeconds =
      (await timed(async () => {
        const fresh = Array.from({ length: 8 }, (_, i) => `bench/throughput-${i}.jpg`);
        for (const key of fresh) await uploadObject(platform.clients.s3, tenant.sourceBucket, key, jpeg, "image/jpeg");
        await mapLimit(fresh, 2, (key) => get(urlFor(key)));
      })) / 1000;
    const pillow = pillowMissesMs(localFile, 12)?.slice(2);

    const row = {
      input: `${source.name} (${(jpeg.length / 1024 / 1024).toFixed(1)} MiB) -> w1024.webp`,
      missP50Ms: percentile(misses, 0.5),
      missP95Ms: percentile(misses, 0.95),
      rawSharpP50Ms: percentile(raw, 0.5),
      rawSharpP95Ms: percentile(raw, 0.95),
      missOverRawSharpP50: percentile(misses, 0.5) / percentile(raw, 0.5),
      missOverRawSharpP95: percentile(misses, 0.95) / percentile(raw, 0.95),
      hitP50Ms: percentile(hits, 0.5),
      hitP95Ms: percentile(hits, 0.95),
      hitsPerSecond: requests.length / hitSeconds,
      missesPerSecond: 8 / missSeconds,
      pillowMissP50Ms: pillow ? percentile(pillow, 0.5) : undefined,
      missOverPillowP50: pillow ? percentile(misses, 0.5) / percentile(pillow, 0.5) : undefined,
    };
    const ms = (n?: number) => (n === undefined ? "-" : `${n.toFixed(1)} ms`);
    table("9. On-demand: 12 MP JPEG -> 1024 px WebP through the local endpoint (target: miss p50 <= 1.3x raw sharp from a local file)", [
      {
        input: row.input,
        "miss p50 / p95": `${ms(row.missP50Ms)} / ${ms(row.missP95Ms)}`,
        "raw sharp p50 / p95": `${ms(row.rawSharpP50Ms)} / ${ms(row.rawSharpP95Ms)}`,
        "miss / raw sharp p50": row.missOverRawSharpP50.toFixed(2),
        "miss / raw sharp p95": row.missOverRawSharpP95.toFixed(2),
        "Pillow whole-object miss p50": row.pillowMissP50Ms ? ms(row.pillowMissP50Ms) : "python3-pil missing",
        "miss / Pillow": row.missOverPillowP50?.toFixed(2) ?? "-",
      },
    ]);
    table("9b. On-demand hits (stored variant from the proxy bucket, no decode) against misses", [
      {
        "hit p50 / p95": `${ms(row.hitP50Ms)} / ${ms(row.hitP95Ms)}`,
        "miss p50": ms(row.missP50Ms),
        "miss / hit p50": (row.missP50Ms / row.hitP50Ms).toFixed(1),
        "hits/s (8 at once)": row.hitsPerSecond.toFixed(0),
        "misses/s (2 at once)": row.missesPerSecond.toFixed(1),
        "hit / miss throughput": (row.hitsPerSecond / row.missesPerSecond).toFixed(0),
      },
    ]);
    return row;
  } finally {
    await platform.stop();
  }
}
