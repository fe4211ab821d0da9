/** `npm run similar` as an operator runs it (a child process) against the local platform. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeEndpointsFile } from "../../local/endpoints-file";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const run = promisify(execFile);
const tsx = path.resolve("node_modules/.bin/tsx");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "similar-cli-"));
const photo = readFileSync(path.resolve(__dirname, "../../../shared/corpus/photos/hdr-iphone_hdr_NO.jpg"));
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "studio", renditions: [{ name: "small", width: 320, format: "webp" }] }]);
  writeEndpointsFile(dataDir, t.platform);
  await t.upload("studio", "shoot/original.jpg", photo, "image/jpeg");
  await t.drain();
  await t.upload("studio", "shoot/copy.webp", await sharp(photo).resize(1200).webp({ quality: 70 }).toBuffer(), "image/webp");
  await t.upload(
    "studio",
    "other.jpg",
    await sharp({ create: { width: 400, height: 300, channels: 3, background: "#224466" } })
      .jpeg()
      .toBuffer(),
  );
  await t.drain();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const similar = (...args: string[]) => run(tsx, ["cli/similar.ts", ...args, "--data-dir", dataDir]);

describe("npm run similar", () => {
  it("prints the near-duplicates of an object, earlier and later, with their distances", async () => {
    const { stdout } = await similar("studio", "shoot/original.jpg");
    expect(stdout).toMatch(/^\s*\d+ {2}shoot\/copy\.webp$/m);
    expect(stdout).not.toMatch(/other\.jpg/);
    expect(stdout).toMatch(/1 near-duplicate of shoot\/original\.jpg \(phash [0-9a-f]{16}\) within 12 bits in tenant studio/);
    const { stdout: json } = await similar("studio", "shoot/copy.webp", "--json");
    expect(JSON.parse(json)).toMatchObject({ key: "shoot/copy.webp", similar: [{ key: "shoot/original.jpg", listed: true }] });
  });

  it("says what is wrong with its arguments, in one line", async () => {
    await expect(similar("studio")).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/^similar: usage: npm run similar -- <tenant> <key>/) });
    await expect(similar("studio", "a.jpg", "--distance", "40")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--distance must be a whole number from 0 to 16/),
    });
    await expect(similar("studio", "missing.jpg")).rejects.toMatchObject({ code: 2, stderr: 'similar: tenant studio has no object "missing.jpg"\n' });
  });
});
