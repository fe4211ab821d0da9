/**
 * exiftool's own sample images (194 real-world files, nearly one per format) through ONE long-lived
 * range helper, as a warm Lambda container would see them: every file read by ranges, the tags we
 * store equal to exiftool's own reading of the local file, and no file able to poison the helper.
 */
import { execFileSync } from "node:child_process";
import { ReadTask } from "exiftool-vendored/dist/ReadTask";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermanentError } from "../../runtime/errors";
import { resolveExiftoolPaths } from "../../runtime/metadata/exiftool-paths";
// Tags exiftool derives from the local file handle (name, dates, permissions): S3 is the truth for those.
import { HANDLE_TAGS, MetadataExtractor, type ExtractedMetadata } from "../../runtime/metadata/extractor";
import { RangeReader } from "../../runtime/metadata/range-reader";
import { exiftoolCorpus, memorySource, seededRandom, shuffled, type CorpusFile } from "../../fixtures/corpus";

const paths = resolveExiftoolPaths({ PATH: process.env.PATH });
const corpus = exiftoolCorpus();
const isPng = (data: Buffer) => data.subarray(0, 8).equals(Buffer.from("89504e470d0a1a0a", "hex"));

interface Read {
  file: CorpusFile;
  result: ExtractedMetadata;
  bytesFetched: number;
}

async function readAll(extractor: MetadataExtractor, files: readonly CorpusFile[]): Promise<Read[]> {
  const reads: Read[] = [];
  for (const file of files) {
    const reader = new RangeReader(memorySource(file.data));
    const result = await extractor.extract(reader, file.name);
    reads.push({ file, result, bytesFetched: reader.stats.bytesFetched });
  }
  return reads;
}

function expectAllRanged(reads: Read[]): void {
  const notRanged = reads.filter((r) => r.result.method !== "ranged").map((r) => `${r.file.name}: ${r.result.method} ${r.result.helperFailures.join("; ")}`);
  expect(notRanged).toEqual([]);
  const overRead = reads.filter((r) => r.bytesFetched > r.file.data.length).map((r) => `${r.file.name}: ${r.bytesFetched} of ${r.file.data.length}`);
  expect(overRead).toEqual([]);
  expect(reads.length).toBe(corpus.length);
}

describe("exiftool's sample images through one long-lived helper", () => {
  let sorted: Read[];
  const extractor = new MetadataExtractor(paths, { requestTimeoutMs: 60_000 });
  afterAll(() => extractor.close());

  beforeAll(async () => {
    sorted = await readAll(extractor, corpus);
  });

  it("reads every file by ranges, in sorted order, without restarting the helper", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(190);
    expectAllRanged(sorted);
    expect(extractor.helper.starts).toBe(1);
  });

  it("reads every file by ranges in a seeded shuffled order too", async () => {
    const shuffledExtractor = new MetadataExtractor(paths, { requestTimeoutMs: 60_000 });
    try {
      const reads = await readAll(shuffledExtractor, shuffled(corpus, seededRandom(20261123)));
      expectAllRanged(reads);
      expect(shuffledExtractor.helper.starts).toBe(1);
    } finally {
      await shuffledExtractor.close();
    }
  });

  describe("tag parity with exiftool's own reading of the local files", () => {
    /**
     * The accepted differences, each with its reason. exiftool's own output for these files changes
     * from one run to the next: it places flattened structure fields in Perl's (randomised) hash
     * order and reports "Error 3 placing ... in structure", so which value wins differs per run.
     */
    const VARIES_BETWEEN_EXIFTOOL_RUNS: Record<string, RegExp> = {
      "Geotag.gpx": /^(Warning|Gpx.*)$/,
      "Geotag.kml": /^(Warning|Kml.*)$/,
      "Geotag.xml": /^(Warning|HistoryRun.*)$/,
      "XISF.xisf": /^(Warning|Image|ImageData.*)$/,
    };
    const sortKeys = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sortKeys)
        : v && typeof v === "object"
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
            )
          : v;

    /**
     * exiftool's command line with exiftool-vendored's arguments, and the modules the helper
     * preloads (`-use`: loading a maker-note module defines its composite tags, for every file).
     */
    function exiftoolCli(files: CorpusFile[], extra: string[]): Map<string, Record<string, unknown>> {
      const preloaded = execFileSync(paths.perl, ["-I", paths.libDir, paths.helper, "--preloaded-modules"], { env: paths.env }).toString().trim().split("\n");
      expect(preloaded).toContain("Exif");
      // (The .pl files are code exiftool loads on demand; they define no tags, and -use refuses their names.)
      const modules = preloaded.filter((m) => !m.endsWith(".pl"));
      const args = [...ReadTask.for("x", {}).args.slice(0, -1), ...modules.flatMap((m) => ["-use", m])];
      const json = execFileSync(paths.perl, [paths.exiftool, ...args, ...extra, ...files.map((f) => f.path)], {
        env: paths.env,
        maxBuffer: 256 * 1024 * 1024,
        stdio: ["ignore", "pipe", "ignore"],
      });
      const out = new Map<string, Record<string, unknown>>();
      for (const tags of JSON.parse(json.toString("utf8")) as Record<string, unknown>[]) out.set(String(tags.SourceFile), tags);
      return out;
    }

    it("stores what exiftool -json prints for the same file, handle tags aside", () => {
      // The helper reads PNG with FastScan 2 (stops at the first IDAT, see the helper): compare PNGs with -fast2.
      const cli = new Map([
        ...exiftoolCli(
          corpus.filter((f) => !isPng(f.data)),
          [],
        ),
        ...exiftoolCli(
          corpus.filter((f) => isPng(f.data)),
          ["-fast2"],
        ),
      ]);
      const differences: string[] = [];
      let compared = 0;
      for (const { file, result } of sorted) {
        const expected = cli.get(file.path);
        if (!expected) {
          differences.push(`${file.name}: exiftool printed nothing`);
          continue;
        }
        const accepted = VARIES_BETWEEN_EXIFTOOL_RUNS[file.name];
        for (const name of new Set([...Object.keys(result.raw), ...Object.keys(expected)])) {
          if (HANDLE_TAGS.has(name) || accepted?.test(name)) continue;
          compared++;
          const ours = JSON.stringify(sortKeys(result.raw[name]));
          const theirs = JSON.stringify(sortKeys(expected[name]));
          if (ours !== theirs) differences.push(`${file.name} ${name}: stored ${ours?.slice(0, 120)}, exiftool ${theirs?.slice(0, 120)}`);
        }
      }
      expect(differences).toEqual([]);
      expect(compared).toBeGreaterThan(5000);
    });
  });
});

