/** /tmp in a warm container: what one object leaves behind must not accumulate. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { cleanStaleSpools } from "../../runtime/s3-object";
import { renderRenditions } from "../../runtime/renditions";
import { DEFAULT_RENDITIONS } from "../../contract/tenant-config";
import { startTestPlatform } from "../support/platform";

/** Files this process holds open that were deleted, under `dir`. */
function openDeletedFiles(dir: string): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) && target.endsWith("(deleted)") ? [target] : [];
    } catch {
      return []; // closed between the listing and the read
    }
  });
}

describe("/tmp in a warm container", () => {
  it("keeps no deleted spool file open after rendering from it (sharp's cache is off)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "spool-test-"));
    for (let i = 0; i < 6; i++) {
      const file = path.join(dir, `object-${i}`);
      writeFileSync(
        file,
        await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: i * 40, g: 90, b: 160 } } })
          .webp()
          .toBuffer(),
      );
      await renderRenditions(file, DEFAULT_RENDITIONS, { maxInputPixels: 1e8, profile: "none" });
      rmSync(file);
    }
    expect(openDeletedFiles(dir)).toEqual([]);
  });

  it("a process starting in a reused container removes the spool files of the one before it", () => {
    const root = path.join(mkdtempSync(path.join(os.tmpdir(), "spool-root-")), "spool");
    mkdirSync(path.join(root, "source-abc"), { recursive: true });
    writeFileSync(path.join(root, "source-abc", "object"), Buffer.alloc(1024));
    cleanStaleSpools({ SPOOL_DIR: root });
    expect(existsSync(root)).toBe(true);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe("the local platform's /tmp", () => {
  it("gives its functions a spool folder of its own in the temporary folder and removes it when it stops", async () => {
    // os.tmpdir() reads TMPDIR on every call: a folder of this test's, so other workers' platforms are not counted.
    const tmp = mkdtempSync(path.join(os.tmpdir(), "platform-tmp-"));
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const spools = () => readdirSync(tmp).filter((name) => name.startsWith("tip-spool-"));
      const t = await startTestPlatform([{ name: "spooling" }], { notifications: false });
      expect(spools()).toHaveLength(1);
      await t.stop();
      expect(spools()).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
