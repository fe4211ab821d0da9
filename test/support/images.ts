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
