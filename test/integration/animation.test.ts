/**
 * Animated GIF and WebP stay animated where the output can animate (WebP): every frame, its delay
 * and the loop count, on renditions and on-demand variants; JPEG/PNG/AVIF outputs get the first
 * frame. The frame limit, the pixel limit and the decode memory count every frame.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedPath } from "../../edge/edge";
import { renditionKey } from "../../runtime/keys";
import { MemoryBudget } from "../../runtime/memory-budget";
import { renderRenditions } from "../../runtime/renditions";
import { animated } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform([
    {
      name: "moving",
      renditions: [
        { name: "square", width: 64, height: 64, fit: "cover", format: "webp", quality: 80 },
        { name: "still", width: 100, format: "jpeg", quality: 90 },
        { name: "large", width: 1024, format: "webp", quality: 80 },
      ],
      // 10 frames of 120 x 80 fit (96,000 pixels); 12 do not.
      limits: { maxFrames: 50, maxInputPixels: 100_000 },
      onDemand: { enabled: true, formats: ["webp", "jpeg"], widths: [60] },
    },
  ]);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

/** Frame i's centre pixel: red, green, blue, red, ... as the fixture wrote them. */
async function frameColours(image: Buffer, frames: number): Promise<string[]> {
  const colours: string[] = [];
  for (let page = 0; page < frames; page++) {
    const { data, info } = await sharp(image, { page }).raw().toBuffer({ resolveWithObject: true });
    const i = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * info.channels;
    colours.push(["red", "green", "blue"][[data[i]!, data[i + 1]!, data[i + 2]!].indexOf(Math.max(data[i]!, data[i + 1]!, data[i + 2]!))]!);
  }
  return colours;
}

const DELAYS = [100, 200, 300, 400];

describe.each(["gif", "webp"] as const)("an animated %s", (format) => {
  const key = `anim/loop.${format}`;

  beforeAll(async () => {
    await t.upload("moving", key, await animated(format, { frames: 4, delays: DELAYS, loop: 3 }));
    await t.drain();
  });

  it("is recorded with its frames and total duration, and its renditions with one frame's size", async () => {
    const item = await t.item("moving", key);
    expect(item).toMatchObject({ status: "done", width: 120, height: 80, frames: 4, durationMs: 1000 });
    expect(item!.renditions!.map((r) => [r.name, r.width, r.height])).toEqual([
      ["square", 64, 64],
      ["still", 100, 67],
      ["large", 120, 80],
    ]);
  });

  it("keeps every frame, its delay and the loop count in WebP renditions, cropped and resized frame by frame", async () => {
    for (const [name, size] of [
      ["square", [64, 64]],
      ["large", [120, 80]],
    ] as const) {
      const body = (await t.proxyObject("moving", renditionKey(name, key, "webp")))!;
      const meta = await sharp(body).metadata();
      expect({ name, width: meta.width, height: meta.height, pages: meta.pages, delay: meta.delay, loop: meta.loop }).toEqual({
        name,
        width: size[0],
        height: size[1],
        pages: 4,
        delay: DELAYS,
        loop: 3,
      });
      expect(await frameColours(body, 4)).toEqual(["red", "green", "blue", "red"]);
    }
  });

  it("gives a JPEG rendition the first frame", async () => {
    const body = (await t.proxyObject("moving", renditionKey("still", key, "jpeg")))!;
    const meta = await sharp(body).metadata();
    expect([meta.width, meta.height, meta.pages ?? 1]).toEqual([100, 67, 1]);
    expect(await frameColours(body, 1)).toEqual(["red"]);
  });

  it("keeps the animation in an on-demand WebP variant, and the first frame in a JPEG one", async () => {
    const { endpoint, keys, url } = t.platform.tenants.get("moving")!.onDemand!;
    const fetchVariant = async (variant: string) => {
      const path = signedPath(endpoint.edge, variant, key, Math.floor(Date.now() / 1000) + 600, keys.signingKeyId, keys.keys[keys.signingKeyId]!);
      const response = await fetch(`${url}${path}`);
      expect(response.status, variant).toBe(200);
      return Buffer.from(await response.arrayBuffer());
    };
    const webp = await sharp(await fetchVariant("w60.webp")).metadata();
    expect([webp.width, webp.height, webp.pages, webp.delay, webp.loop]).toEqual([60, 40, 4, DELAYS, 3]);
    const jpeg = await sharp(await fetchVariant("w60.jpeg")).metadata();
    expect([jpeg.width, jpeg.height, jpeg.pages ?? 1]).toEqual([60, 40, 1]);
  });
});

describe("limits count every frame", () => {
  it("refuses more frames than limits.maxFrames, keeping what exiftool learned", async () => {
    const key = "anim/too-many.gif";
    await t.upload("moving", key, await animated("gif", { frames: 60, width: 8, height: 8 }));
    await t.drain();
    const item = await t.item("moving", key);
    expect(item).toMatchObject({ status: "failed", format: "GIF", width: 8, height: 8, error: { code: "TOO_MANY_FRAMES", retryable: false } });
    expect(item!.error!.message).toMatch(/60 frames.*limit of 50.*limits\.maxFrames/);
  });

  it("counts the pixels of every frame against maxInputPixels", async () => {
    await t.upload("moving", "anim/ten.gif", await animated("gif", { frames: 10 }));
    await t.upload("moving", "anim/twelve.gif", await animated("gif", { frames: 12 }));
    await t.drain();
    expect(await t.item("moving", "anim/ten.gif")).toMatchObject({ status: "done", frames: 10 });
    expect(await t.item("moving", "anim/twelve.gif")).toMatchObject({ status: "failed", error: { code: "TOO_MANY_PIXELS" } });
  });

  it("reserves decode memory for every frame: the same frame size fits twice and is refused a hundred times", async () => {
    const budget = new MemoryBudget(40 * 1024 * 1024, 256);
    const renditions = [{ name: "small", width: 64, fit: "inside", format: "webp", quality: 75 }] as const;
    const options = { maxInputPixels: 1e9, budget, profile: "none" as const };
    const two = await renderRenditions(await animated("gif", { frames: 2, width: 300, height: 300 }), renditions, options);
    expect(two.outputs).toHaveLength(1);
    await expect(renderRenditions(await animated("gif", { frames: 100, width: 300, height: 300 }), renditions, options)).rejects.toMatchObject({
      code: "OVER_MEMORY_BUDGET",
      message: expect.stringMatching(/300x300 gif of 100 frames/),
    });
  });
});
