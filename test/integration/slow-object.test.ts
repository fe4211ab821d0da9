/**
 * The local platform plays Lambda's event source mapping: its poller takes the next batch only once
 * the last one is done, so a slow object (here: an exiftool helper that takes 3 s to start, with a
 * 1 s visibility timeout and so a 0.5 s lease) is processed once, never a second time beside itself.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveExiftoolPaths } from "../../runtime/metadata/exiftool-paths";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
beforeAll(async () => {
  const real = resolveExiftoolPaths({ PATH: process.env.PATH });
  const slowHelper = path.join(mkdtempSync(path.join(os.tmpdir(), "slow-")), "slow-helper.pl");
  writeFileSync(slowHelper, `sleep 3;\nrequire ${JSON.stringify(real.helper)};\nserve();\n`);
  t = await startTestPlatform([{ name: "slow" }], { visibilityTimeoutSeconds: 1, extraEnv: { EXIFTOOL_HELPER_PATH: slowHelper } });
});
afterAll(() => t?.stop());

describe("a slow object on the local platform", () => {
  it("is processed once, by ranges, although it outlives its message's visibility timeout and its lease", async () => {
    await t.upload("slow", "slow.jpg", await jpegWithExif());
    await t.drain();
    const outcomes = t.outcomes.filter((o) => o.key === "slow.jpg");
    expect(outcomes.map((o) => o.status)).toEqual(["done"]);
    expect(await t.item("slow", "slow.jpg")).toMatchObject({ status: "done", metadataMethod: "ranged" });
  });
});
