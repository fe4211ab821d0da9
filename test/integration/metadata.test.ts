/** The metadata extractor with real perl + exiftool, over an in-memory byte source. */
import { writeFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { resolveExiftoolPaths } from "../../runtime/metadata/exiftool-paths";
import { MetadataExtractor } from "../../runtime/metadata/extractor";
import { RangeReader, type ByteSource } from "../../runtime/metadata/range-reader";
import { streamTags } from "../../runtime/metadata/stream-fallback";
import { bigTiff, jpegWithExif, pdf, png, webp } from "../../fixtures/images";

const memory = (data: Buffer): ByteSource => ({ size: data.length, fetch: async (start, end) => data.subarray(start, end + 1) });
const paths = resolveExiftoolPaths({ PATH: process.env.PATH });
const extractor = new MetadataExtractor(paths, { requestTimeoutMs: 20_000 });

afterAll(() => extractor.close());

describe("ranged extraction", () => {
  it.each([
    ["JPEG", () => jpegWithExif({ width: 2400, height: 1600, dateTimeOriginal: "2023:01:02 03:04:05" }), "image/jpeg"],
    ["PNG", () => png(1200, 900), "image/png"],
    ["WebP", () => webp(1200, 900), "image/webp"],
    ["PDF", async () => pdf(), "application/pdf"],
  ])("reads %s", async (_name, make, mime) => {
    const data = await make();
    const reader = new RangeReader(memory(data));
    const result = await extractor.extract(reader, "object");
    expect(result.method).toBe("ranged");
    expect(result.tags.MIMEType).toBe(mime);
    expect(result.raw).not.toHaveProperty("FileName");
    expect(reader.stats.requests).toBeGreaterThan(0);
  });

  it("parses dates and GPS through exiftool-vendored", async () => {
    const data = await jpegWithExif({ gps: { latitude: 48.8584, longitude: -2.2945 }, dateTimeOriginal: "2023:01:02 03:04:05" });
    const { tags } = await extractor.extract(new RangeReader(memory(data)), "object");
    expect(tags.GPSLatitude).toBeCloseTo(48.8584, 3);
    expect(tags.GPSLongitude).toBeCloseTo(-2.2945, 3);
    expect(tags.DateTimeOriginal?.toString()).toMatch(/^2023-01-02T03:04:05/);
  });

  it("touches a couple of blocks of a 60 MB TIFF whose directory sits after the pixels", async () => {
    const data = await bigTiff(5000, 4000);
    const reader = new RangeReader(memory(data));
    const { tags } = await extractor.extract(reader, "object");
    expect(tags.ImageWidth).toBe(5000);
    expect(reader.stats.requests).toBeLessThanOrEqual(3);
    expect(reader.stats.bytesFetched).toBeLessThanOrEqual(3 * 65536);
  });
});

describe("formats whose pixel data exiftool would otherwise walk", () => {
  const noisy = (w: number, h: number) =>
    sharp({ create: { width: w, height: h, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 30 }, background: "#000" } });

  it.each([
    ["PNG (stops at the first IDAT)", () => noisy(1500, 1000).png({ compressionLevel: 1 }).toBuffer(), "PNG"],
    ["lossy WebP (VP8 payload not fetched)", () => noisy(1500, 1000).webp({ quality: 90 }).toBuffer(), "WEBP"],
    ["lossless WebP (VP8L payload not fetched)", () => noisy(1500, 1000).webp({ lossless: true }).toBuffer(), "WEBP (lossless)"],
    [
      "extended WebP with EXIF",
      () =>
        noisy(1500, 1000)
          .webp({ quality: 90 })
          .withExif({ IFD0: { Make: "Acme" } })
          .toBuffer(),
      "Extended WEBP",
    ],
  ])("%s reads a small fraction and still finds the dimensions", async (_label, make, fileType) => {
    const data = await make();
    expect(data.length).toBeGreaterThan(500 * 1024);
    const reader = new RangeReader(memory(data));
    const { tags } = await extractor.extract(reader, "object");
    expect([tags.FileType, tags.ImageWidth, tags.ImageHeight]).toEqual([fileType, 1500, 1000]);
    if (fileType === "Extended WEBP") expect(tags.Make).toBe("Acme");
    expect(reader.stats.bytesFetched).toBeLessThan(data.length * 0.1);
  });
});

