/**
 * One way to render an object from its source bytes, for both functions: the processor's
 * renditions and the renderer's on-demand variants. Which decoder (libheif for HEVC HEIF, sharp
 * for the rest), the size checks, and the fall back to a camera RAW's embedded preview are decided
 * here once.
 *
 * Two differences remain, on purpose, and come from what each caller has:
 * - Format: the processor has exiftool's FileType (it read the file first) and passes it; the
 *   renderer does not run exiftool, so HEIF is told by the file's `ftyp` brands.
 * - RAW previews: reading the embedded preview needs exiftool, which only the processor's function
 *   has (the ExifTool layer). The renderer answers 415 for a RAW sharp cannot decode.
 */
import type { Logger } from "pino";
import { PermanentError } from "./errors";
import { looksLikeHeif, withHeifPixels } from "./heif";
import { renderRenditions, type RenderedRendition, type RenderInput, type RenderOptions, type SourceImage } from "./renditions";
import type { Rendition } from "../contract/tenant-config";

/**
 * Camera RAW and HEIF types, by exiftool's FileType: libvips may open some of them (RAW is often
 * TIFF-shaped) and then fail in any number of ways, so for these a failed decode means "use the
 * embedded preview", not "corrupt". A plain JPEG that fails to decode stays a corrupt image.
 */
const PREVIEW_FILE_TYPES = new Set([
  "DNG",
  "CR2",
  "CR3",
  "CRW",
  "NEF",
  "NRW",
  "ARW",
  "SR2",
  "SRF",
  "ORF",
  "RW2",
  "RAF",
  "PEF",
  "SRW",
  "X3F",
  "3FR",
  "IIQ",
  "ERF",
  "MRW",
  "MOS",
  "KDC",
  "DCR",
  "HEIC",
  "HEIF",
]);

/** Failures of a decoded HEIF that no other decoder would change. */
const IMAGE_INDEPENDENT = new Set<PermanentError["code"]>(["TOO_MANY_PIXELS", "OVER_MEMORY_BUDGET", "ANALYSIS_FAILED"]);

/** HEIF-family types by exiftool's FileType: decoded by libheif before anything else is tried. */
const HEIF_FILE_TYPES = new Set(["HEIC", "HEIF"]);

/**
 * Whether a failed render goes on to the file's embedded preview (when the caller can read one): a
 * format sharp cannot decode, or a RAW or HEIF that libvips opened and then failed on.
 */
export function rendersFromPreviewAfter(err: unknown, fileType: string | undefined): boolean {
  return err instanceof PermanentError && (err.code === "UNSUPPORTED_FORMAT" || (err.code === "CORRUPT_IMAGE" && PREVIEW_FILE_TYPES.has(fileType ?? "")));
}

/** Whether exiftool's FileType sends a file to libheif first (without one, the file's brands do: looksLikeHeif). */
export const isHeifFileType = (fileType: string) => HEIF_FILE_TYPES.has(fileType);

/** The size checks both functions make from a HEAD, before a byte of the object is downloaded. */
export function checkSourceSize(size: number, maxObjectBytes: number): void {
  if (size === 0) throw new PermanentError("EMPTY_OBJECT", "the object is empty (0 bytes)");
  if (size > maxObjectBytes) throw new PermanentError("TOO_LARGE", `the object is ${size} bytes, above the tenant's limit of ${maxObjectBytes}`);
}

type Stage = "decode" | "render" | "preview";

export interface SourceRender {
  /** The downloaded object: its bytes, or the spool file that holds them. */
  input: Buffer | string;
  renditions: readonly Rendition[];
  options: RenderOptions;
  /** exiftool's FileType, when the caller read the file with it (the processor). */
  fileType?: string;
  /** Reads the file's embedded preview image (needs exiftool: the processor only). */
  preview?: () => Promise<Buffer | undefined>;
  /** Times each stage (the processor's Timer); by default the work just runs. */
  time?: <T>(stage: Stage, work: () => Promise<T>) => Promise<T>;
  log?: Logger;
}

export interface SourceRendered {
  outputs: RenderedRendition[];
  /** The decoded image's upright size and format; absent when rendered from a preview, whose size is not the image's. */
  source?: SourceImage;
}

export async function renderFromSource(request: SourceRender): Promise<SourceRendered> {
  const { input, renditions, options, fileType } = request;
  const time = request.time ?? (<T>(_stage: Stage, work: () => Promise<T>) => work());
  const render = (from: RenderInput, renderOptions: RenderOptions = options) => time("render", () => renderRenditions(from, renditions, renderOptions));
  const heif = fileType ? isHeifFileType(fileType) : await looksLikeHeif(input);
  if (heif) {
    // Phones' HEIC is HEVC, which sharp's libvips cannot decode: libheif (WebAssembly) can. The
    // decode holds the budget's reservation for its pixels, so the render does not take another.
    try {
      return await withHeifPixels(
        input,
        options.maxInputPixels,
        options.budget,
        (pixels) => render(pixels, { ...options, budget: undefined }),
        (decode) => time("decode", decode),
      );
    } catch (err) {
      if (!(err instanceof PermanentError) || IMAGE_INDEPENDENT.has(err.code)) throw err;
      request.log?.info({ err: err.message }, "libheif could not decode the file; trying sharp, then the embedded preview");
    }
  }
  try {
    return await render(input);
  } catch (err) {
    if (!rendersFromPreviewAfter(err, fileType) || !request.preview) throw err;
    // Camera RAW and friends: render from the JPEG preview the file embeds, when it has one.
    const preview = await time("preview", request.preview);
    if (!preview) throw new PermanentError("UNSUPPORTED_FORMAT", `${(err as Error).message}; and the file embeds no preview image`, { cause: err });
    request.log?.info({ previewBytes: preview.length }, "rendering from the embedded preview");
    const rendered = await render(preview);
    return { outputs: rendered.outputs };
  }
}
