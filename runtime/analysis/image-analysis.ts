/**
 * What is learned once from an upload's pixels and kept on its item (docs/metadata.md is the
 * tenant's contract for these names): a placeholder (ThumbHash, BlurHash when asked), the colours,
 * a perceptual hash, and the focus the renders crop around. Computed from the pixels the rendition
 * stage already decoded, through one small working copy: no second download or decode.
 */
import sharp from "sharp";
import { rgbaToThumbHash } from "thumbhash";
import { encode as encodeBlurHash } from "blurhash";
import { perceptualHash, PHASH_SIDE } from "./phash";
import { dominantColours } from "./palette";
import { attentionFocus, type Focus } from "./focus";

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

/** The working copy's longest side: enough for saliency and colours, small enough to cost little. */
const WORKING_SIDE = 256;
/** ThumbHash's encoder takes at most 100 x 100. */
const THUMBHASH_SIDE = 100;
const BLURHASH_SIDE = 32;

async function rgba(image: sharp.Sharp): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await image.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export async function analysePixels(pixels: Pixels, options: { blurhash: boolean }): Promise<ImageAnalysis> {
  const raw = { width: pixels.width, height: pixels.height, channels: pixels.channels };
  const working = await rgba(sharp(pixels.data, { raw }).resize(WORKING_SIDE, WORKING_SIDE, { fit: "inside", withoutEnlargement: true }));
  const from = () => sharp(working.data, { raw: { width: working.width, height: working.height, channels: 4 } });
  const [thumb, blur, grey, focus] = await Promise.all([
    rgba(from().resize(THUMBHASH_SIDE, THUMBHASH_SIDE, { fit: "inside", withoutEnlargement: true })),
    options.blurhash ? rgba(from().resize(BLURHASH_SIDE, BLURHASH_SIDE, { fit: "inside", withoutEnlargement: true })) : undefined,
    from().flatten({ background: "#ffffff" }).resize(PHASH_SIDE, PHASH_SIDE, { fit: "fill" }).greyscale().raw().toBuffer(),
    attentionFocus(from(), working),
  ]);
  const colours = dominantColours(working.data);
  const landscape = working.width >= working.height;
  return {
    thumbhash: Buffer.from(rgbaToThumbHash(thumb.width, thumb.height, thumb.data)).toString("base64"),
    ...(blur ? { blurhash: encodeBlurHash(new Uint8ClampedArray(blur.data), blur.width, blur.height, landscape ? 4 : 3, landscape ? 3 : 4) } : {}),
    dominantColor: colours[0] ?? "#000000",
    palette: colours,
    phash: perceptualHash(grey),
    focus,
  };
}