describe("the helper process", () => {
  it("stays alive between objects and is restarted after it dies", async () => {
    const data = await jpegWithExif();
    await extractor.extract(new RangeReader(memory(data)), "a");
    const pid = extractor.helper.pid;
    const starts = extractor.helper.starts;
    await extractor.extract(new RangeReader(memory(data)), "b");
    expect(extractor.helper.pid).toBe(pid);
    process.kill(pid!, "SIGKILL");
    // Until the helper sees its process exit (no deadline but the test's).
    while (extractor.helper.pid !== undefined) await new Promise((r) => setTimeout(r, 10));
    const result = await extractor.extract(new RangeReader(memory(data)), "c");
    expect(result.tags.MIMEType).toBe("image/jpeg");
    expect(extractor.helper.starts).toBe(starts + 1);
  });

  it("survives a failed read of the object, which surfaces as the original error", async () => {
    const data = await jpegWithExif();
    await extractor.extract(new RangeReader(memory(data)), "warm");
    const pid = extractor.helper.pid;
    const failure = Object.assign(new Error("Service Unavailable"), { name: "SlowDown", $metadata: { httpStatusCode: 503 } });
    const failing = { size: data.length, fetch: async () => Promise.reject(failure) };
    await expect(extractor.extract(new RangeReader(failing), "object")).rejects.toBe(failure);
    expect(extractor.helper.pid).toBe(pid);
    expect((await extractor.extract(new RangeReader(memory(data)), "again")).tags.Make).toBe("Acme");
  });

  it("is killed when it hangs, and the object is read by the streaming fallback", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "hang-"));
    const hanging = path.join(dir, "hang.pl");
    writeFileSync(hanging, "sleep 3600;\n");
    // A helper that never answers can be cut off at any time; the fallback gets a budget no busy machine misses.
    const stuck = new MetadataExtractor({ ...paths, helper: hanging }, { requestTimeoutMs: 500, streamTimeoutMs: 120_000 });
    try {
      const data = await jpegWithExif();
      const result = await stuck.extract(new RangeReader(memory(data)), "object");
      expect(result.method).toBe("stream");
      expect(result.tags.Make).toBe("Acme");
      expect(result.helperFailures).toEqual([expect.stringMatching(/^timeout: /)]);
      expect(stuck.helper.starts).toBe(1); // a hang is not retried by ranges: it would hang again
    } finally {
      await stuck.close();
    }
  });
});

