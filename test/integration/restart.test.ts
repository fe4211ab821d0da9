import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { renditionKey } from "../../runtime/keys";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform } from "../support/platform";

const dataDir = mkdtempSync(path.join(os.tmpdir(), "platform-data-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it("keeps objects, items and renditions across a restart of the local platform", async () => {
  const first = await startTestPlatform([{ name: "keep" }], { dataDir });
  await first.upload("keep", "kept/photo.jpg", await jpegWithExif());
  await first.drain();
  const before = await first.item("keep", "kept/photo.jpg");
  expect(before).toMatchObject({ status: "done" });
  await first.stop();

  const second = await startTestPlatform([{ name: "keep" }], { dataDir });
  try {
    expect(await second.item("keep", "kept/photo.jpg")).toEqual(before);
    expect(await second.proxyObject("keep", renditionKey("thumb", "kept/photo.jpg", "webp"))).toBeDefined();
    // And it still processes new uploads.
    await second.upload("keep", "kept/second.jpg", await jpegWithExif());
    await second.drain();
    expect(await second.item("keep", "kept/second.jpg")).toMatchObject({ status: "done" });
  } finally {
    await second.stop();
  }
});
