/** Errors in the class that matches what a retry can change, and renditions every encoder accepts. */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { classify, PermanentError, TransientError } from "../../runtime/errors";
import { summarizeTags } from "../../runtime/metadata/summary";
import { clampToEncoder, ENCODER_MAX_SIDE, renderRenditions } from "../../runtime/renditions";
import type { Rendition } from "../../runtime/tenant-config";

const aws = (name: string, status: number, message = name) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, $fault: status >= 500 ? "server" : "client" });

describe("AWS errors, by what a retry can change", () => {
  it.each([
    ["AccessDenied", 403, "ACCESS_DENIED"],
    ["Forbidden", 403, "ACCESS_DENIED"], // a HEAD has no body to name its error
    ["InvalidObjectState", 403, "OBJECT_ARCHIVED"],
  ])("%s (%i) is permanent: %s", (name, status, code) => {
    const failure = classify(aws(name, status));
    expect(failure).toBeInstanceOf(PermanentError);
    expect(failure.code).toBe(code);
  });

  it("a DynamoDB item above 400 KB is permanent", () => {
    const failure = classify(aws("ValidationException", 400, "Item size has exceeded the maximum allowed size"));
    expect([failure.constructor, failure.code]).toEqual([PermanentError, "ITEM_TOO_LARGE"]);
  });

  it.each([
    ["SlowDown", 503],
    ["ThrottlingException", 400],
    ["ProvisionedThroughputExceededException", 400],
    ["RequestTimeout", 400],
    ["InternalError", 500],
  ])("%s (%i) is transient", (name, status) => {
    expect(classify(aws(name, status))).toBeInstanceOf(TransientError);
  });
});

describe("item fields a file controls are bounded", () => {
  it("clips a camera name of 100 KB", () => {
    const summary = summarizeTags({ Make: "M".repeat(100_000), Model: "x", FileType: "JPEG" } as never, false);
    expect(summary.camera!.length).toBeLessThanOrEqual(256);
  });
});

describe("renditions every encoder accepts", () => {
  const widthOnly = (format: Rendition["format"]): Rendition => ({ name: `w-${format}`, width: 1024, fit: "inside", format, quality: 70 });

  it("predicts when a rendition would exceed its encoder, and keeps the aspect", () => {
    expect(clampToEncoder(256, 400_000, widthOnly("webp"))).toEqual({ width: 10, height: 16_383 });
    expect(clampToEncoder(256, 400_000, widthOnly("jpeg"))).toEqual({ width: 42, height: 65_500 });
    expect(clampToEncoder(4000, 3000, widthOnly("webp"))).toBeUndefined();
    expect(clampToEncoder(256, 400_000, { name: "box", width: 256, height: 256, fit: "cover", format: "webp", quality: 70 })).toBeUndefined();
  });

  it("renders a width-only WebP, JPEG and AVIF of a very tall strip instead of failing", async () => {
    const strip = await sharp({ create: { width: 100, height: 70_000, channels: 3, background: "#3366aa" } }).png().toBuffer();
    const { outputs } = await renderRenditions(strip, "strip.png", [widthOnly("webp"), widthOnly("jpeg"), widthOnly("avif")], { maxInputPixels: 268_402_689, profile: "none" });
    for (const output of outputs) {
      expect(Math.max(output.width, output.height)).toBeLessThanOrEqual(ENCODER_MAX_SIDE[output.format]);
      expect(output.height / output.width).toBeCloseTo(700, -2);
      const meta = await sharp(output.body).metadata();
      expect([meta.width, meta.height]).toEqual([output.width, output.height]);
    }
  });

  it("a decode that ran out of memory or lost its spool file is retried, not marked corrupt", async () => {
    const missing = await renderRenditions("/tmp/no-such-spool-file", "x.jpg", [widthOnly("jpeg")], { maxInputPixels: 1e8, profile: "none" }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TransientError);
    expect((missing as TransientError).code).toBe("SPOOL_FILE_MISSING");
  });
});
