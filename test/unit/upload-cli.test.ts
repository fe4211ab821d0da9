/** `npm run upload`'s choice of files and keys: a file by its name, a folder's files by their path below it. */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { filesToUpload } from "../../local/upload-cli";

describe("the files npm run upload sends", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "upload-cli-"));
  const album = path.join(root, "album");
  mkdirSync(path.join(album, "day 2", "raw"), { recursive: true });
  for (const file of ["a.jpg", "day 2/b.jpg", "day 2/raw/c.dng"]) writeFileSync(path.join(album, file), "x");
  writeFileSync(path.join(root, "single.png"), "x");

  it("takes a folder recursively, keyed by the path below it, after the prefix", () => {
    expect(filesToUpload([album, path.join(root, "single.png")], "trip/")).toEqual([
      { file: path.join(album, "a.jpg"), key: "trip/a.jpg" },
      { file: path.join(album, "day 2", "b.jpg"), key: "trip/day 2/b.jpg" },
      { file: path.join(album, "day 2", "raw", "c.dng"), key: "trip/day 2/raw/c.dng" },
      { file: path.join(root, "single.png"), key: "trip/single.png" },
    ]);
  });

  it("names a path that does not exist", () => {
    expect(() => filesToUpload([path.join(root, "nope.jpg")], "")).toThrow(`no such file or folder: ${path.join(root, "nope.jpg")}`);
  });
});

describe("npm run upload's mistakes", () => {
  const upload = (...args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(path.resolve("node_modules/.bin/tsx"), ["local/upload-cli.ts", ...args], (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });

  it("a file that is not there is one line, exit 2; a malformed command line comes with the usage", async () => {
    expect(await upload("acme", "no-such-photo.jpg")).toEqual({ code: 2, stderr: "upload: no such file or folder: no-such-photo.jpg\n" });
    const bare = await upload("acme");
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^upload: name a tenant and at least one file or folder\n\nusage: npm run upload -- <tenant>/);
  });

  it("parses its options as the operator commands do: --prefix=p/ as --prefix p/, a mistyped option named with the one meant", async () => {
    // Parsed, then the file is looked for (the old parser called "--prefix=trip/" an unknown option).
    expect(await upload("acme", "--prefix=trip/", "no-such-photo.jpg")).toEqual({ code: 2, stderr: "upload: no such file or folder: no-such-photo.jpg\n" });
    const mistyped = await upload("acme", "photo.jpg", "--prefx", "trip/");
    expect(mistyped.code).toBe(2);
    expect(mistyped.stderr).toMatch(/^upload: unknown option --prefx \(did you mean --prefix\?\)\nusage: npm run upload -- <tenant>/);
    const missing = await upload("acme", "photo.jpg", "--prefix");
    expect(missing.code).toBe(2);
    expect(missing.stderr.split("\n")[0]).toMatch(/^upload: .*--prefix/);
  });
});
