/**
 * What each `fit` gives for a 512 x 512 box (docs/formats.md#what-each-fit-gives), never enlarging:
 * `cover` keeps the box's shape (a square stays square when the photo is smaller than the box).
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { renderRenditions } from "../../runtime/renditions";

const FITS = ["cover", "contain", "fill", "inside", "outside"] as const;

async function sizes(width: number, height: number): Promise<Record<string, string>> {
  const source = await sharp({ create: { width, height, channels: 3, background: "#808080" } })
    .png()
    .toBuffer();
  const renditions = FITS.map((fit) => ({ name: fit, width: 512, height: 512, fit, format: "png" as const, quality: 80 }));
  const { outputs } = await renderRenditions(source, renditions, { maxInputPixels: 1e9, profile: "none" });
  // The recorded size is the encoded one.
  for (const output of outputs) {
    const meta = await sharp(output.body).metadata();
    expect([meta.width, meta.height], output.name).toEqual([output.width, output.height]);
  }
  return Object.fromEntries(outputs.map((o) => [o.name, `${o.width}x${o.height}`]));
}

describe("a 512 x 512 box", () => {
  it("of a larger photo: cover, contain and fill give the box; inside and outside keep the photo's aspect", async () => {
    expect(await sizes(2000, 1500)).toEqual({ cover: "512x512", contain: "512x512", fill: "512x512", inside: "512x384", outside: "683x512" });
  });

  it("of a 640 x 480 photo: cover stays square (480 x 480) instead of 512 x 480", async () => {
    expect(await sizes(640, 480)).toEqual({ cover: "480x480", contain: "512x512", fill: "512x480", inside: "512x384", outside: "640x480" });
  });

  it("of a photo smaller on both sides: nothing is enlarged; contain pads to the box", async () => {
    expect(await sizes(300, 200)).toEqual({ cover: "200x200", contain: "512x512", fill: "300x200", inside: "300x200", outside: "300x200" });
  });
});
