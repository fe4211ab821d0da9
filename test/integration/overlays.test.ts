/**
 * Watermarks and overlays (docs/overlays.md): an image under _platform/overlays/ drawn over
 * renditions and on-demand presets where its gravity says, at the size and opacity asked, on every
 * frame of an animation; reloaded when its ETag changes; a missing one fails the object naming it;
 * and an overlay's own upload is never processed as a photo.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedPath } from "../../edge/edge";
import { parseTenant, type TenantInput } from "../../contract/tenant-config";
import { outputConfigHash } from "../../contract/tenant-runtime";
import { renditionKey } from "../../runtime/keys";
import { animated } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const LOGO = "_platform/overlays/logo.png";
const BADGE = "_platform/overlays/badge.svg";

const logoOverlay = { key: LOGO, gravity: "southeast", widthRatio: 0.25, opacity: 0.5, margin: 0.05 } as const;
const BRAND: TenantInput = {
  name: "brand",
  renditions: [
    { name: "card", width: 400, height: 300, fit: "cover", format: "jpeg", quality: 95, overlay: logoOverlay },
    { name: "badge", width: 200, format: "png", overlay: { key: BADGE, gravity: "northwest", widthRatio: 0.5, margin: 0 } },
    { name: "moving", width: 120, format: "webp", quality: 90, overlay: { key: LOGO, gravity: "southwest", widthRatio: 0.5, margin: 0 } },
    { name: "plain", width: 200, format: "jpeg", quality: 95 },
  ],
  onDemand: {
    enabled: true,
    formats: ["jpeg"],
    presets: [
      { name: "stamped", width: 300, height: 200, fit: "cover", format: "jpeg", quality: 95, overlay: { ...logoOverlay, gravity: "northeast", opacity: 1 } },
    ],
  },
};

let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform([BRAND, { name: "unbranded", renditions: [{ name: "card", width: 100, format: "jpeg", overlay: { key: LOGO } }] }]);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const solid = (width: number, height: number, background: sharp.Color) => sharp({ create: { width, height, channels: 3, background } });
const greyPhoto = () => solid(800, 600, { r: 128, g: 128, b: 128 }).jpeg({ quality: 95 }).toBuffer();
/** An opaque logo of 100 x 50, so its drawn size and place are measurable. */
const logo = (background: sharp.Color) => solid(100, 50, background).ensureAlpha().png().toBuffer();
const BADGE_SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="#0000ff"/></svg>');

async function pixels(body: Buffer, page = 0) {
  const { data, info } = await sharp(body, { page }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { info, at: (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)] };
}
const near = (actual: number[], expected: number[], tolerance = 14) => actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);

/** Equal within `slack` pixels on each edge: JPEG's ringing blurs an edge by one. */
const expectBox = (actual: { left: number; top: number; width: number; height: number }, expected: typeof actual, slack = 1) =>
  expect(
    Object.entries(expected).every(([k, v]) => Math.abs(actual[k as keyof typeof actual] - v) <= slack * (k === "width" || k === "height" ? 2 : 1)),
    JSON.stringify(actual),
  ).toBe(true);

/** The bounding box of pixels far from the grey background: where the overlay was drawn. */
async function overlayBox(body: Buffer, page = 0) {
  const { info, at } = await pixels(body, page);
  let [left, top, right, bottom] = [Infinity, Infinity, -1, -1];
  for (let y = 0; y < info.height; y++)
    for (let x = 0; x < info.width; x++) {
      if (near(at(x, y), [128, 128, 128], 30)) continue;
      [left, top, right, bottom] = [Math.min(left, x), Math.min(top, y), Math.max(right, x), Math.max(bottom, y)];
    }
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}

