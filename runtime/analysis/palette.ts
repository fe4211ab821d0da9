/**
 * The colours an image is made of, most prominent first: pixels counted in a 16 x 16 x 16 RGB
 * histogram, then bins closer than MERGE_DISTANCE to a more populous colour merged into it (so
 * that one blue sky is one colour, not five shades), each colour the mean of its pixels.
 */

/** Colours closer than this (Euclidean, 0-255 RGB) are one colour of the palette. */
const MERGE_DISTANCE = 48;
const MAX_COLOURS = 5;

interface Colour {
  count: number;
  r: number;
  g: number;
  b: number;
}

const hex = (c: Colour) =>
  `#${[c.r, c.g, c.b]
    .map((v) =>
      Math.round(v / c.count)
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;

/** Up to five `#rrggbb` colours of RGBA pixels, most prominent first; mostly transparent pixels are left out (unless all are). */
export function dominantColours(rgba: Uint8Array): string[] {
  const bins = new Map<number, Colour>();
  const count = (minAlpha: number) => {
    for (let i = 0; i + 3 < rgba.length; i += 4) {
      if (rgba[i + 3]! < minAlpha) continue;
      const [r, g, b] = [rgba[i]!, rgba[i + 1]!, rgba[i + 2]!];
      const bin = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
      const colour = bins.get(bin);
      if (colour) {
        colour.count++;
        colour.r += r;
        colour.g += g;
        colour.b += b;
      } else bins.set(bin, { count: 1, r, g, b });
    }
  };
  count(128);
  if (bins.size === 0) count(0);
  const merged: Colour[] = [];
  for (const bin of [...bins.values()].sort((a, b) => b.count - a.count)) {
    const [r, g, b] = [bin.r / bin.count, bin.g / bin.count, bin.b / bin.count];
    const near = merged.find((c) => Math.hypot(c.r / c.count - r, c.g / c.count - g, c.b / c.count - b) < MERGE_DISTANCE);
    if (near) {
      near.count += bin.count;
      near.r += bin.r;
      near.g += bin.g;
      near.b += bin.b;
    } else merged.push({ ...bin });
  }
  return merged
    .sort((a, b) => b.count - a.count)
    .slice(0, MAX_COLOURS)
    .map(hex);
}
