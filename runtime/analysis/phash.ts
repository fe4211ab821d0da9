/**
 * A 64-bit perceptual hash (the DCT pHash): the image in grey at 32 x 32, its 2-D DCT, and one bit
 * per low frequency (rows and columns 1 to 8, the mean brightness left out) set when the
 * coefficient is above their median. Resizing, recompression, a small crop or a colour change move
 * few bits; different photos differ in about half of them (docs/metadata.md has the measurements).
 */

/** The grey image the hash is taken from: its side. */
export const PHASH_SIDE = 32;
const LOW = 8;

/** cos((2x + 1) u pi / 2N) for every u and x: the DCT's basis, computed once. */
const BASIS: Float64Array = (() => {
  const table = new Float64Array(PHASH_SIDE * PHASH_SIDE);
  for (let u = 0; u < PHASH_SIDE; u++)
    for (let x = 0; x < PHASH_SIDE; x++) table[u * PHASH_SIDE + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * PHASH_SIDE));
  return table;
})();

/** The hash of a 32 x 32 grey image (one byte a pixel, rows top to bottom), as 16 lower-case hex digits. */
export function perceptualHash(grey: Uint8Array): string {
  if (grey.length !== PHASH_SIDE * PHASH_SIDE) throw new Error(`perceptualHash needs ${PHASH_SIDE}x${PHASH_SIDE} grey pixels, got ${grey.length} bytes`);
  const n = PHASH_SIDE;
  // Rows first (only the low frequencies are needed), then columns.
  const rows = new Float64Array(n * (LOW + 1));
  for (let y = 0; y < n; y++)
    for (let u = 0; u <= LOW; u++) {
      let sum = 0;
      for (let x = 0; x < n; x++) sum += grey[y * n + x]! * BASIS[u * n + x]!;
      rows[y * (LOW + 1) + u] = sum;
    }
  const coefficients: number[] = [];
  for (let v = 1; v <= LOW; v++)
    for (let u = 1; u <= LOW; u++) {
      let sum = 0;
      for (let y = 0; y < n; y++) sum += rows[y * (LOW + 1) + u]! * BASIS[v * n + y]!;
      coefficients.push(sum);
    }
  const sorted = [...coefficients].sort((a, b) => a - b);
  const median = (sorted[31]! + sorted[32]!) / 2;
  let hex = "";
  for (let i = 0; i < 64; i += 4) {
    let nibble = 0;
    for (let b = 0; b < 4; b++) nibble = (nibble << 1) | (coefficients[i + b]! > median ? 1 : 0);
    hex += nibble.toString(16);
  }
  return hex;
}

const POPCOUNT = Array.from({ length: 16 }, (_, n) => (n & 1) + ((n >> 1) & 1) + ((n >> 2) & 1) + ((n >> 3) & 1));

/** Bits in which two hashes differ (0 to 64). */
export function hammingDistance(a: string, b: string): number {
  let distance = 0;
  for (let i = 0; i < 16; i++) distance += POPCOUNT[parseInt(a[i]!, 16) ^ parseInt(b[i]!, 16)]!;
  return distance;
}
