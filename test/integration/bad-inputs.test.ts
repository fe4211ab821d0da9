/**
 * Bad and unusual inputs, generated here: each ends in exactly one final state with a clear reason,
 * nothing crashes, hangs or retries forever, and nothing outside the machine is fetched.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import * as images from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let trap: Server;
let trapUrl: string;
const trapHits: string[] = [];
const localSecret = path.join(mkdtempSync(path.join(os.tmpdir(), "secret-")), "secret.png");

beforeAll(async () => {
  trap = createServer((req, res) => {
    trapHits.push(req.url ?? "");
    res.end();
  });
  await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
  trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
  writeFileSync(
    localSecret,
    await sharp({ create: { width: 10, height: 10, channels: 3, background: "#ff0000" } })
      .png()
      .toBuffer(),
  );
  t = await startTestPlatform([{ name: "corpus", limits: { maxObjectBytes: 2 * 1024 * 1024 } }]);
});

afterAll(async () => {
  await t?.stop();
  await new Promise((resolve) => trap?.close(resolve));
});

async function process(key: string, body: Buffer) {
  await t.upload("corpus", key, body);
  await t.drain();
  const item = await t.item("corpus", key);
  const outcomes = t.outcomes.filter((o) => o.key === key);
  return { item: item!, outcomes };
}

describe("permanent failures are recorded once, with a reason, keeping what exiftool learned", () => {
  // learned: the format exiftool found, kept on the item with the sidecar; undefined: nothing was read.
  it.each([
    ["zero-byte file", "bad/empty.jpg", async () => Buffer.alloc(0), "EMPTY_OBJECT", /empty/, undefined],
    ["truncated JPEG", "bad/truncated.jpg", images.truncatedJpeg, "CORRUPT_IMAGE", /could not be decoded/, { format: "JPEG", width: 800, height: 600 }],
    [
      "truncated PNG",
      "bad/truncated.png",
      async () => (await images.png(400, 300)).subarray(0, 2000),
      "CORRUPT_IMAGE",
      /could not be decoded/,
      { format: "PNG", width: 400, height: 300 },
    ],
    [
      "text file named .jpg",
      "bad/text.jpg",
      async () => Buffer.from("this is not an image\n".repeat(50)),
      "UNSUPPORTED_FORMAT",
      /not an image/,
      { format: "TXT", mimeType: "text/plain" },
    ],
    [
      "random bytes",
      "bad/random.jpg",
      async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)),
      "UNSUPPORTED_FORMAT",
      /not a recognised file/,
      undefined,
    ],
    [
      "decompression bomb (50,000 x 50,000 PNG)",
      "bad/bomb.png",
      async () => images.pngBomb(),
      "TOO_MANY_PIXELS",
      /50000x50000/,
      { format: "PNG", width: 50_000, height: 50_000 },
    ],
    [
      "object above the tenant's size limit",
      "bad/too-big.jpg",
      () => images.jpegWithExif({ width: 2400, height: 1800, photoLike: true }),
      "TOO_LARGE",
      /above the tenant's limit/,
      undefined,
    ],
    [
      "HEIC container without an embedded preview",
      "bad/photo.heic",
      async () => images.heicContainer(),
      "UNSUPPORTED_FORMAT",
      /no preview image/,
      { format: "HEIC" },
    ],
  ])("%s", async (_label, key, make, code, reason, learned) => {
    const body = await make();
    const { item, outcomes } = await process(key, body);
    expect(item).toMatchObject({ status: "failed", error: { code, retryable: false } });
    expect(item.error!.message).toMatch(reason);
    expect(outcomes).toHaveLength(1);
    expect(await t.proxyObject("corpus", renditionKey("thumb", key, "webp"))).toBeUndefined();
    const sidecar = await t.proxyObject("corpus", sidecarKey(key));
    if (learned) {
      expect(item).toMatchObject({ ...learned, size: body.length, metadataMethod: "ranged", sidecarKey: sidecarKey(key), renditions: [] });
      expect(item.metadataBytesRead).toBeGreaterThan(0);
      expect(JSON.parse(sidecar!.toString()).tags.FileType).toBe(learned.format);
    } else {
      expect(item.format).toBeUndefined();
      expect(sidecar).toBeUndefined();
    }
  });
});

describe("unusual images are rendered correctly", () => {
  it("converts a CMYK JPEG to sRGB", async () => {
    const { item } = await process("odd/cmyk.jpg", await images.cmykJpeg());
    expect(item.status).toBe("done");
    const meta = await sharp(await t.proxyObject("corpus", renditionKey("preview", "odd/cmyk.jpg", "jpeg"))).metadata();
    expect([meta.space, meta.channels]).toEqual(["srgb", 3]);
  });

  it("reduces a 16-bit PNG to 8-bit renditions", async () => {
    const { item } = await process("odd/deep.png", await images.png16());
    expect(item).toMatchObject({ status: "done", width: 320, height: 240 });
    const meta = await sharp(await t.proxyObject("corpus", renditionKey("thumb", "odd/deep.png", "webp"))).metadata();
    expect(meta.depth).toBe("uchar");
  });

  it("keeps alpha in WebP and flattens it onto white in JPEG for grayscale + alpha", async () => {
    const { item } = await process("odd/gray-alpha.png", await images.grayAlphaPng());
    expect(item.status).toBe("done");
    expect((await sharp(await t.proxyObject("corpus", renditionKey("thumb", "odd/gray-alpha.png", "webp"))).metadata()).hasAlpha).toBe(true);
    const jpeg = await sharp(await t.proxyObject("corpus", renditionKey("preview", "odd/gray-alpha.png", "jpeg")))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(jpeg.info.channels).toBe(3);
    expect(jpeg.data[0]).toBeGreaterThan(240); // the transparent corner became white
  });

  it.each([
    ["GIF", "odd/animated.gif", images.animatedGif],
    ["WebP", "odd/animated.webp", images.animatedWebp],
  ])("renders the first frame of an animated %s", async (_format, key, make) => {
    const { item } = await process(key, await make());
    expect(item).toMatchObject({ status: "done", width: 120, height: 80 });
    const { data, info } = await sharp(await t.proxyObject("corpus", renditionKey("preview", key, "jpeg")))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([120, 80]);
    expect(data[0]).toBeGreaterThan(200); // red: frame one
    expect(data[1]).toBeLessThan(60);
  });
});

describe("formats sharp cannot decode", () => {
  it("renders a camera RAW from the preview JPEG it embeds, keeping the RAW's own dimensions", async () => {
    const { item, outcomes } = await process("raw/IMG_0001.dng", await images.rawWithPreview("#ff0000"));
    expect(item).toMatchObject({ status: "done", format: "DNG", mimeType: "image/x-adobe-dng", width: 600, height: 400 });
    expect(outcomes).toHaveLength(1);
    const { data, info } = await sharp(await t.proxyObject("corpus", renditionKey("preview", "raw/IMG_0001.dng", "jpeg")))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([300, 200]); // the preview's size: never enlarged
    expect(data[0]).toBeGreaterThan(200);
    expect(data[1]).toBeLessThan(60);
    // The analysis comes from the same preview's pixels: a red image.
    expect(item!.dominantColor).toMatch(/^#f[0-9a-f]0[0-9a-f]0[0-9a-f]$/);
  });

  it("still fails a truncated JPEG instead of rendering its EXIF thumbnail", async () => {
    const { item } = await process("raw/not-raw.jpg", await images.truncatedJpeg());
    expect(item).toMatchObject({ status: "failed", error: { code: "CORRUPT_IMAGE" } });
  });
});

describe("folder markers", () => {
  it("are skipped: no item, no failure, on create or delete", async () => {
    await t.upload("corpus", "albums/2024/", Buffer.alloc(0));
    await t.drain();
    await t.remove("corpus", "albums/2024/");
    await t.drain();
    expect(await t.item("corpus", "albums/2024/")).toBeUndefined();
    const outcomes = t.outcomes.filter((o) => o.key === "albums/2024/");
    expect(outcomes.map((o) => [o.event, o.status])).toEqual([
      ["ObjectCreated:Put", "skipped"],
      ["ObjectRemoved:Delete", "skipped"],
    ]);
    expect(outcomes[0]!.reason).toMatch(/folder marker/);
  });
});

describe("hostile and non-image files", () => {
  it("never fetches an SVG's external references or entities", async () => {
    const { item } = await process("svg/hostile.svg", images.hostileSvg(trapUrl, localSecret));
    expect(item.status).toBe("failed");
    expect(item.error!.code).toBe("CORRUPT_IMAGE");
    const benign = Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="#ffffff"/><image href="${trapUrl}/img.png" width="100" height="100"/><image href="file://${localSecret}" x="100" width="100" height="100"/></svg>`,
    );
    const rendered = await process("svg/references.svg", benign);
    expect(rendered.item).toMatchObject({ status: "done", format: "SVG" });
    const { data } = await sharp(await t.proxyObject("corpus", renditionKey("preview", "svg/references.svg", "jpeg")))
      .raw()
      .toBuffer({ resolveWithObject: true });
    // The local red PNG was not drawn either: the rendition is white.
    for (let i = 0; i < data.length; i += 3) expect(data[i + 1]!).toBeGreaterThan(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(trapHits).toEqual([]);
    const sidecar = (await t.proxyObject("corpus", sidecarKey("svg/hostile.svg")))?.toString() ?? "";
    expect(sidecar).not.toMatch(/root:x:0:0/);
  });

  it("keeps a PDF's and an MP4's metadata and skips renditions with a reason", async () => {
    const doc = await process("docs/report.pdf", images.pdf());
    expect(doc.item).toMatchObject({ status: "done", renditionsSkipped: "not an image (application/pdf)" });
    const video = await process("video/clip.mp4", images.mp4());
    expect(video.item).toMatchObject({ status: "done", format: "MP4", renditionsSkipped: "not an image (video/mp4)", renditions: [] });
    const sidecar = JSON.parse((await t.proxyObject("corpus", sidecarKey("video/clip.mp4")))!.toString());
    expect(sidecar.tags.Duration).toBeDefined();
  });
});

describe("awkward keys", () => {
  const long = `long/${"ü".repeat(300)}${"n".repeat(380)}.jpg`;
  it.each([
    ["spaces", "with spaces/a b  c.jpg"],
    ["plus and percent", "odd+chars/100%+sure.jpg"],
    ["unicode", "unicode/東京/naïve café 🎉.jpg"],
    [".. segments", "dots/../../escape/../x.jpg"],
    ["a 1,000-byte name", long],
  ])("%s", async (_label, key) => {
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
    const { item, outcomes } = await process(key, await images.jpegWithExif({ width: 200, height: 150 }));
    expect(item).toMatchObject({ status: "done", objectKey: key });
    expect(outcomes.map((o) => o.status)).toEqual(["done"]);
    for (const r of item.renditions!) expect(await t.proxyObject("corpus", r.key), r.key).toBeDefined();
  });
});
