/** The item's summary of exiftool's tags: what a file controls stays bounded. */
import { describe, expect, it } from "vitest";
import { summarizeTags } from "../../runtime/metadata/summary";

describe("item fields a file controls are bounded", () => {
  it("clips a camera name of 100 KB", () => {
    const summary = summarizeTags({ Make: "M".repeat(100_000), Model: "x", FileType: "JPEG" } as never, false);
    expect(summary.camera!.length).toBeLessThanOrEqual(256);
  });
});
