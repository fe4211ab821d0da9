/** Benchmark inputs of realistic sizes, generated (and cached under bench/.cache). */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { bigTiff, jpegWithExif, mp4, pdf } from "../fixtures/images";

const CACHE = path.join(__dirname, ".cache");

export interface BenchObject {
  name: string;
  file: string;
  size: number;
}

const noise = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 30 }, background: "#000" } });

/** A PDF whose bulk is one binary stream: the xref table sits at the very end. */
function bigPdf(bytes: number): Buffer {
  const head = pdf("Annual report");
  const stream = Buffer.alloc(bytes, 0x41);
  const xrefAt = head.lastIndexOf("xref");
  // Put the stream object before the xref so offsets stay valid for the objects that matter.
  const obj = Buffer.concat([Buffer.from(`5 0 obj\n<< /Length ${bytes} >>\nstream\n`), stream, Buffer.from("\nendstream\nendobj\n")]);
  const before = head.subarray(0, xrefAt);
  const after = head
    .subarray(xrefAt)
    .toString()
    .replace(/startxref\n\d+/, `startxref\n${before.length + obj.length}`);
  return Buffer.concat([before, obj, Buffer.from(after)]);
}

/** MP4 with 'moov' after a large 'mdat', the layout that defeats sequential readers. */
function bigMp4(bytes: number): Buffer {
  const small = mp4();
  const ftypLength = small.readUInt32BE(0);
  const mdat = Buffer.alloc(bytes + 8);
  mdat.writeUInt32BE(bytes + 8);
  mdat.write("mdat", 4, "ascii");
  return Buffer.concat([small.subarray(0, ftypLength), mdat, small.subarray(ftypLength)]);
}

const MAKERS: Record<string, () => Promise<Buffer>> = {
  "jpeg-12mp": () =>
    jpegWithExif({
      width: 4000,
      height: 3000,
      orientation: 6,
      gps: { latitude: 47.4, longitude: 8.5 },
      dateTimeOriginal: "2025:06:01 12:00:00",
      photoLike: true,
    }),
  "jpeg-50mp": () => jpegWithExif({ width: 8660, height: 5774, dateTimeOriginal: "2025:06:01 12:00:00", photoLike: true }),
  "png-12mp": () => noise(4000, 3000).png({ compressionLevel: 1 }).toBuffer(),
  "webp-12mp": () => noise(4000, 3000).webp({ quality: 90 }).toBuffer(),
  "avif-12mp": () => noise(4000, 3000).avif({ quality: 90, effort: 0 }).toBuffer(),
  "tiff-108mb": () => bigTiff(6000, 6000),
  "pdf-20mb": async () => bigPdf(20 * 1024 * 1024),
  "mp4-20mb": async () => bigMp4(20 * 1024 * 1024),
  "png-16k": () =>
    sharp({ create: { width: 16000, height: 16000, channels: 3, background: { r: 40, g: 90, b: 160 } } })
      .png({ compressionLevel: 1 })
      .toBuffer(),
};

export async function corpus(names: string[] = Object.keys(MAKERS)): Promise<BenchObject[]> {
  mkdirSync(CACHE, { recursive: true });
  const out: BenchObject[] = [];
  for (const name of names) {
    const file = path.join(CACHE, name);
    if (!existsSync(file)) writeFileSync(file, await MAKERS[name]!());
    out.push({ name, file, size: readFileSync(file).length });
  }
  return out;
}
