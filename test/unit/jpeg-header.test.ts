/**
 * The JPEG header read in JavaScript (runtime/jpeg-header.ts) says what sharp says, field by field,
 * for every JPEG of files nobody here made, and steps aside (undefined) where it is not sure.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { cameraPhotos, exiftoolCorpus } from "../../fixtures/corpus";
import { jpegWithExif } from "../../fixtures/images";
import { readJpegFileHeader, readJpegHeader } from "../../runtime/jpeg-header";
import { resolveExiftoolPaths } from "../../runtime/metadata/exiftool-paths";

const photos = cameraPhotos();
const jpegs = [...exiftoolCorpus(), ...photos].filter((f) => f.data[0] === 0xff && f.data[1] === 0xd8);

describe("readJpegHeader", () => {
  it("agrees with sharp on every JPEG of exiftool's samples and the photos, and reads most of them", async () => {
    let read = 0;
    const disagreements: string[] = [];
    for (const file of jpegs) {
      const ours = readJpegHeader(file.data);
      if (!ours) continue;
      read++;
      let theirs: sharp.Metadata;
      try {
        theirs = await sharp(file.data).metadata();
      } catch (err) {
        disagreements.push(`${file.name}: sharp cannot read its header (${(err as Error).message}), ours did`);
        continue;
      }
      const fields = {
        format: [ours.format, theirs.format],
        width: [ours.width, theirs.width],
        height: [ours.height, theirs.height],
        channels: [ours.channels, theirs.channels],
        depth: [ours.depth, theirs.depth],
        isProgressive: [ours.isProgressive, theirs.isProgressive],
        orientation: [ours.orientation, theirs.orientation],
        pages: [ours.pages, theirs.pages ?? 1],
        hasAlpha: [ours.hasAlpha, theirs.hasAlpha],
        ...(ours.chromaSubsampling ? { chromaSubsampling: [ours.chromaSubsampling, theirs.chromaSubsampling] } : {}),
      };
      for (const [name, [a, b]] of Object.entries(fields)) if (a !== b) disagreements.push(`${file.name}: ${name} ours ${a}, sharp ${b}`);
    }
    expect(disagreements).toEqual([]);
    expect(jpegs.length).toBeGreaterThan(20);
    // Most of them, the seven photos among them: what it steps aside from, sharp reads.
    expect(read).toBeGreaterThanOrEqual(jpegs.length * 0.8);
    for (const photo of photos) expect(readJpegHeader(photo.data), photo.name).toBeDefined();
  });

  it("counts the coefficient planes each photo's sampling makes, as exiftool reads its YCbCrSubSampling", () => {
    // exiftool, not us nor sharp (which names every subsampled frame 4:2:0): "2 2" is 4:2:0, "2 1" 4:2:2, "1 2" 4:4:0.
    const exiftool = resolveExiftoolPaths();
    const lines = execFileSync(exiftool.perl, [exiftool.exiftool, "-q", "-q", "-T", "-n", "-FileName", "-YCbCrSubSampling", ...photos.map((p) => p.path)], {
      encoding: "utf8",
      env: exiftool.env,
    });
    const samplings = new Set<string>();
    for (const line of lines.trim().split("\n")) {
      const [name, sampling] = line.split("\t") as [string, string];
      const [h, v] = sampling.split(" ").map(Number) as [number, number];
      samplings.add(sampling);
      expect(readJpegHeader(photos.find((p) => p.name === name)!.data)?.coefficientPlanes, `${name} (${sampling})`).toBe((h * v + 2) / (h * v));
    }
    // The photos hold 4:2:0, 4:2:2 and 4:4:0 frames: all three are told apart.
    expect(samplings).toEqual(new Set(["2 2", "2 1", "1 2"]));
  });

  it("counts the coefficient planes of any sampling a frame may declare (T.81: 1-4 each way)", () => {
    const frame = (samplings: number[], marker = 0xc2) => {
      const components = samplings.flatMap((s, i) => [i + 1, s, 0]);
      const sof = [marker, ...u16(8 + components.length), 8, ...u16(16), ...u16(16), samplings.length, ...components];
      return Buffer.from([0xff, 0xd8, 0xff, ...sof, 0xff, 0xda, ...u16(8), 1, 1, 0, 0, 63, 0, 0xff, 0xd9]);
    };
    expect(readJpegHeader(frame([0x22, 0x11, 0x11]))).toMatchObject({ coefficientPlanes: 1.5, chromaSubsampling: "4:2:0", isProgressive: true });
    expect(readJpegHeader(frame([0x21, 0x11, 0x11]))).toMatchObject({ coefficientPlanes: 2, chromaSubsampling: "4:2:0" });
    expect(readJpegHeader(frame([0x12, 0x11, 0x11]))).toMatchObject({ coefficientPlanes: 2 });
    expect(readJpegHeader(frame([0x41, 0x11, 0x11]))).toMatchObject({ coefficientPlanes: 1.5 });
    expect(readJpegHeader(frame([0x11, 0x11, 0x11]))).toMatchObject({ coefficientPlanes: 3, chromaSubsampling: "4:4:4" });
    expect(readJpegHeader(frame([0x11]))).toMatchObject({ coefficientPlanes: 1, channels: 1 });
    expect(readJpegHeader(frame([0x11, 0x11, 0x11, 0x11], 0xc0))).toMatchObject({ coefficientPlanes: 4, channels: 4, isProgressive: false });
    expect(readJpegHeader(frame([0x22, 0x11, 0x11, 0x22]))).toMatchObject({ coefficientPlanes: 2.5, channels: 4 });
    // A factor of 0 or above 4 is not a JPEG's: sharp's to judge.
    expect(readJpegHeader(frame([0x20, 0x11, 0x11]))).toBeUndefined();
    expect(readJpegHeader(frame([0x51, 0x11, 0x11]))).toBeUndefined();
  });

  it("reads a spooled file's header from its first bytes, as from the whole file, and nothing from headers cut before the scan", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "jpeg-header-"));
    try {
      for (const photo of photos) {
        const file = path.join(dir, photo.name);
        writeFileSync(file, photo.data);
        expect(await readJpegFileHeader(file), photo.name).toEqual(readJpegHeader(photo.data));
        // Cut just before the scan: a later marker could still change the answer.
        const scan = scanOffset(photo.data);
        expect(readJpegHeader(photo.data.subarray(0, scan)), photo.name).toBeUndefined();
        expect(readJpegHeader(photo.data.subarray(0, scan + 4)), photo.name).toBeDefined();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads each EXIF orientation and the progressive flag", async () => {
    for (const orientation of [1, 3, 6, 8]) {
      const data = await jpegWithExif({ width: 64, height: 48, orientation });
      expect(readJpegHeader(data)).toMatchObject({ width: 64, height: 48, orientation, isProgressive: false, channels: 3 });
    }
    const progressive = await sharp({ create: { width: 40, height: 30, channels: 3, background: "#808080" } })
      .jpeg({ progressive: true, chromaSubsampling: "4:4:4" })
      .toBuffer();
    const header = readJpegHeader(progressive);
    expect(header).toMatchObject({ isProgressive: true, chromaSubsampling: "4:4:4" });
    expect(header?.orientation).toBeUndefined(); // no EXIF
  });

  it("steps aside from what it is not sure of: not a JPEG, a truncated segment, a second EXIF block, an orientation outside 1-8", async () => {
    const data = await jpegWithExif({ width: 64, height: 48, orientation: 6 });
    expect(readJpegHeader(Buffer.from("not a jpeg at all"))).toBeUndefined();
    expect(readJpegHeader(data.subarray(0, 40))).toBeUndefined();
    const exifStart = data.indexOf(Buffer.from("Exif\0\0", "latin1")) - 4;
    const exifLength = data.readUInt16BE(exifStart + 2) + 2;
    const twoExif = Buffer.concat([
      data.subarray(0, exifStart + exifLength),
      data.subarray(exifStart, exifStart + exifLength),
      data.subarray(exifStart + exifLength),
    ]);
    expect(readJpegHeader(twoExif)).toBeUndefined();
    const tiff = exifStart + 10;
    const little = twoExif.toString("latin1", tiff, tiff + 2) === "II";
    const entry = data.indexOf(little ? Buffer.from([0x12, 0x01, 0x03, 0x00]) : Buffer.from([0x01, 0x12, 0x00, 0x03]), tiff);
    const badOrientation = Buffer.from(data);
    if (little) badOrientation.writeUInt16LE(9, entry + 8);
    else badOrientation.writeUInt16BE(9, entry + 8);
    expect(readJpegHeader(badOrientation)).toBeUndefined();
  });
});

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

/** Where the first scan starts: the segments walked from SOI (an EXIF thumbnail's own SOS is inside APP1). */
function scanOffset(data: Buffer): number {
  let offset = 2;
  while (data[offset + 1] !== 0xda) offset += 2 + data.readUInt16BE(offset + 2);
  return offset;
}
