/** The similarity index's promise, from its key scheme alone: which pairs a lookup can find. */
import { describe, expect, it } from "vitest";
import { GUARANTEED_DISTANCE, indexFinds, probedBuckets } from "../../runtime/analysis/similar-index";
import { hammingDistance, perceptualHash } from "../../runtime/analysis/phash";
import { seededRandom } from "../../fixtures/seeded-random";

const hex = (bits: number[]) =>
  Array.from({ length: 16 }, (_, i) => ((bits[4 * i]! << 3) | (bits[4 * i + 1]! << 2) | (bits[4 * i + 2]! << 1) | bits[4 * i + 3]!).toString(16)).join("");

/** A random hash and another `distance` bits from it. */
function pair(next: () => number, distance: number): [string, string] {
  const bits = Array.from({ length: 64 }, () => (next() < 0.5 ? 1 : 0));
  const flipped = [...bits];
  const positions = [...Array(64).keys()].sort(() => next() - 0.5).slice(0, distance);
  for (const p of positions) flipped[p] = flipped[p] === 1 ? 0 : 1;
  return [hex(bits), hex(flipped)];
}

/** Whether a lookup by `a` reads a bucket that `b` is in (its own band values are the zero-flip probes), from the keys alone. */
function findable(a: string, b: string): boolean {
  const own = new Set(probedBuckets(b).filter((_, i) => i % 17 === 0));
  return probedBuckets(a).some((key) => own.has(key));
}

describe("the similarity index", () => {
  it("reads the same 68 buckets (one BatchGetItem request) whatever the table holds", () => {
    const keys = probedBuckets("0123456789abcdef");
    expect(keys).toHaveLength(68);
    expect(new Set(keys).size).toBe(68);
    expect(keys.every((k) => k.startsWith("_platform/similar/"))).toBe(true);
    expect(keys.filter((_, i) => i % 17 === 0)).toEqual(["0123", "4567", "89ab", "cdef"].map((v, band) => `_platform/similar/${band}/${v}`));
  });

  it(`finds every pair within ${GUARANTEED_DISTANCE} bits, most pairs at 8 to 12, and says so where it is asked`, () => {
    expect(GUARANTEED_DISTANCE).toBe(7);
    const next = seededRandom(20);
    for (let distance = 0; distance <= 12; distance++) {
      let found = 0;
      for (let i = 0; i < 500; i++) {
        const [a, b] = pair(next, distance);
        expect(hammingDistance(a, b)).toBe(distance);
        expect(indexFinds(a, b), `${a} ${b}`).toBe(findable(a, b));
        if (findable(a, b)) found++;
      }
      if (distance <= GUARANTEED_DISTANCE) expect(found, `distance ${distance}`).toBe(500);
      // At 8 a pair is missed only when each band differs in exactly 2 bits: C(16,2)^4 / C(64,8) = 4.7%.
      if (distance === 8) expect(found / 500).toBeGreaterThan(0.9);
    }
  });

  it("hashes a flat image and its negative far apart, and an image and itself identically", () => {
    const ramp = Uint8Array.from({ length: 1024 }, (_, i) => (i % 32) * 8);
    const negative = ramp.map((v) => 255 - v);
    expect(perceptualHash(ramp)).toBe(perceptualHash(Uint8Array.from(ramp)));
    expect(hammingDistance(perceptualHash(ramp), perceptualHash(negative))).toBeGreaterThan(20);
    expect(() => perceptualHash(new Uint8Array(10))).toThrow(/32x32/);
  });
});
