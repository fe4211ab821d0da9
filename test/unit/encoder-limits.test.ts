/** Renditions every encoder accepts, however extreme the source's shape. */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { Rendition } from "../../contract/tenant-config";
import { clampToEncoder, ENCODER_MAX_SIDE, renderRenditions } from "../../runtime/renditions";

describe("renditions every encoder accepts", () => {
  const widthOnly = (format: Rendition["format"]): Rendition => ({ name: `w-${format}`, width: 1024, fit: "inside", format, quality: 70 });

  it("predicts when a rendition would exceed its encoder, and keeps the aspect", () => {
    expect(clampToEncoder(256, 400_000, widthOnly("webp"))).toEqual({ width: 10, height: 16_383 });
    expect(clampToEncoder(256, 400_000, widthOnly("jpeg"))).toEqual({ width: 42, height: 65_500 });
    expect(clampToEncoder(4000, 3000, widthOnly("webp"))).toBeUndefined();
    expect(clampToEncoder(256, 400_000, { name: "box", width: 256, height: 256, fit: "cover", format: "webp", quality: 70 })).toBeUndefined();
  });

  it("renders a width-only WebP, JPEG and AVIF of a very tall strip instead of failing", async () => {
    const strip = await sharp({ create: { width: 100, height: 70_000, channels: 3, background: "#3366aa" } })
      .png()
      .toBuffer();
    const { outputs } = await renderRenditions(strip, [widthOnly("webp"), widthOnly("jpeg"), widthOnly("avif")], {
      maxInputPixels: 268_402_689,
      profile: "none",
    });
    for (const output of outputs) {
      expect(Math.max(output.width, output.height)).toBeLessThanOrEqual(ENCODER_MAX_SIDE[output.format]);
      expect(output.height / output.width).toBeCloseTo(700, -2);
      const meta = await sharp(output.body).metadata();
      expect([meta.width, meta.height]).toEqual([output.width, output.height]);
    }
  });
});
