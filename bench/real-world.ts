/**
 * Benchmark sections on files nobody here made, and on what phones send:
 * - `corpus`: exiftool's 194 sample images through ONE warm helper (as a warm Lambda container):
 *   share read by ranges, metadata bytes over object bytes, and time against exiftool-vendored's
 *   stay_open process reading the same local files (what a fork per request costs).
 * - `heic`: a 12 MP HEVC HEIC (made by heif-enc): libheif decode time against sharp decoding the
 *   same picture as a JPEG, and peak RSS of a fresh process decoding and rendering it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ExifTool } from "exiftool-vendored";
import sharp from "sharp";
import { decodeHeif } from "../runtime/heif";
import { resolveExiftoolPaths } from "../runtime/metadata/exiftool-paths";
import { MetadataExtractor } from "../runtime/metadata/extractor";
import { RangeReader } from "../runtime/metadata/range-reader";
import { exiftoolCorpus, memorySource } from "../fixtures/corpus";
import { bundleScript } from "../fixtures/bundle-script";
import { heifEncode, heifEncUnavailable } from "../fixtures/heif";
import { adversarialImages } from "../fixtures/images";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const CACHE = path.join(__dirname, ".cache");

export async function corpusThroughOneHelper(table: (title: string, rows: Record<string, string | number>[]) => void) {
  const files = exiftoolCorpus();
  const extractor = new MetadataExtractor(resolveExiftoolPaths(), { requestTimeoutMs: 60_000 });
  const exiftool = new ExifTool({ maxProcs: 1 });
  const result = { files: files.length, ranged: 0, objectBytes: 0, metadataBytes: 0, helperStarts: 0, oursMs: 0, stayOpenMs: 0 };
  try {
    for (const pass of [0, 1]) {
      // Pass 0 warms both (module loading, the helper's preloads); pass 1 is measured.
      let ours = 0;
      let stayOpen = 0;
      for (const file of files) {
        const reader = new RangeReader(memorySource(file.data));
        let t0 = performance.now();
        const { method } = await extractor.extract(reader, file.name);
        ours += performance.now() - t0;
        t0 = performance.now();
        await exiftool.read(file.path);
        stayOpen += performance.now() - t0;
        if (pass === 1) {
          result.ranged += method === "ranged" ? 1 : 0;
          result.objectBytes += file.data.length;
          result.metadataBytes += reader.stats.bytesFetched;
        }
      }
      [result.oursMs, result.stayOpenMs] = [ours, stayOpen];
    }
    result.helperStarts = extractor.helper.starts;
  } finally {
    await exiftool.end();
    await extractor.close();
  }
  table("6. exiftool's 194 sample images through one warm helper (target: 100% ranged; bytes never above the objects')", [
    {
      files: result.files,
      "read by ranges": `${((100 * result.ranged) / result.files).toFixed(1)}%`,
      "metadata bytes / object bytes": `${((100 * result.metadataBytes) / result.objectBytes).toFixed(1)}%`,
      "helper starts": result.helperStarts,
      "ours (fork per object)": `${(result.oursMs / result.files).toFixed(1)} ms/file`,
      "stay_open, local file": `${(result.stayOpenMs / result.files).toFixed(1)} ms/file`,
      "ours / stay_open": (result.oursMs / result.stayOpenMs).toFixed(2),
    },
  ]);
  return result;
}

/** A 12 MP photo-like picture as JPEG and as HEVC HEIC, made once and cached. */
async function twelveMegapixels(): Promise<{ jpeg: Buffer; heic: string }> {
  mkdirSync(CACHE, { recursive: true });
  const jpegFile = path.join(CACHE, "photo-12mp.jpg");
  const heicFile = path.join(CACHE, "photo-12mp.heic");
  if (!existsSync(jpegFile)) {
    const noise = await sharp({ create: { width: 4032, height: 3024, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 40 }, background: "#000" } })
      .png()
      .toBuffer();
    writeFileSync(jpegFile, await sharp(noise).blur(1.2).jpeg({ quality: 88 }).toBuffer());
  }
  if (!existsSync(heicFile)) writeFileSync(heicFile, heifEncode([readFileSync(jpegFile)], 60));
  return { jpeg: readFileSync(jpegFile), heic: heicFile };
}

