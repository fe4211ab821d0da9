/**
 * What is learned once from an upload's pixels and kept on its item (docs/metadata.md is the
 * tenant's contract for these names): a placeholder (ThumbHash, BlurHash when asked), the colours,
 * a perceptual hash, and the focus the renders crop around. Computed from the pixels the rendition
 * stage already decoded: one resize by sharp to a working copy of at most 100 pixels a side (what
 * ThumbHash's encoder takes), then plain arithmetic on it. No second download or decode.
 */
import sharp from "sharp";
import { rgbaToThumbHash } from "thumbhash";
import { encode as encodeBlurHash } from "blurhash";
import { perceptualHash, PHASH_SIDE } from "./phash";
import { dominantColours } from "./palette";
import { focusOf, type Focus } from "./focus";
import { salientWindow } from "./saliency";

export interface ImageAnalysis {
  /** ThumbHash of the upright image, base64: aspect ratio and alpha kept. */
  thumbhash: string;
  /** BlurHash (4 x 3 components, 3 x 4 for a portrait image), when the tenant asks for it. */
  blurhash?: string;
  /** The most prominent colour, `#rrggbb`. */
  dominantColor: string;
  /** Up to 5 colours, most prominent first. */
  palette: string[];
  /** 64-bit DCT perceptual hash, 16 lower-case hex digits. */
  phash: string;
  focus: Focus;
}

/** Decoded, upright sRGB pixels (sharp's raw output). */
export interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** The working copy's longest side: ThumbHash's encoder takes at most 100 x 100. The decode keeps at least this. */
export const WORKING_SIDE = 100;
/** Saliency's copy: enough to place a subject, small enough to score in microseconds. */
const SALIENCY_SIDE = 64;

interface Rgba {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A smaller copy by area averaging (each output pixel the mean of the input pixels it covers). */
function shrink(image: Rgba, width: number, height: number): Rgba {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const [y0, y1] = [
      Math.floor((y * image.height) / height),
      Math.max(Math.floor((y * image.height) / height) + 1, Math.floor(((y + 1) * image.height) / height)),
    ];
    for (let x = 0; x < width; x++) {
      const [x0, x1] = [
        Math.floor((x * image.width) / width),
        Math.max(Math.floor((x * image.width) / width) + 1, Math.floor(((x + 1) * image.width) / width)),
      ];
      const sum = [0, 0, 0, 0];
      for (let sy = y0; sy < y1; sy++) for (let sx = x0; sx < x1; sx++) for (let c = 0; c < 4; c++) sum[c]! += image.data[(sy * image.width + sx) * 4 + c]!;
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 4; c++) out[(y * width + x) * 4 + c] = Math.round(sum[c]! / n);
    }
  }
  return { data: out, width, height };
}

/** Grey (on white where transparent), stretched to 32 x 32: the perceptual hash's input. */
function greyForHash(image: Rgba): Uint8Array {
  const small = shrink(image, PHASH_SIDE, PHASH_SIDE);
  const grey = new Uint8Array(PHASH_SIDE * PHASH_SIDE);
  for (let p = 0; p < grey.length; p++) {
    const alpha = small.data[p * 4 + 3]! / 255;
    const luma = 0.299 * small.data[p * 4]! + 0.587 * small.data[p * 4 + 1]! + 0.114 * small.data[p * 4 + 2]!;
    grey[p] = Math.round(luma * alpha + 255 * (1 - alpha));
  }
  return grey;
}

const fit = (width: number, height: number, side: number) => {
  const scale = Math.min(1, side / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))] as const;
};

export async function analysePixels(pixels: Pixels, options: { blurhash: boolean }): Promise<ImageAnalysis> {
  const raw = { width: pixels.width, height: pixels.height, channels: pixels.channels };
  const { data, info } = await sharp(pixels.data, { raw })
    .resize(WORKING_SIDE, WORKING_SIDE, { fit: "inside", withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const working: Rgba = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  const salient = shrink(working, ...fit(working.width, working.height, SALIENCY_SIDE));
  const [x, y, width, height] = salientWindow(salient.data, salient.width, salient.height);
  const colours = dominantColours(working.data);
  const landscape = working.width >= working.height;
  return {
    thumbhash: Buffer.from(rgbaToThumbHash(working.width, working.height, working.data)).toString("base64"),
    ...(options.blurhash
      ? {
          blurhash: encodeBlurHash(
            new Uint8ClampedArray(working.data.buffer, working.data.byteOffset, working.data.length),
            working.width,
            working.height,
            landscape ? 4 : 3,
            landscape ? 3 : 4,
          ),
        }
      : {}),
    dominantColor: colours[0] ?? "#000000",
    palette: colours,
    phash: perceptualHash(greyForHash(working)),
    focus: focusOf(x, y, x + width, y + height, "saliency"),
  };
}
