/** Test images made on the fly with sharp: no binary fixtures in the repository. */
import sharp from "sharp";

export interface ExifOptions {
  width?: number;
  height?: number;
  orientation?: number;
  gps?: { latitude: number; longitude: number };
  dateTimeOriginal?: string;
  make?: string;
  model?: string;
}

function dms(value: number): string {
  const abs = Math.abs(value);
  const degrees = Math.floor(abs);
  const minutesFloat = (abs - degrees) * 60;
  const minutes = Math.floor(minutesFloat);
  const seconds = Math.round((minutesFloat - minutes) * 60 * 100);
  return `${degrees}/1 ${minutes}/1 ${seconds}/100`;
}

/** A gradient, so renditions have real content and orientation can be checked from pixels. */
function gradient(width: number, height: number): sharp.Sharp {
  const channels = 3;
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      data[i] = Math.round((255 * x) / width);
      data[i + 1] = Math.round((255 * y) / height);
      data[i + 2] = 96;
    }
  }
  return sharp(data, { raw: { width, height, channels } });
}

/** Noise compresses like a real photo does (badly), so file sizes are realistic. */
function noise(width: number, height: number): sharp.Sharp {
  return sharp({ create: { width, height, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 40 }, background: "#000000" } });
}

export async function jpegWithExif(options: ExifOptions & { photoLike?: boolean } = {}): Promise<Buffer> {
  const { width = 1200, height = 800, orientation = 1 } = options;
  const exif: Record<string, Record<string, string>> = {
    IFD0: { Make: options.make ?? "Acme", Model: options.model ?? "Acme Cam 1" },
  };
  if (options.dateTimeOriginal) exif.IFD2 = { DateTimeOriginal: options.dateTimeOriginal };
  if (options.gps) {
    exif.IFD3 = {
      GPSLatitudeRef: options.gps.latitude < 0 ? "S" : "N",
      GPSLatitude: dms(options.gps.latitude),
      GPSLongitudeRef: options.gps.longitude < 0 ? "W" : "E",
      GPSLongitude: dms(options.gps.longitude),
    };
  }
  const pixels = options.photoLike ? sharp(await noise(width, height).png({ compressionLevel: 0 }).toBuffer()) : gradient(width, height);
  return pixels.jpeg({ quality: 85 }).withExif(exif).withMetadata({ orientation }).toBuffer();
}

export const png = (width = 640, height = 480) => gradient(width, height).png().toBuffer();
export const webp = (width = 640, height = 480) => gradient(width, height).webp({ quality: 80 }).toBuffer();

/** An uncompressed TIFF: large, with exiftool's data (IFD) far from the start of the pixel data. */
export const bigTiff = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 20, g: 120, b: 200 } } })
    .tiff({ compression: "none" })
    .toBuffer();

