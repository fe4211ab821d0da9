/**
 * HEIC as phones write it (HEVC), made by Debian's heif-enc, through the whole pipeline: renditions
 * from libheif's decode with the HEIF orientation applied, alpha kept, the primary image of a
 * multi-image file, and a damaged file that keeps what exiftool read about it.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { addIrot, heifEncode, heifEncUnavailable } from "../../fixtures/heif";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const unavailable = heifEncUnavailable();
if (unavailable) console.warn(`HEIC tests skipped: ${unavailable} (.ci/run installs it as root: apt-get install libheif-examples)`);

/** Left half red, right half blue: where red ends up tells how the image was turned. */
async function halves(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x < width / 2 ? [230, 20, 20] : [20, 20, 230], (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

async function pixel(image: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return [...data.subarray(at, at + info.channels)];
}

const isRed = (p: number[]) => p[0]! > 150 && p[2]! < 100;
const isBlue = (p: number[]) => p[2]! > 150 && p[0]! < 100;

describe.skipIf(unavailable)("HEIC (HEVC) uploads", () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform([{ name: "phone" }]);
  });
  afterAll(() => t?.stop());

  async function process(key: string, body: Buffer) {
    await t.upload("phone", key, body, "image/heic");
    await t.drain();
    return (await t.item("phone", key))!;
  }

  it("renders a plain HEIC and keeps its metadata", async () => {
    const heic = heifEncode([await jpegWithExif({ width: 1200, height: 800, make: "Apple", model: "iPhone 15", dateTimeOriginal: "2024:06:01 10:20:30" })]);
    const item = await process("phone/IMG_0001.HEIC", heic);
    expect(item).toMatchObject({ status: "done", format: "HEIC", width: 1200, height: 800, camera: "Apple iPhone 15", metadataMethod: "ranged" });
    expect(item.capturedAt).toMatch(/^2024-06-01T10:20:30/);
    expect(item.renditions!.map((r) => [r.name, r.width, r.height])).toEqual([
      ["thumb", 256, 256],
      ["preview", 1024, 683],
    ]);
    // The analysis at upload, from libheif's pixels: ThumbHash of the 3:2 image, hash and focus.
    expect(item).toMatchObject({ thumbhash: expect.any(String), phash: expect.stringMatching(/^[0-9a-f]{16}$/), focus: { source: "saliency" } });
    const preview = (await t.proxyObject("phone", renditionKey("preview", "phone/IMG_0001.HEIC", "jpeg")))!;
    const meta = await sharp(preview).metadata();
    expect([meta.format, meta.width, meta.height, meta.space]).toEqual(["jpeg", 1024, 683, "srgb"]);
  });

  it("applies the HEIF rotation (irot), as phones store orientation", async () => {
    // 90 degrees clockwise = 3 quarter turns counter-clockwise: the red left half ends up on top.
    const heic = addIrot(heifEncode([await halves(600, 300)]), 3);
    const item = await process("phone/rotated.heic", heic);
    expect(item.status).toBe("done");
    const preview = item.renditions!.find((r) => r.name === "preview")!;
    expect([preview.width, preview.height]).toEqual([300, 600]);
    const image = (await t.proxyObject("phone", preview.key))!;
    expect(isRed(await pixel(image, 150, 60))).toBe(true);
    expect(isBlue(await pixel(image, 150, 540))).toBe(true);
  });

  it("keeps alpha in WebP renditions and flattens it on white in JPEG", async () => {
    const translucent = await sharp({ create: { width: 400, height: 300, channels: 4, background: { r: 200, g: 30, b: 30, alpha: 0.4 } } })
      .png()
      .toBuffer();
    const item = await process("phone/alpha.heic", heifEncode([translucent], 90));
    expect(item.status).toBe("done");
    const thumb = await sharp((await t.proxyObject("phone", renditionKey("thumb", "phone/alpha.heic", "webp")))!).metadata();
    expect(thumb.hasAlpha).toBe(true);
    const [, , , alpha] = await pixel((await t.proxyObject("phone", renditionKey("thumb", "phone/alpha.heic", "webp")))!, 10, 10);
    expect(alpha).toBeGreaterThan(60);
    expect(alpha).toBeLessThan(150);
    const flattened = await pixel((await t.proxyObject("phone", renditionKey("preview", "phone/alpha.heic", "jpeg")))!, 10, 10);
    expect(flattened[1]).toBeGreaterThan(120); // translucent red over white: pink, not dark red
  });

  it("renders the primary image of a file that holds several", async () => {
    const heic = heifEncode([await halves(640, 480), await halves(320, 200)]);
    const item = await process("phone/burst.heic", heic);
    expect(item).toMatchObject({ status: "done", width: 640, height: 480 });
    expect(item.renditions!.find((r) => r.name === "preview")).toMatchObject({ width: 640, height: 480 });
  });

  it("fails a damaged HEIC with its reason, keeping what exiftool read and the sidecar", async () => {
    const heic = heifEncode([await jpegWithExif({ width: 1200, height: 800, make: "Apple", model: "iPhone 15" })]);
    const damaged = Buffer.from(heic);
    // Destroy the HEVC parameter sets (VPS/SPS/PPS) in the decoder configuration box: no decoder can
    // start (damaged slices alone are concealed as grey by HEVC decoders), while the EXIF item stays.
    const hvcC = damaged.indexOf("hvcC");
    expect(hvcC).toBeGreaterThan(0);
    damaged.fill(0xff, hvcC + 4 + 23, hvcC + 4 + 23 + 40);
    const item = await process("phone/damaged.heic", damaged);
    expect(item).toMatchObject({ status: "failed", format: "HEIC", width: 1200, height: 800, camera: "Apple iPhone 15", renditions: [] });
    expect(item.error!.code).toMatch(/^(CORRUPT_IMAGE|UNSUPPORTED_FORMAT)$/);
    const sidecar = JSON.parse((await t.proxyObject("phone", sidecarKey("phone/damaged.heic")))!.toString());
    expect(sidecar.tags.Make).toBe("Apple");
  });
});
