/**
 * The analysis at upload through the local platform (real sharp, exiftool, dynalite): every field on
 * the item, in the sidecar and in the outcome; renders that crop around the focus; near-duplicates
 * found through the index and never left pointing at an object that is gone.
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { thumbHashToRGBA } from "thumbhash";
import { decode as decodeBlurHash } from "blurhash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { offCentreSubject, pdf, SUBJECT_RGB, subjectShare } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const PHOTOS = path.resolve(__dirname, "../../../shared/corpus/photos");
const photo = (name: string) => fs.readFileSync(path.join(PHOTOS, name));

let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform([
    {
      name: "alpha",
      analysis: { blurhash: true },
      renditions: [
        { name: "square", width: 200, height: 200, fit: "cover", format: "jpeg", quality: 90 },
        { name: "centred", width: 200, height: 200, fit: "cover", format: "jpeg", quality: 90, gravity: "centre" },
        { name: "small", width: 320, format: "webp" },
      ],
    },
  ]);
});

afterAll(async () => {
  await t?.stop();
});

describe("every field, for a generated image with its subject at the edge", () => {
  const key = "edge/subject.jpg";

  beforeAll(async () => {
    await t.upload("alpha", key, await offCentreSubject().jpeg({ quality: 92 }).toBuffer(), "image/jpeg");
    await t.drain();
  });

  it("stores the placeholder, colours, hash and focus on the item, in the sidecar and in the outcome", async () => {
    const item = (await t.item("alpha", key))!;
    expect(item.status).toBe("done");
    expect(item.thumbhash).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(item.blurhash).toMatch(/^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{28}$/);
    expect(item.phash).toMatch(/^[0-9a-f]{16}$/);
    expect(item.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    expect(item.palette!.length).toBeGreaterThanOrEqual(2);
    expect(item.palette!.length).toBeLessThanOrEqual(5);
    expect(item.palette![0]).toBe(item.dominantColor);
    // The background is most of the image; the subject's colour (its skin tone, one pixel in 9 of
    // dark detail) is in the palette.
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    expect(Math.hypot(...rgb(item.dominantColor!).map((v, i) => v - [95, 100, 110][i]!))).toBeLessThan(20);
    const subjectMean = SUBJECT_RGB.map((v, i) => (8 * v + [40, 25, 15][i]!) / 9);
    expect(item.palette!.some((c) => Math.hypot(...rgb(c).map((v, i) => v - subjectMean[i]!)) < 15)).toBe(true);
    // The focus is on the subject (x 1000-1150 of 1200), not the centre.
    const focus = item.focus!;
    expect(focus.source).toBe("saliency");
    expect(focus.x + focus.width / 2).toBeGreaterThan(0.75);
    for (const v of [focus.x, focus.y, focus.width, focus.height]) expect(v).toBeGreaterThanOrEqual(0);
    expect(focus.x + focus.width).toBeLessThanOrEqual(1);
    expect(focus.y + focus.height).toBeLessThanOrEqual(1);

    const sidecar = JSON.parse((await t.proxyObject("alpha", sidecarKey(key)))!.toString());
    expect(sidecar.analysis).toMatchObject({ thumbhash: item.thumbhash, phash: item.phash, focus: item.focus, palette: item.palette });
    const outcome = t.outcomes.find((o) => o.key === key && o.status === "done")!;
    expect(outcome.analysis).toMatchObject({ thumbhash: item.thumbhash, phash: item.phash, dominantColor: item.dominantColor });
  });

  it("keeps the aspect ratio in the ThumbHash and decodes to the image's colours", async () => {
    const item = (await t.item("alpha", key))!;
    const decoded = thumbHashToRGBA(Buffer.from(item.thumbhash!, "base64"));
    expect(decoded.w / decoded.h).toBeCloseTo(2, 0);
    const blur = decodeBlurHash(item.blurhash!, 8, 4);
    expect(blur.length).toBe(8 * 4 * 4);
  });

  it("crops cover renditions around the focus, and an explicit gravity where it is set", async () => {
    const focused = (await t.proxyObject("alpha", renditionKey("square", key, "jpeg")))!;
    const centred = (await t.proxyObject("alpha", renditionKey("centred", key, "jpeg")))!;
    expect(await sharp(focused).metadata()).toMatchObject({ width: 200, height: 200 });
    // The whole subject: 150 x 400 of 1200 x 600, a sixth of the 400 x 200 the image is resized to.
    expect(await subjectShare(focused)).toBeGreaterThan(0.13);
    expect(await subjectShare(centred)).toBe(0);
  });
});

describe("a real photo with its subject off-centre", () => {
  const key = "real/off-centre.jpg";
  let photoShare: (image: Buffer) => Promise<number>;

  beforeAll(async () => {
    // A real photo on the right of a wide, flat canvas: its content is the subject.
    const real = await sharp(photo("tests-42_IndexError.jpg")).resize(600, 450).toBuffer();
    const canvas = await sharp({ create: { width: 1800, height: 450, channels: 3, background: "#6e7378" } })
      .composite([{ input: real, left: 1200, top: 0 }])
      .jpeg({ quality: 90 })
      .toBuffer();
    await t.upload("alpha", key, canvas, "image/jpeg");
    await t.drain();
    photoShare = async (image) => {
      const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
      let flat = 0;
      for (let i = 0; i < data.length; i += info.channels) if (Math.hypot(data[i]! - 0x6e, data[i + 1]! - 0x73, data[i + 2]! - 0x78) < 6) flat++;
      return 1 - flat / (info.width * info.height);
    };
  });

  it("keeps the photo in the square thumbnail that a centre crop fills with the flat canvas", async () => {
    expect(await photoShare((await t.proxyObject("alpha", renditionKey("square", key, "jpeg")))!)).toBeGreaterThan(0.9);
    expect(await photoShare((await t.proxyObject("alpha", renditionKey("centred", key, "jpeg")))!)).toBeLessThan(0.1);
  });
});

describe("where the analysis cannot apply", () => {
  it("leaves the fields out and says why", async () => {
    await t.upload("alpha", "docs/report.pdf", pdf(), "application/pdf");
    await t.drain();
    const item = (await t.item("alpha", "docs/report.pdf"))!;
    expect(item.status).toBe("done");
    expect(item.thumbhash).toBeUndefined();
    expect(item.phash).toBeUndefined();
    expect(item.analysisSkipped).toMatch(/not an image/);
    const sidecar = JSON.parse((await t.proxyObject("alpha", sidecarKey("docs/report.pdf")))!.toString());
    expect(sidecar.analysisSkipped).toMatch(/not an image/);
  });

  it("never processes the platform's own prefix", async () => {
    await t.upload(
      "alpha",
      "_platform/overlays/logo.png",
      await sharp({ create: { width: 8, height: 8, channels: 4, background: "#fff0" } })
        .png()
        .toBuffer(),
    );
    await t.drain();
    expect(await t.item("alpha", "_platform/overlays/logo.png")).toBeUndefined();
    expect(t.outcomes.find((o) => o.key === "_platform/overlays/logo.png")).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/platform's own prefix/),
    });
  });
});

describe("near-duplicates", () => {
  const original = "dup/original.jpg";
  const half = "dup/half.jpg";
  const recompressed = "dup/q60.webp";
  const other = "dup/other.jpg";

  beforeAll(async () => {
    const source = photo("mobile-jolla.jpg");
    await t.upload("alpha", original, source, "image/jpeg");
    await t.drain();
    await t.upload("alpha", half, await sharp(source).resize(1632).jpeg({ quality: 85 }).toBuffer(), "image/jpeg");
    await t.drain();
    await t.upload("alpha", recompressed, await sharp(source).webp({ quality: 60 }).toBuffer(), "image/webp");
    await t.upload("alpha", other, photo("tests-28-hex_value.jpg"), "image/jpeg");
    await t.drain();
  });

  it("lists the earlier edited copies, nearest first, and nothing for a distinct photo", async () => {
    const first = (await t.item("alpha", original))!;
    expect(first.similar).toEqual([]);
    expect((await t.item("alpha", half))!.similar).toEqual([{ key: original, distance: expect.any(Number) }]);
    const similar = (await t.item("alpha", recompressed))!.similar!;
    expect(similar.map((s) => s.key).sort()).toEqual([half, original]);
    expect(similar[0]!.distance).toBeLessThanOrEqual(similar[1]!.distance);
    expect((await t.item("alpha", other))!.similar).toEqual([]);
  });

  it("leaves nobody pointing at an object once it is deleted or replaced by other bytes", async () => {
    await t.remove("alpha", original);
    await t.drain();
    expect((await t.item("alpha", half))!.similar).toEqual([]);
    expect((await t.item("alpha", recompressed))!.similar!.map((s) => s.key)).toEqual([half]);
    // `half` now holds a different photo: the copy that listed it no longer does.
    await t.upload("alpha", half, photo("Reconyx_HC500_Hyperfire.jpg"), "image/jpeg");
    await t.drain();
    expect((await t.item("alpha", recompressed))!.similar).toEqual([]);
    // And the index no longer offers either: a new copy finds only what is current.
    await t.upload("alpha", "dup/again.jpg", await sharp(photo("mobile-jolla.jpg")).resize(1000).jpeg().toBuffer(), "image/jpeg");
    await t.drain();
    expect((await t.item("alpha", "dup/again.jpg"))!.similar!.map((s) => s.key)).toEqual([recompressed]);
  });
});
