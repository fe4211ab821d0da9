/**
 * The JPEG header read in JavaScript (runtime/jpeg-header.ts) says what sharp says, field by field,
 * for every JPEG of files nobody here made, and steps aside (undefined) where it is not sure.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { cameraPhotos, exiftoolCorpus } from "../../fixtures/corpus";
import { jpegWithExif } from "../../fixtures/images";
import { readJpegHeader } from "../../runtime/jpeg-header";

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