describe("overlays on renditions", () => {
  beforeAll(async () => {
    await t.upload("brand", LOGO, await logo({ r: 255, g: 0, b: 0 }), "image/png");
    await t.upload("brand", BADGE, BADGE_SVG, "image/svg+xml");
    await t.upload("brand", "photos/grey.jpg", await greyPhoto(), "image/jpeg");
    await t.upload("brand", "photos/moving.gif", await animated("gif", { frames: 3, width: 240, height: 160, delays: [100, 200, 300] }));
    await t.drain();
  });

  it("never processes an overlay's own upload", async () => {
    expect(await t.item("brand", LOGO)).toBeUndefined();
    expect(t.outcomes.filter((o) => o.key === LOGO).map((o) => [o.status, o.reason])).toEqual([["skipped", expect.stringMatching(/_platform\//)]]);
  });

  it("draws the overlay where its gravity says, at its width ratio, with its margin and opacity", async () => {
    const card = (await t.proxyObject("brand", renditionKey("card", "photos/grey.jpg", "jpeg")))!;
    // 400 x 300: the logo 25% wide (100 x 50), 5% of 300 (15 px) from the bottom-right corner.
    expectBox(await overlayBox(card), { left: 285, top: 235, width: 100, height: 50 });
    const { at } = await pixels(card);
    // Red at half opacity over grey: (255 + 128) / 2, 128 / 2, 128 / 2.
    expect(near(at(335, 260), [191, 64, 64]), String(at(335, 260))).toBe(true);
    expect(near(at(200, 150), [128, 128, 128])).toBe(true);
    // The rendition without an overlay has none.
    const plain = (await t.proxyObject("brand", renditionKey("plain", "photos/grey.jpg", "jpeg")))!;
    expect((await overlayBox(plain)).width).toBeLessThan(0);
  });

  it("rasterises an SVG overlay at the size it is drawn, opaque by default", async () => {
    const badge = (await t.proxyObject("brand", renditionKey("badge", "photos/grey.jpg", "png")))!;
    expect(await overlayBox(badge)).toEqual({ left: 0, top: 0, width: 100, height: 100 });
    const { at } = await pixels(badge);
    expect(near(at(50, 50), [0, 0, 255], 2)).toBe(true);
  });

  it("draws it on every frame of an animation, which keeps its delays", async () => {
    const body = (await t.proxyObject("brand", renditionKey("moving", "photos/moving.gif", "webp")))!;
    const meta = await sharp(body).metadata();
    expect([meta.width, meta.height, meta.pages, meta.delay]).toEqual([120, 80, 3, [100, 200, 300]]);
    for (let page = 0; page < 3; page++) {
      const { at } = await pixels(body, page);
      // Bottom-left, 60 x 30: the (red) logo on every frame; top-right: the frame's own colour (red, green, blue).
      expect(near(at(30, 70), [255, 0, 0], 40), `frame ${page}: ${String(at(30, 70))}`).toBe(true);
      expect(
        near(
          at(100, 10),
          [
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
          ][page]!,
          40,
        ),
        `frame ${page}: ${String(at(100, 10))}`,
      ).toBe(true);
    }
  });

  it("uses a replaced overlay (a new ETag) from the next object on", async () => {
    await t.upload("brand", LOGO, await logo({ r: 0, g: 255, b: 0 }), "image/png");
    await t.upload("brand", "photos/after.jpg", await greyPhoto(), "image/jpeg");
    await t.drain();
    const { at } = await pixels((await t.proxyObject("brand", renditionKey("card", "photos/after.jpg", "jpeg")))!);
    expect(near(at(335, 260), [64, 191, 64]), String(at(335, 260))).toBe(true);
    await t.upload("brand", LOGO, await logo({ r: 255, g: 0, b: 0 }), "image/png");
  });

  it("is part of the outputs' config: changing it makes `npm run reprocess` redo the objects", () => {
    const hash = (overlay: object) => outputConfigHash(parseTenant({ ...BRAND, renditions: [{ ...BRAND.renditions![0]!, overlay }] }, 0));
    expect(hash(logoOverlay)).not.toBe(hash({ ...logoOverlay, opacity: 0.8 }));
    expect(hash(logoOverlay)).not.toBe(hash({ ...logoOverlay, key: "_platform/overlays/other.png" }));
  });
});

describe("overlays on demand", () => {
  it("draws a preset's overlay on the variant", async () => {
    await t.upload("brand", "photos/ondemand.jpg", await greyPhoto(), "image/jpeg");
    await t.drain();
    const { endpoint, keys, url } = t.platform.tenants.get("brand")!.onDemand!;
    const path = signedPath(
      endpoint.edge,
      "stamped",
      "photos/ondemand.jpg",
      Math.floor(Date.now() / 1000) + 600,
      keys.signingKeyId,
      keys.keys[keys.signingKeyId]!,
    );
    const response = await fetch(`${url}${path}`);
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    // 300 x 200: the logo 75 px wide (37.5 tall, rounded), 10 px from the top-right corner, opaque.
    expectBox(await overlayBox(body), { left: 215, top: 10, width: 75, height: 38 });
    expect(near((await pixels(body)).at(250, 28), [255, 0, 0])).toBe(true);
  });
});

describe("a missing overlay", () => {
  it("fails the object permanently, naming the key, and keeps what exiftool learned", async () => {
    await t.upload("unbranded", "photos/grey.jpg", await greyPhoto(), "image/jpeg");
    await t.drain();
    const item = await t.item("unbranded", "photos/grey.jpg");
    expect(item).toMatchObject({ status: "failed", format: "JPEG", width: 800, height: 600, error: { code: "OVERLAY_MISSING", retryable: false } });
    expect(item!.error!.message).toContain(`/${LOGO}`);
  });
});