describe("a helper protocol that cannot drift", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "helper-"));
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    return file;
  };

  /**
   * The real helper with a module that does everything a module may do to Perl's global state while
   * exiftool parses: record separators, output separators, the selected handle, prints and raw writes
   * to STDOUT, warnings, and a die inside the tied filehandle for objects named *.die.
   */
  const hostile = script(
    "hostile-helper.pl",
    `require ${JSON.stringify(paths.helper)};
no warnings 'redefine';
my $extract = \\&Image::ExifTool::ExtractInfo;
my $read = \\&RemoteHandle::READ;
*Image::ExifTool::ExtractInfo = sub {
    $/ = "\\0"; $\\ = "TRAILER\\n"; $, = "SEPARATOR"; $" = "-";
    open(my $null, '>', '/dev/null'); select($null); $| = 0;
    print STDOUT "R 1 0 100\\n"; printf STDOUT "J 1 2\\n{}"; syswrite(STDOUT, "X 1 3\\nbad");
    warn "a module warns\\n";
    my $die = $_[0]{REMOTE_NAME} =~ /[.]die$/;
    local *RemoteHandle::READ = sub { die "exploded inside the tied handle\\n" if $die; goto &$read };
    return $extract->(@_);
};
serve();
`,
  );

  it("keeps its framing whatever a module does to Perl's globals, STDOUT or the tied handle", async () => {
    const extractor = new MetadataExtractor({ ...paths, helper: hostile }, { requestTimeoutMs: 60_000 });
    try {
      const methods: string[] = [];
      for (let i = 0; i < 6; i++) {
        const data = await jpegWithExif({ make: `Maker${i}` });
        const result = await extractor.extract(new RangeReader(memory(data)), `photo-${i}.${i % 2 ? "die" : "jpg"}`);
        expect(result.tags.Make).toBe(`Maker${i}`);
        methods.push(result.method);
      }
      // Objects whose tied handle died are read by the fallback; every other one by ranges, on the same process.
      expect(methods).toEqual(["ranged", "stream", "ranged", "stream", "ranged", "stream"]);
      expect(extractor.helper.starts).toBe(1);
    } finally {
      await extractor.close();
    }
  });

  it("detects a frame out of step at once, restarts, and reads the object by ranges on a fresh helper", async () => {
    const marker = path.join(dir, "desynced-once");
    const desync = script(
      "desync-helper.pl",
      `require ${JSON.stringify(paths.helper)};
no warnings 'redefine';
my $extract = \\&Image::ExifTool::ExtractInfo;
*Image::ExifTool::ExtractInfo = sub {
    unless (-e ${JSON.stringify(marker)}) { open(my $m, '>', ${JSON.stringify(marker)}); main::write_all("J 999999 2\\n{}"); }
    return $extract->(@_);
};
serve();
`,
    );
    const extractor = new MetadataExtractor({ ...paths, helper: desync }, { requestTimeoutMs: 60_000 });
    try {
      const result = await extractor.extract(new RangeReader(memory(await jpegWithExif())), "photo.jpg");
      expect(result.method).toBe("ranged");
      expect(result.tags.Make).toBe("Acme");
      expect(result.helperFailures).toEqual([expect.stringMatching(/^desync: frame J for request 999999/)]);
      expect(extractor.helper.starts).toBe(2);
    } finally {
      await extractor.close();
    }
  });

  it("tells a helper of another protocol version (an old layer) and falls back to streaming", async () => {
    const old = script("protocol-1-helper.pl", '$| = 1; while (my $line = <STDIN>) { print "X 12\\nbad request\\n" }\n');
    const extractor = new MetadataExtractor({ ...paths, helper: old }, { requestTimeoutMs: 60_000 });
    try {
      const result = await extractor.extract(new RangeReader(memory(await jpegWithExif())), "photo.jpg");
      expect(result.method).toBe("stream");
      expect(result.tags.Make).toBe("Acme");
      expect(result.helperFailures).toEqual([expect.stringMatching(/^version: .*predates protocol 2/)]);
    } finally {
      await extractor.close();
    }
  });

  it("stores a caption like 1e999 as text: only finite numbers become JSON numbers", async () => {
    const data = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } })
      .jpeg()
      .withExif({ IFD0: { ImageDescription: "1e999", Make: "Acme" } })
      .toBuffer();
    const result = await extractor.extract(new RangeReader(memory(data)), "caption.jpg");
    expect(result.method).toBe("ranged");
    expect(result.raw.ImageDescription).toBe("1e999");
    expect(result.helperFailures).toEqual([]);
  });
});

describe("the streaming fallback", () => {
  it("stops reading once exiftool has what it needs", async () => {
    const data = await jpegWithExif({ width: 2000, height: 1500, photoLike: true });
    expect(data.length).toBeGreaterThan(1024 * 1024);
    const reader = new RangeReader(memory(data));
    const { json } = await streamTags(paths, reader, ["-json", "-fast"]);
    expect(JSON.parse(json)[0].ImageWidth).toBe(2000);
    expect(reader.stats.bytesFetched).toBeLessThan(data.length / 4);
  });
});
