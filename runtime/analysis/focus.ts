/**
 * The focus: the region of interest of the upright image, as fractions of its width and height, and
 * the cover crop that keeps it. From saliency (saliency.ts: edges, saturated colours, skin tones)
 * unless Amazon Rekognition found faces, whose union then is the focus.
 */

export interface Focus {
  /** Left, top, width and height as fractions (0..1) of the upright image. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** What found it: saliency (saliency.ts) or the faces Rekognition found. */
  source: "saliency" | "faces";
}

/** A box as Rekognition gives it: fractions of the image it was sent. */
export interface RelativeBox {
  Left?: number;
  Top?: number;
  Width?: number;
  Height?: number;
}

const round = (value: number) => Math.round(Math.min(1, Math.max(0, value)) * 10_000) / 10_000;

/** A focus from fractions, kept inside the image. */
export function focusOf(left: number, top: number, right: number, bottom: number, source: Focus["source"]): Focus {
  const [x, y] = [round(left), round(top)];
  return { x, y, width: round(Math.max(0, round(right) - x)), height: round(Math.max(0, round(bottom) - y)), source };
}

/** The union of face boxes (Rekognition's fractions), or undefined without faces. */
export function facesFocus(boxes: readonly RelativeBox[]): Focus | undefined {
  const valid = boxes.filter((b) => b.Left !== undefined && b.Top !== undefined && b.Width !== undefined && b.Height !== undefined);
  if (valid.length === 0) return undefined;
  const left = Math.min(...valid.map((b) => b.Left!));
  const top = Math.min(...valid.map((b) => b.Top!));
  const right = Math.max(...valid.map((b) => b.Left! + b.Width!));
  const bottom = Math.max(...valid.map((b) => b.Top! + b.Height!));
  return focusOf(left, top, right, bottom, "faces");
}

/**
 * How to fill a `target` box from a `width` x `height` image without distorting it, keeping the
 * focus's centre as close to the box's centre as the image allows: resize to cover, then cut.
 * Undefined when the image would have to be enlarged (the renders never enlarge: sharp's own
 * `withoutEnlargement` then decides) or nothing needs cutting.
 */
export function focusCrop(
  width: number,
  height: number,
  target: { width: number; height: number },
  focus: Pick<Focus, "x" | "y" | "width" | "height">,
): { resize: { width: number; height: number }; extract: { left: number; top: number; width: number; height: number } } | undefined {
  const scale = Math.max(target.width / width, target.height / height);
  if (scale > 1) return undefined;
  const resize = { width: Math.max(target.width, Math.round(width * scale)), height: Math.max(target.height, Math.round(height * scale)) };
  if (resize.width === target.width && resize.height === target.height) return undefined;
  const centreX = (focus.x + focus.width / 2) * resize.width;
  const centreY = (focus.y + focus.height / 2) * resize.height;
  const left = Math.round(Math.min(Math.max(0, centreX - target.width / 2), resize.width - target.width));
  const top = Math.round(Math.min(Math.max(0, centreY - target.height / 2), resize.height - target.height));
  return { resize, extract: { left, top, width: target.width, height: target.height } };
}

/** The sidecar's user metadata that carries the focus to the on-demand renderer (`x,y,width,height`, fractions). */
export const FOCUS_METADATA = "focus";
/** ... and the object's status (`done`, `quarantined`), which tenants that quarantine check before rendering. */
export const STATUS_METADATA = "status";

export function focusMetadata(focus: Focus): string {
  return [focus.x, focus.y, focus.width, focus.height].join(",");
}

export function parseFocusMetadata(value: string | undefined): Pick<Focus, "x" | "y" | "width" | "height"> | undefined {
  const parts = value?.split(",").map(Number);
  if (!parts || parts.length !== 4 || parts.some((v) => !Number.isFinite(v) || v < 0 || v > 1)) return undefined;
  const [x, y, width, height] = parts as [number, number, number, number];
  return { x, y, width, height };
}
