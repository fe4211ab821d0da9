/**
 * HEIF/HEIC (HEVC-coded, as phones write them) decoded by libheif compiled to WebAssembly: sharp's
 * prebuilt libvips has no HEVC decoder. Nothing native to build or ship per architecture. The
 * primary image is decoded with its `irot`/`imir` transformations applied (the orientation HEIF
 * stores; EXIF Orientation inside a HEIF file is informational, as the HEIF spec says), to RGBA.
 */
import { open, readFile } from "node:fs/promises";
import { checkPixelLimit, type RawImage } from "./decoded-image";
import { PermanentError } from "./errors";
import { decoderWorkingSetBytes, type MemoryBudget } from "./memory-budget";

interface HeifImageHandle {
  is_primary(): boolean;
  get_width(): number;
  get_height(): number;
  display(target: { data: Uint8ClampedArray; width: number; height: number }, done: (result: { data: Uint8ClampedArray } | null) => void): void;
  free(): void;
}

interface Libheif {
  ready?: Promise<unknown>;
  HeifDecoder: new () => { decode(data: Buffer): HeifImageHandle[]; decoder: { delete(): void } };
}

let libheif: Libheif | undefined;

/** Loaded on the first HEIC only: the WebAssembly module costs its compile time once per container. */
function load(): Libheif {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  libheif ??= require("libheif-js/wasm-bundle") as Libheif;
  return libheif;
}

/**
 * Decodes the primary image and hands its pixels to `use` (a render) under one reservation of the
 * container's memory budget, made once libheif has read the image's size: libheif's working set
 * and the RGBA pixels. One reservation, not one per step: nested ones could deadlock.
 */
export async function withHeifPixels<T>(
  input: Buffer | string,
  maxInputPixels: number,
  budget: MemoryBudget | undefined,
  use: (image: RawImage) => Promise<T>,
  timeDecode: (work: () => Promise<RawImage>) => Promise<RawImage> = (work) => work(),
): Promise<T> {
  const heif = load();
  await heif.ready;
  const bytes = typeof input === "string" ? await readFile(input) : input;
  const decoder = new heif.HeifDecoder();
  let images: HeifImageHandle[] = [];
  try {
    try {
      images = decoder.decode(bytes);
    } catch (err) {
      throw new PermanentError("CORRUPT_IMAGE", `libheif could not read the HEIF structure: ${(err as Error).message ?? err}`, { cause: err });
    }
    const image = images.find((i) => i.is_primary()) ?? images[0];
    if (!image) throw new PermanentError("CORRUPT_IMAGE", "the HEIF file holds no image");
    const width = image.get_width();
    const height = image.get_height();
    checkPixelLimit(width, height, maxInputPixels);
    const release = await budget?.acquire(decoderWorkingSetBytes({ format: "heif", width, height }) + width * height * 4, `a ${width}x${height} HEIF`);
    try {
      const pixels = await timeDecode(async () => {
        const data = await new Promise<Uint8ClampedArray>((resolve, reject) =>
          image.display({ data: new Uint8ClampedArray(width * height * 4), width, height }, (result) =>
            result
              ? resolve(result.data)
              : reject(new PermanentError("CORRUPT_IMAGE", `libheif could not decode the primary image${decodeFailureDetail(image)}`)),
          ),
        );
        return { raw: { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width, height, channels: 4 as const } };
      });
      return await use(pixels);
    } finally {
      release?.();
    }
  } finally {
    for (const image of images) image.free();
    decoder.decoder.delete();
  }
}

/**
 * HEVC-coded HEIF by its ISO BMFF `ftyp` brands: what sharp's libvips cannot decode. The major
 * brand may be the generic `mif1` with `heic` among the compatible ones (exiftool's sample is so);
 * a file that also names `avif` is AV1, which sharp decodes.
 */
const HEVC_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis"]);

export async function looksLikeHeif(input: Buffer | string): Promise<boolean> {
  let head: Buffer;
  if (typeof input === "string") {
    const file = await open(input, "r");
    try {
      head = Buffer.alloc(64);
      const { bytesRead } = await file.read(head, 0, 64, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } else {
    head = input.subarray(0, 64);
  }
  if (head.length < 16 || head.toString("latin1", 4, 8) !== "ftyp") return false;
  const end = Math.min(head.length, head.readUInt32BE(0));
  const brands = [head.toString("latin1", 8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(head.toString("latin1", at, at + 4));
  return brands.some((b) => HEVC_BRANDS.has(b)) && !brands.some((b) => b === "avif" || b === "avis");
}

/** The primary image's pixels, outside any memory budget (tools and benchmarks). */
/**
 * libheif-js reports a failed decode with `console.log("Decoding image failed", handle, error)` and
 * then calls back with nothing: a stray line in the function's log (and the tests' output) with the
 * reason outside the error. That one message is kept here, by handle, for the error to carry;
 * every other console.log passes through untouched.
 */
const decodeFailures = new WeakMap<object, unknown>();
const consoleLog = console.log.bind(console);
console.log = (...args: unknown[]) => {
  if (args[0] === "Decoding image failed" && args[1] && typeof args[1] === "object") {
    decodeFailures.set(args[1], args[2]);
    return;
  }
  consoleLog(...args);
};

function decodeFailureDetail(image: object): string {
  const failure = decodeFailures.get((image as { handle?: object }).handle ?? image) as { code?: number; message?: string } | undefined;
  return failure ? `: ${failure.message ?? `libheif error ${failure.code}`}` : "";
}

export function decodeHeif(input: Buffer | string, maxInputPixels: number): Promise<RawImage> {
  return withHeifPixels(input, maxInputPixels, undefined, async (pixels) => pixels);
}
