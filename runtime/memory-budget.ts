/**
 * What decoding an image costs in memory, and a container-wide budget for it. A function processes
 * two objects at once; a small file can decode to hundreds of MB (an 8000x8000 progressive JPEG of
 * 1.4 MB: 300 MB; a 256x400000 PNG strip of 2.7 MB: 480 MB), and an out-of-memory kill records
 * nothing. So every decode reserves its estimated cost first: objects wait for each other rather
 * than overrun the function's memory together, and one that could never fit fails with the memory
 * it would need.
 */
import { PermanentError } from "./errors";

const MB = 1024 * 1024;

/** What node, sharp, the SDK clients and the exiftool helper hold before any image: kept out of the budget. */
const BASELINE_MB = 256;

/** Bytes a function of `memoryMb` can give to image decoding, across the objects it processes at once. */
export function decodeBudgetBytes(memoryMb: number): number {
  return Math.max(64, memoryMb - BASELINE_MB) * MB;
}

export interface DecodeHeader {
  format?: string;
  width: number;
  height: number;
  channels?: number;
  /** JPEG progressive or PNG interlaced (Adam7): the decoder holds the whole image, whatever the shrink. */
  isProgressive?: boolean;
  chromaSubsampling?: string;
  /** JPEG: samples per pixel across its components at their own sampling, when the header was read by us (jpeg-header.ts). */
  coefficientPlanes?: number;
  /** Bytes per sample (16-bit PNG: 2). */
  bytesPerSample?: number;
}

/**
 * Samples per pixel a JPEG's coefficient buffers hold. From sharp's metadata alone the chroma name
 * cannot say: libvips names 4:2:2 and 4:4:0 "4:2:0" too, so a subsampled frame counts as the larger
 * of them (2 planes, not 4:2:0's 1.5): an estimate too low is an out-of-memory kill, which records nothing.
 */
function jpegPlanes(header: DecodeHeader): number {
  if (header.coefficientPlanes) return header.coefficientPlanes;
  if ((header.channels ?? 3) >= 4) return header.channels ?? 4; // CMYK
  if ((header.channels ?? 3) === 1) return 1;
  // No name at all is not a subsampled frame's: counted whole, as before.
  return header.chromaSubsampling && header.chromaSubsampling !== "4:4:4" ? 2 : 3;
}

/**
 * The decoder's own working set beyond the shared pixel buffer: the whole image for formats whose
 * decoders hold it (progressive JPEG's coefficients, interlaced PNG, HEIF, GIF), a little otherwise
 * (baseline JPEG shrinks on load; PNG, TIFF and WebP stream through libvips).
 */
export function decoderWorkingSetBytes(header: DecodeHeader): number {
  const pixels = header.width * header.height;
  const channels = header.channels ?? 4;
  switch (header.format) {
    case "jpeg":
      return header.isProgressive ? pixels * jpegPlanes(header) * 2 : 16 * MB;
    case "png":
      return header.isProgressive ? pixels * channels * (header.bytesPerSample ?? 1) : 16 * MB;
    case "heif":
      return pixels * 5.5; // YUV planes plus the RGBA the decoder hands over
    case "gif":
      return pixels * 4;
    default:
      return 32 * MB;
  }
}

/** A counting semaphore over bytes: FIFO, so a large decode is not starved by a stream of small ones. */
export class MemoryBudget {
  private used = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(
    readonly totalBytes: number,
    readonly functionMemoryMb: number,
  ) {}

  /** Waits until `bytes` fit beside what other decodes hold; refuses at once what can never fit. */
  async acquire(bytes: number, what: string): Promise<() => void> {
    if (bytes > this.totalBytes) {
      const neededMb = Math.ceil(bytes / MB) + BASELINE_MB;
      throw new PermanentError(
        "OVER_MEMORY_BUDGET",
        `${what} needs about ${Math.ceil(bytes / MB)} MB to decode, more than the ${Math.floor(this.totalBytes / MB)} MB a ${this.functionMemoryMb} MB function has for images; set function.memoryMb to at least ${neededMb} and reprocess it`,
      );
    }
    if (this.used + bytes <= this.totalBytes && this.waiting.length === 0) {
      this.used += bytes;
    } else {
      await new Promise<void>((resolve) => this.waiting.push({ bytes, resolve })); // wake() reserves for it
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.wake();
    };
  }

  private wake(): void {
    while (this.waiting.length && this.used + this.waiting[0]!.bytes <= this.totalBytes) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.resolve();
    }
  }
}
