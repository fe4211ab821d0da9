/**
 * The figures docs/metadata.md quotes for `similar`, kept from regressing: edited copies of real
 * photos found at the default distance, distinct photos never taken for one another.
 */
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseTenant } from "../../contract/tenant-config";
import { nearDuplicateAccuracy, type Accuracy } from "../../fixtures/near-duplicates";

const PHOTOS = path.resolve(__dirname, "../../../shared/corpus/photos");
const threshold = parseTenant({ name: "x" }).analysis.similarDistance;
let accuracy: Accuracy;

beforeAll(async () => {
  accuracy = await nearDuplicateAccuracy(PHOTOS, threshold);
}, 300_000);

describe(`near-duplicates at the default distance (${threshold} bits)`, () => {
  it("are measured on 70 distinct real photos (7 photos and their 3 x 3 tiles)", () => {
    expect(accuracy.distinct).toBe(70);
  });

  it("find every copy that was resized, recompressed, brightened or converted to WebP", () => {
    for (const edit of ["resized to 50%", "recompressed at q60", "brightness +10%", "converted to WebP"])
      expect(accuracy.recall[edit], edit).toBeGreaterThanOrEqual(0.95);
  });

  it("find cropped copies less often (a 5% crop per side moves the hash's low frequencies), no worse than measured", () => {
    expect(accuracy.recall["cropped 5% per side"]).toBeGreaterThanOrEqual(0.2);
  });

  it("never take two different photos for near-duplicates", () => {
    expect(accuracy.falsePairs).toBe(0);
    expect(accuracy.precision).toBe(1);
    expect(accuracy.closestDistinct).toBeGreaterThan(threshold);
  });
});