/** A minimal, valid one-page PDF with an Info dictionary. */
export function pdf(title = "Quarterly report"): Buffer {
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    `<< /Title (${title}) /Author (Test Suite) >>`,
  ];
  let body = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((obj, i) => {
    offsets.push(Buffer.byteLength(body));
    body += `${i + 1} 0 obj\n${obj}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body);
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body);
}

export async function truncatedJpeg(): Promise<Buffer> {
  const full = await jpegWithExif({ width: 800, height: 600 });
  return full.subarray(0, Math.floor(full.length * 0.6));
}

// ---- bad and unusual inputs (issue: reliability corpus) ----

import { crc32, deflateSync } from "node:zlib";

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** A few hundred bytes declaring a 50,000 x 50,000 image: a decompression bomb by its header. */
export function pngBomb(width = 50_000, height = 50_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit grayscale
  const rows = deflateSync(Buffer.alloc(1 + width)); // one filtered row; the rest would follow
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk("IHDR", ihdr), pngChunk("IDAT", rows), pngChunk("IEND", Buffer.alloc(0))]);
}

export const cmykJpeg = () => gradient(400, 300).toColourspace("cmyk").jpeg({ quality: 90 }).toBuffer();
export const png16 = () => gradient(320, 240).toColourspace("rgb16").png().toBuffer();
export const grayAlphaPng = async () => {
  const data = Buffer.alloc(200 * 100 * 2);
  for (let i = 0; i < 200 * 100; i++) {
    data[i * 2] = i % 200;
    data[i * 2 + 1] = i % 200 < 100 ? 0 : 255; // left half transparent
  }
  return sharp(data, { raw: { width: 200, height: 100, channels: 2 } }).toColourspace("b-w").png().toBuffer();
};

/** Three frames of different colours, joined as an animation. */
async function frames(): Promise<Buffer[]> {
  const colours = ["#ff0000", "#00ff00", "#0000ff"];
  return Promise.all(colours.map((background) => sharp({ create: { width: 120, height: 80, channels: 3, background } }).png().toBuffer()));
}
export const animatedGif = async () => sharp(await frames(), { join: { animated: true } }).gif({ delay: [100, 100, 100] }).toBuffer();
export const animatedWebp = async () => sharp(await frames(), { join: { animated: true } }).webp({ delay: [100, 100, 100] }).toBuffer();

/** SVG with an external image, an XXE entity and a local-file reference: none may be loaded. */
export function hostileSvg(externalUrl: string, localFile: string): Buffer {
  return Buffer.from(`<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY remote SYSTEM "${externalUrl}/entity">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="100">
  <rect width="200" height="100" fill="#ffffff"/>
  <image href="${externalUrl}/image.png" x="0" y="0" width="100" height="100"/>
  <image xlink:href="file://${localFile}" x="100" y="0" width="100" height="100"/>
  <text x="10" y="50">&xxe;&remote;</text>
</svg>`);
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length);
  header.write(type, 4, "ascii");
  return Buffer.concat([header, body]);
}

/** ISO-BMFF with a movie header only: enough for exiftool to call it an MP4 video. */
export function mp4(): Buffer {
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(1000, 12); // timescale
  mvhd.writeUInt32BE(5000, 16); // duration: 5 s
  mvhd.writeUInt32BE(0x00010000, 20); // rate 1.0
  mvhd.writeUInt16BE(0x0100, 24); // volume 1.0
  return Buffer.concat([box("ftyp", Buffer.from("isom"), Buffer.alloc(4), Buffer.from("isomiso2mp41")), box("moov", box("mvhd", mvhd))]);
}

/** A HEIC container (ftyp heic + empty meta): exiftool knows it, sharp's prebuilt libvips cannot decode HEVC. */
export function heicContainer(): Buffer {
  return Buffer.concat([box("ftyp", Buffer.from("heic"), Buffer.alloc(4), Buffer.from("mif1heic")), box("meta", Buffer.alloc(4), box("hdlr", Buffer.alloc(4), Buffer.alloc(4), Buffer.from("pict"), Buffer.alloc(13)))]);
}

/**
 * A DNG-like camera RAW: IFD0 is an 8-bit colour-filter-array raster (which libvips cannot turn
 * into RGB), IFD1 a JPEG preview referenced by JPEGInterchangeFormat, as cameras store them.
 */
export async function rawWithPreview(previewColour = "#ff0000"): Promise<Buffer> {
  const width = 600;
  const height = 400;
  const preview = await sharp({ create: { width: 300, height: 200, channels: 3, background: previewColour } }).jpeg().toBuffer();
  const raster = Buffer.alloc(width * height, 0x80);
  type Entry = [tag: number, type: number, values: number[]];
  const ifd0: Entry[] = [
    [0x00fe, 4, [0]], // NewSubfileType: full resolution
    [0x0100, 4, [width]],
    [0x0101, 4, [height]],
    [0x0102, 3, [8]],
    [0x0103, 3, [1]], // no compression
    [0x0106, 3, [32803]], // PhotometricInterpretation: CFA
    [0x0111, 4, [0]], // StripOffsets (patched below)
    [0x0115, 3, [1]],
    [0x0116, 4, [height]],
    [0x0117, 4, [raster.length]],
    [0x828d, 3, [2, 2]], // CFARepeatPatternDim
    [0x828e, 1, [0, 1, 1, 2]], // CFAPattern RGGB
    [0xc612, 1, [1, 4, 0, 0]], // DNGVersion
  ];
  const ifd1: Entry[] = [
    [0x00fe, 4, [1]], // reduced resolution
    [0x0103, 3, [6]], // old-style JPEG
    [0x0201, 4, [0]], // JPEGInterchangeFormat (patched below)
    [0x0202, 4, [preview.length]],
  ];
  const ifdSize = (entries: Entry[]) => 2 + entries.length * 12 + 4;
  const ifd0At = 8;
  const ifd1At = ifd0At + ifdSize(ifd0);
  const rasterAt = ifd1At + ifdSize(ifd1);
  const previewAt = rasterAt + raster.length;
  ifd0.find((e) => e[0] === 0x0111)![2] = [rasterAt];
  ifd1.find((e) => e[0] === 0x0201)![2] = [previewAt];
  const writeIfd = (entries: Entry[], next: number) => {
    const out = Buffer.alloc(ifdSize(entries));
    out.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, values], i) => {
      const at = 2 + i * 12;
      out.writeUInt16LE(tag, at);
      out.writeUInt16LE(type, at + 2);
      out.writeUInt32LE(values.length, at + 4);
      values.forEach((v, j) => (type === 1 ? out.writeUInt8(v, at + 8 + j) : type === 3 ? out.writeUInt16LE(v, at + 8 + j * 2) : out.writeUInt32LE(v, at + 8)));
    });
    out.writeUInt32LE(next, out.length - 4);
    return out;
  };
  const header = Buffer.from([0x49, 0x49, 0x2a, 0x00, ifd0At, 0, 0, 0]);
  return Buffer.concat([header, writeIfd(ifd0, ifd1At), writeIfd(ifd1, 0), raster, preview]);
}

/**
 * Small files that decode to far more memory than their size, all within the default limits: what
 * the memory test and the benchmark run under a function's budget. Flat colour: the decoders' cost
 * depends on dimensions and structure, not content, and flat files are quick to make.
 */
export const adversarialImages: Record<string, () => Promise<Buffer>> = (() => {
  const flat = (width: number, height: number, channels: 3 | 4 = 3) => sharp({ create: { width, height, channels, background: { r: 40, g: 120, b: 200, alpha: 0.5 } } });
  return {
    "progressive-8000.jpg": () => flat(8000, 8000).jpeg({ progressive: true, quality: 60 }).toBuffer(),
    "progressive-16000.jpg": () => flat(16000, 16000).jpeg({ progressive: true, quality: 60 }).toBuffer(),
    "strip-256x400000.png": () => flat(256, 400_000, 4).png().toBuffer(),
    "strip-256x1048000.png": () => flat(256, 1_048_000, 4).png().toBuffer(),
    "square-16000.png": () => flat(16000, 16000).png().toBuffer(),
    "interlaced-8000.png": () => flat(8000, 8000, 4).png({ progressive: true }).toBuffer(),
    "deep-16bit.png": () => flat(4000, 3000).toColourspace("rgb16").png().toBuffer(),
    "cmyk.jpg": () => flat(6000, 4000).toColourspace("cmyk").jpeg().toBuffer(),
  };
})();
