import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveExiftoolPaths } from "../../runtime/metadata/exiftool-paths";

describe("exiftool paths", () => {
  it("use the layer's /opt/bin when it holds exiftool, with perl's library path passed explicitly", () => {
    const opt = mkdtempSync(path.join(os.tmpdir(), "opt-"));
    mkdirSync(path.join(opt, "bin"));
    writeFileSync(path.join(opt, "bin", "exiftool"), "");
    const paths = resolveExiftoolPaths({ PATH: "/usr/bin:/bin" }, path.join(opt, "bin"));
    expect(paths).toMatchObject({
      source: "layer",
      perl: path.join(opt, "bin", "perl"),
      exiftool: path.join(opt, "bin", "exiftool"),
      helper: path.join(opt, "bin", "exiftool-range-helper.pl"),
      libDir: path.join(opt, "bin", "lib"),
    });
    expect(paths.env.PATH).toBe(`${path.join(opt, "bin")}:/usr/bin:/bin`);
    expect(paths.env.LD_LIBRARY_PATH).toMatch(new RegExp(`^${path.join(opt, "lib")}:`));
  });

  it("honour explicit configuration first", () => {
    const paths = resolveExiftoolPaths({ EXIFTOOL_PATH: "/x/bin/exiftool", PERL_PATH: "/x/bin/perl", PATH: "/bin" }, "/nonexistent");
    expect(paths).toMatchObject({
      source: "env",
      perl: "/x/bin/perl",
      exiftool: "/x/bin/exiftool",
      helper: "/x/bin/exiftool-range-helper.pl",
      libDir: "/x/bin/lib",
    });
  });

  it("fall back to exiftool-vendored.pl and the system perl locally", () => {
    const paths = resolveExiftoolPaths({ PATH: "/bin" }, "/nonexistent");
    expect(paths.source).toBe("vendored");
    expect(paths.exiftool).toMatch(/exiftool-vendored\.pl\/bin\/exiftool$/);
    expect(paths.helper).toMatch(/layer\/exiftool-range-helper\.pl$/);
    expect(paths.env).toEqual({ LANG: "C", PATH: "/bin" });
  });
});
