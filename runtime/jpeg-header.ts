/**
 * A JPEG's header read from its markers in JavaScript: what a render must know before it decodes
 * (size, orientation, components, progressive, chroma subsampling). sharp's `metadata()` costs
 * 0.6-2.7 ms of CPU on a phone photo, most of it libexif turning every EXIF field into a string,
 * which is 2-7% of a 512-px render that then reads the same header again; this reads a few hundred
 * bytes. Anything it is not sure of (no SOF before the scan, a second EXIF block, 12-bit samples, an
 * orientation outside 1-8, a truncated segment, no scan after the headers) gives `undefined`, and the
 * caller asks sharp.
 * Checked field by field against sharp's own reading of every JPEG of exiftool's samples and the
 * photo corpus (test/unit/jpeg-header.test.ts).
 *
 * Markers: ITU-T T.81, B.1.1 (https://www.w3.org/Graphics/JPEG/itu-t81.pdf); EXIF's IFD0 and its
 * Orientation tag (0x0112): CIPA DC-008 (Exif 2.32), 4.6.
 */
import { open } from "node:fs/promises";

export interface JpegHeader {
  format: "jpeg";
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  depth: "uchar";
  isProgressive: boolean;
  /** As libvips names it: "4:4:4", or "4:2:0" for any subsampled chroma; undefined when the chroma planes are not 1x1. */
  chromaSubsampling?: string;
  /**
   * Samples per pixel across the components at their own sampling (the sum of each one's h x v over
   * the largest): what a progressive decode's coefficient buffers hold. 1.5 for 4:2:0 and 4:1:1, 2 for
   * 4:2:2 and 4:4:0, 3 for 4:4:4: the chroma name above cannot tell the middle ones apart.
   */
  coefficientPlanes: number;
  /** EXIF Orientation (1-8), when the file has one. */
  orientation?: number;
  pages: 1;
  hasAlpha: false;
}

const SOI = 0xd8;
const SOS = 0xda;
const APP1 = 0xe1;
/** Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC). */
const isStartOfFrame = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
/** Progressive frames: SOF2, SOF6, SOF10, SOF14. */
const isProgressiveFrame = (marker: number) => marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce;
/** Markers without a length: TEM, RST0-7. */
const isStandalone = (marker: number) => marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7);

export function readJpegHeader(data: Buffer): JpegHeader | undefined {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== SOI) return undefined;
  let offset = 2;
  let frame: Omit<JpegHeader, "orientation"> | undefined;
  let orientation: number | undefined;
  let exifBlocks = 0;
  let scan = false;
  while (offset + 4 <= data.length) {
    if (data[offset] !== 0xff) return undefined;
    const marker = data[offset + 1]!;
    if (marker === 0xff) {
      offset++; // fill byte
      continue;
    }
    if (isStandalone(marker)) {
      offset += 2;
      continue;
    }
    if (marker === SOS) {
      scan = true;
      break;
    }
    const length = data.readUInt16BE(offset + 2);
    const end = offset + 2 + length;
    if (length < 2 || end > data.length) return undefined;
    const segment = data.subarray(offset + 4, end);
    if (isStartOfFrame(marker)) {
      if (frame) return undefined; // a second frame (hierarchical JPEG): sharp's to read
      frame = readFrame(marker, segment);
      if (!frame) return undefined;
    } else if (marker === APP1 && segment.subarray(0, 6).equals(EXIF_ID)) {
      if (++exifBlocks > 1) return undefined;
      const read = readOrientation(segment.subarray(6));
      if (read === null) return undefined;
      orientation = read;
    }
    offset = end;
  }
  // Without the scan, a marker after the bytes read (a second frame or EXIF block) could change the answer.
  if (!frame || !scan) return undefined;
  return orientation === undefined ? frame : { ...frame, orientation };
}

const EXIF_ID = Buffer.from("Exif\0\0", "latin1");

function readFrame(marker: number, segment: Buffer): Omit<JpegHeader, "orientation"> | undefined {
  if (segment.length < 6) return undefined;
  const precision = segment[0]!;
  const height = segment.readUInt16BE(1);
  const width = segment.readUInt16BE(3);
  const channels = segment[5]!;
  if (precision !== 8 || !width || !height || (channels !== 1 && channels !== 3 && channels !== 4) || segment.length < 6 + 3 * channels) return undefined;
  const sampling = Array.from({ length: channels }, (_, i) => segment[6 + 3 * i + 1]!);
  const [h, v] = [sampling.map((f) => f >> 4), sampling.map((f) => f & 0x0f)];
  if ([...h, ...v].some((f) => f < 1 || f > 4)) return undefined; // T.81 B.2.2: 1-4
  const samples = h.reduce((sum, hi, i) => sum + hi * v[i]!, 0);
  return {
    format: "jpeg",
    width,
    height,
    channels,
    depth: "uchar",
    isProgressive: isProgressiveFrame(marker),
    chromaSubsampling: channels === 3 ? subsampling(sampling) : undefined,
    coefficientPlanes: samples / (Math.max(...h) * Math.max(...v)),
    pages: 1,
    hasAlpha: false,
  };
}

/** libvips' name for a three-component frame's sampling: "4:4:4" or, for any subsampled chroma, "4:2:0" (as sharp reports it). */
function subsampling(factors: number[]): string | undefined {
  const [luma, ...chroma] = factors as [number, number, number];
  if (chroma.some((f) => f !== 0x11)) return undefined;
  return luma === 0x11 ? "4:4:4" : "4:2:0";
}

/** IFD0's Orientation: undefined when there is none, null when the TIFF structure is not one to trust. */
function readOrientation(tiff: Buffer): number | undefined | null {
  if (tiff.length < 8) return null;
  const order = tiff.toString("latin1", 0, 2);
  if (order !== "II" && order !== "MM") return null;
  const little = order === "II";
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > tiff.length) return null;
  const entries = u16(ifd);
  if (ifd + 2 + entries * 12 > tiff.length) return null;
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (u16(entry) !== 0x0112) continue;
    // SHORT, count 1: the value sits in the entry's first two bytes.
    if (u16(entry + 2) !== 3 || u32(entry + 4) !== 1) return null;
    const value = u16(entry + 8);
    return value >= 1 && value <= 8 ? value : null;
  }
  return undefined;
}

/** Bytes of a file's start read for its header: EXIF and ICC segments are at most 64 KB each. */
const FILE_HEADER_BYTES = 256 * 1024;

/** The header of a JPEG in a file (a spooled source), from its first bytes; undefined as above, or when the headers run past them. */
export async function readJpegFileHeader(file: string): Promise<JpegHeader | undefined> {
  const handle = await open(file, "r");
  try {
    const start = Buffer.alloc(FILE_HEADER_BYTES);
    const { bytesRead } = await handle.read(start, 0, start.length, 0);
    return readJpegHeader(start.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
