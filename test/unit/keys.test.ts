import { describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { sharedScale } from "../../runtime/renditions";

describe("proxy keys", () => {
  it("derive from the full source key, so folders never collide", () => {
    expect(renditionKey("thumb", "a/x.jpg", "webp")).toBe("thumb/a/x.jpg.webp");
    expect(renditionKey("thumb", "b/x.jpg", "webp")).toBe("thumb/b/x.jpg.webp");
    expect(sidecarKey("a b/ü+%.jpg")).toBe("metadata/a b/ü+%.jpg.json");
  });

  it("stay within S3's 1,024-byte key limit for very long source keys", () => {
    const long = `${"d/".repeat(100)}${"é".repeat(460)}.jpg`;
    const key = renditionKey("preview", long, "jpeg");
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
    expect(key).toMatch(/^preview\.long\/[0-9a-f]{64}\.jpg$/);
    expect(renditionKey("preview", long, "jpeg")).toBe(key);
    expect(renditionKey("preview", `${long}x`, "jpeg")).not.toBe(key);
  });

  it("never give a user's key the outputs of a hashed long key", () => {
    const long = "x".repeat(1020);
    const digest = /([0-9a-f]{64})/.exec(renditionKey("thumb", long, "webp"))![1]!;
    for (const named of [`_long-keys/${digest}`, `.long/${digest}`, `${digest}`, `thumb.long/${digest}`]) {
      expect(renditionKey("thumb", named, "webp")).not.toBe(renditionKey("thumb", long, "webp"));
      expect(sidecarKey(named)).not.toBe(sidecarKey(long));
    }
  });
});

describe("shared decode scale", () => {
  it("is the largest scale any rendition needs, never above 1", () => {
    const thumbCover = { name: "t", width: 256, height: 256, fit: "cover", format: "webp", quality: 80 } as const;
    const previewInside = { name: "p", width: 1024, height: 1024, fit: "inside", format: "jpeg", quality: 80 } as const;
    expect(sharedScale(4000, 3000, [thumbCover, previewInside])).toBeCloseTo(1024 / 4000);
    expect(sharedScale(4000, 1000, [thumbCover])).toBeCloseTo(256 / 1000);
    expect(sharedScale(200, 100, [previewInside])).toBe(1);
    expect(sharedScale(4000, 3000, [{ name: "w", height: 600, fit: "inside", format: "png", quality: 80 }])).toBeCloseTo(0.2);
  });
});
