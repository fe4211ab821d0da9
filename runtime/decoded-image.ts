/**
 * What every decoder agrees on: the guard applied to an image's size before a pixel is decoded, and
 * the pixels a decoder other than sharp (libheif, runtime/heif.ts) hands to the renderer.
 */
import { PermanentError } from "./errors";

export interface RawImage {
  raw: { data: Buffer; width: number; height: number; channels: 4 };
}

/** The decompression-bomb guard, applied to whichever header is read first (exiftool's, sharp's or libheif's). */
export function checkPixelLimit(width: number, height: number, maxInputPixels: number): void {
  if (width * height > maxInputPixels) {
    throw new PermanentError("TOO_MANY_PIXELS", `image is ${width}x${height} (${width * height} pixels), above the tenant's limit of ${maxInputPixels}`);
  }
}
