import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkLambdaLimits, LAMBDA_ZIPPED_LIMIT } from "../../components/function-code";
import { checkLayerElves, inspectElf } from "../../layer/elf-check";

describe("Lambda size limits", () => {
  it("pass an archive within them and name the limit that is exceeded", () => {
    expect(() => checkLambdaLimits({ zippedBytes: 10e6, unzippedBytes: 30e6 }, "function archive (arm64)")).not.toThrow();
    expect(() => checkLambdaLimits({ zippedBytes: LAMBDA_ZIPPED_LIMIT + 1, unzippedBytes: 30e6 }, "function archive (arm64)")).toThrow(
      /function archive \(arm64\) is 50\.0 MB zipped, above Lambda's 50\.0 MB limit/,
    );
    expect(() => checkLambdaLimits({ zippedBytes: 10e6, unzippedBytes: 300 * 1024 * 1024 }, "function archive (x86_64)")).toThrow(
      /300\.0 MB unzipped, above its 250\.0 MB share/,
    );
  });
});

// Debian bookworm's libcrypt.so.1 needs GLIBC_2.36: exactly the kind of file the layer must refuse.
const HOST_LIBCRYPT = "/lib/x86_64-linux-gnu/libcrypt.so.1";
const HOST_PERL = "/usr/bin/perl";

describe.skipIf(!existsSync(HOST_LIBCRYPT) || process.arch !== "x64")("the layer's ELF check", () => {
  it("counts the glibc versions a file needs, not those a library defines", () => {
    expect(inspectElf(HOST_LIBCRYPT)!.maxGlibc).toBe("2.36");
    expect(inspectElf("/lib/x86_64-linux-gnu/libc.so.6")!.maxGlibc).not.toBe("2.36"); // it defines 2.36, needs only ld.so's
    expect(inspectElf(path.resolve("package.json"))).toBeUndefined();
  });

  it("fails with every offender named: too new a glibc, a missing library, the wrong machine", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "elf-"));
    mkdirSync(path.join(root, "lib"));
    mkdirSync(path.join(root, "bin"));
    copyFileSync(HOST_LIBCRYPT, path.join(root, "lib", "libcrypt.so.1"));
    copyFileSync(HOST_PERL, path.join(root, "bin", "perl")); // needs libcrypt.so.1, which is present here
    let message = "";
    try {
      checkLayerElves(root, "x64");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/lib\/libcrypt\.so\.1: needs GLIBC_2\.36, above Amazon Linux 2023's 2\.34/);
    expect(() => checkLayerElves(root, "arm64")).toThrow(/built for ELF machine 0x3e, not arm64/);
    const lonely = mkdtempSync(path.join(os.tmpdir(), "elf-"));
    copyFileSync(HOST_PERL, path.join(lonely, "perl"));
    expect(() => checkLayerElves(lonely, "x64")).toThrow(/perl: needs libcrypt\.so\.1, which is neither in the layer nor in AL2023's base image/);
  });
});