describe("no state carried from one file to the next", () => {
  it("reads an AAC the same after a little-endian TIFF (exiftool keeps the last byte order in a global)", async () => {
    const aac = corpus.find((f) => f.name === "AAC.aac")!;
    const fresh = new MetadataExtractor(paths, { requestTimeoutMs: 60_000 });
    const warm = new MetadataExtractor(paths, { requestTimeoutMs: 60_000 });
    try {
      const expected = await fresh.extract(new RangeReader(memorySource(aac.data)), aac.name);
      const tiff = await sharp({ create: { width: 16, height: 16, channels: 3, background: "#123456" } })
        .tiff()
        .toBuffer();
      expect(tiff.subarray(0, 2).toString("latin1")).toBe("II");
      await warm.extract(new RangeReader(memorySource(tiff)), "before.tif");
      const after = await warm.extract(new RangeReader(memorySource(aac.data)), aac.name);
      expect(after.raw).toEqual(expected.raw);
      expect(after.raw).toMatchObject({ ProfileType: "Low Complexity", Channels: 2 });
      expect(warm.helper.starts).toBe(1);
    } finally {
      await Promise.all([fresh.close(), warm.close()]);
    }
  });
});

describe("fuzzing one helper with real files, truncated and byte-flipped", () => {
  it("never lets a bad file poison the helper: it still reads a known file by ranges afterwards", async () => {
    const random = seededRandom(9);
    const extractor = new MetadataExtractor(paths, { requestTimeoutMs: 60_000 });
    const outcomes = { ranged: 0, stream: 0, refused: 0 };
    try {
      for (let i = 0; i < 300; i++) {
        const file = corpus[Math.floor(random() * corpus.length)]!;
        let data = Buffer.from(file.data);
        const variant = random();
        if (variant < 0.4) {
          data = data.subarray(0, Math.floor(random() * data.length));
        } else if (variant < 0.85) {
          const flips = 1 + Math.floor(random() * 16);
          for (let f = 0; f < flips; f++) data[Math.floor(random() * data.length)] = Math.floor(random() * 256);
        }
        if (data.length === 0) continue;
        try {
          const { method, helperFailures } = await extractor.extract(new RangeReader(memorySource(data)), file.name);
          outcomes[method]++;
          expect(helperFailures.filter((f) => f.startsWith("desync"))).toEqual([]);
        } catch (err) {
          // The only acceptable failure: exiftool could not read the file at all, said permanently.
          expect(err).toBeInstanceOf(PermanentError);
          expect((err as PermanentError).code).toBe("METADATA_FAILED");
          outcomes.refused++;
        }
      }
      const known = corpus.find((f) => f.name === "ExifTool.jpg")!;
      const after = await extractor.extract(new RangeReader(memorySource(known.data)), known.name);
      const fresh = new MetadataExtractor(paths, { requestTimeoutMs: 60_000 });
      const expected = await fresh.extract(new RangeReader(memorySource(known.data)), known.name).finally(() => fresh.close());
      expect(after.method).toBe("ranged");
      expect(after.raw).toEqual(expected.raw);
      expect(after.raw.Make).toBe("Canon");
      expect(outcomes.ranged).toBeGreaterThan(200);
      console.log(`fuzz outcomes: ${JSON.stringify(outcomes)}, helper starts ${extractor.helper.starts}`);
    } finally {
      await extractor.close();
    }
  });
});