export async function heicDecode(table: (title: string, rows: Record<string, string | number>[]) => void) {
  const unavailable = heifEncUnavailable();
  if (unavailable) {
    console.log(`\n7. HEIC: skipped (${unavailable})`);
    return { skipped: unavailable };
  }
  const { jpeg, heic } = await twelveMegapixels();
  const heicBytes = readFileSync(heic);
  const heifMs: number[] = [];
  const jpegMs: number[] = [];
  for (let i = 0; i < 6; i++) {
    let t0 = performance.now();
    await decodeHeif(heicBytes, 268_402_689);
    if (i > 0) heifMs.push(performance.now() - t0);
    t0 = performance.now();
    await sharp(jpeg).raw().toBuffer();
    if (i > 0) jpegMs.push(performance.now() - t0);
  }
  const bundle = path.join(__dirname, "..", ".build", "bench-heic-one.js");
  bundleScript(path.join(__dirname, "heic-one.ts"), bundle);
  const fresh = JSON.parse(execFileSync(process.execPath, [bundle, heic], { encoding: "utf8" }).trim().split("\n").pop()!) as {
    nodeMaxRssMb: number;
    decodeMs: number;
    renditions: number;
  };
  const result = { heicBytes: heicBytes.length, heifDecodeMs: median(heifMs), sharpJpegDecodeMs: median(jpegMs), freshProcess: fresh };
  table("7. A 12 MP HEVC HEIC (4032x3024): libheif (WebAssembly) decode, and one fresh process decoding + rendering it", [
    {
      "HEIC size": `${(heicBytes.length / 1024 / 1024).toFixed(1)} MiB`,
      "libheif decode, warm": `${result.heifDecodeMs.toFixed(0)} ms`,
      "sharp decoding the same picture as JPEG": `${result.sharpJpegDecodeMs.toFixed(0)} ms`,
      "HEIC / JPEG decode": (result.heifDecodeMs / result.sharpJpegDecodeMs).toFixed(1),
      "fresh process: first decode (wasm compile included)": `${fresh.decodeMs.toFixed(0)} ms`,
      "fresh process: peak RSS": `${fresh.nodeMaxRssMb.toFixed(0)} MB`,
    },
  ]);
  return result;
}

/**
 * Small files that decode to hundreds of MB, two at a time in a fresh process with a 1024 MB
 * function's decode budget (fixtures/render-under-budget.ts): peak RSS against the memory.
 */
export async function adversarialMemory(table: (title: string, rows: Record<string, string | number>[]) => void) {
  mkdirSync(CACHE, { recursive: true });
  const inputs = ["progressive-8000.jpg", "progressive-16000.jpg", "strip-256x1048000.png", "square-16000.png"];
  const files = [];
  for (const name of inputs) {
    const file = path.join(CACHE, name);
    if (!existsSync(file)) writeFileSync(file, await adversarialImages[name]!());
    files.push(file);
  }
  const bundle = path.join(__dirname, "..", ".build", "bench-render-under-budget.js");
  bundleScript(path.join(__dirname, "..", "fixtures", "render-under-budget.ts"), bundle);
  const lines = execFileSync(process.execPath, [bundle, "1024", ...files], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 })
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { file?: string; status?: string; code?: string; peakMb?: number });
  const peakMb = lines.at(-1)!.peakMb!;
  const result = {
    memoryMb: 1024,
    inputs: files.map((f) => ({ file: path.basename(f), bytes: readFileSync(f).length })),
    outcomes: lines.slice(0, -1),
    peakMb,
  };
  table("8. Adversarial but allowed inputs, two at a time, a 1024 MB function's decode budget (target: peak RSS below the function's memory)", [
    {
      inputs: result.inputs.map((i) => `${i.file} (${(i.bytes / 1024 / 1024).toFixed(1)} MiB)`).join(", "),
      outcomes: result.outcomes.map((o) => `${path.basename(o.file!)}: ${o.status}${o.code ? ` ${o.code}` : ""}`).join(", "),
      "peak RSS": `${peakMb.toFixed(0)} MB of 1024`,
    },
  ]);
  return result;
}
