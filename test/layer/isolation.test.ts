/**
 * The ExifTool layer proven in isolation: unpacked at /opt in a throwaway root filesystem holding
 * only glibc (from Debian's libc6) and busybox, entered with chroot as nobody, with a cleared
 * environment. No system perl, no /usr/share/perl. x64 runs natively; arm64 runs its perl under
 * qemu-aarch64-static placed inside the root (no binfmt registration, nothing changed on the host).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLayer, type LayerManifest } from "../../layer/build-layer";
import { DebianPackages } from "../../layer/debian";
import { inspectElf, ELF_MACHINES } from "../../layer/elf-check";
import type { ExiftoolPaths } from "../../runtime/metadata/exiftool-paths";
import { MetadataExtractor } from "../../runtime/metadata/extractor";
import { RangeReader } from "../../runtime/metadata/range-reader";
import { streamTags } from "../../runtime/metadata/stream-fallback";
import { bigTiff, jpegWithExif, png } from "../../fixtures/images";

const WORK = path.resolve("layer/.build");
const isRoot = process.getuid?.() === 0;
const hasChroot = existsSync("/usr/sbin/chroot");
const canIsolate = isRoot && hasChroot;
const SKIP_REASON = "needs root and chroot to enter a throwaway root filesystem (CI here runs as root)";
// Said in the run's output, since a skipped test cannot say why.
if (!canIsolate) console.warn(`skipping the isolation tests: ${SKIP_REASON}`);
const tmp = mkdtempSync(path.join(os.tmpdir(), "layer-iso-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A root filesystem with only glibc and busybox, and the layer at /opt. */
function makeRoot(arch: "amd64" | "arm64", layerZip: string): string {
  const apt = new DebianPackages(arch, WORK);
  const root = path.join(tmp, `root-${arch}`);
  DebianPackages.extract(apt.download("libc6"), root);
  DebianPackages.extract(apt.download("busybox-static"), root);
  for (const dir of ["bin", "usr/bin", "tmp"]) mkdirSync(path.join(root, dir), { recursive: true });
  for (const tool of ["sh", "env", "cat"]) symlinkSync("/bin/busybox", path.join(root, "bin", tool));
  // Lambda's sandbox has the usual character devices; perl's FindBin opens /dev/null.
  mkdirSync(path.join(root, "dev"));
  execFileSync("mknod", ["-m", "666", path.join(root, "dev", "null"), "c", "1", "3"]);
  execFileSync("unzip", ["-q", layerZip, "-d", path.join(root, "opt")]);
  for (const absent of ["usr/bin/perl", "usr/share/perl", "usr/share/perl5", "usr/lib/x86_64-linux-gnu/perl", "etc/perl"]) {
    expect(existsSync(path.join(root, absent)), absent).toBe(false);
  }
  return root;
}

const ENV = ["PATH=/opt/bin:/usr/bin:/bin", "LD_LIBRARY_PATH=/opt/lib"];

function inRoot(root: string, command: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("chroot", ["--userspec=65534:65534", root, "/bin/env", "-i", ...ENV, ...command], { input, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe.skipIf(!canIsolate)("the x64 layer in a glibc-only root", () => {
  let manifest: LayerManifest;
  let root: string;

  beforeAll(async () => {
    manifest = await buildLayer("x64", path.join(tmp, "dist"));
    root = makeRoot("amd64", path.resolve(manifest.zip.startsWith("/") ? manifest.zip : path.join(tmp, "dist", "exiftool-layer-x64.zip")));
  });

  it("runs /opt/bin/exiftool -ver", () => {
    const result = inRoot(root, ["/opt/bin/exiftool", "-ver"]);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe(manifest.exiftoolVersion);
  });

  it("reads generated images from stdin with -fast -json -", async () => {
    const jpeg = await jpegWithExif({ width: 640, height: 480, orientation: 6, dateTimeOriginal: "2024:01:02 03:04:05" });
    const result = inRoot(root, ["/opt/bin/exiftool", "-fast", "-json", "-n", "-"], jpeg);
    expect(result.status).toBe(0);
    const [tags] = JSON.parse(result.stdout);
    expect(tags).toMatchObject({
      MIMEType: "image/jpeg",
      ImageWidth: 640,
      ImageHeight: 480,
      Orientation: 6,
      Make: "Acme",
      DateTimeOriginal: "2024:01:02 03:04:05",
    });
    const pngResult = JSON.parse(inRoot(root, ["/opt/bin/exiftool", "-fast", "-json", "-"], await png(300, 200)).stdout)[0];
    expect(pngResult).toMatchObject({ FileType: "PNG", ImageWidth: 300 });
  });

  it("loads every perl module the helper and exiftool's compressed formats need", () => {
    const result = inRoot(root, [
      "/opt/bin/perl",
      "-MJSON::PP",
      "-MEncode",
      "-MCompress::Zlib",
      "-MIO::Uncompress::Bunzip2",
      "-MDigest::MD5",
      "-MTime::HiRes",
      "-MFindBin",
      "-e",
      "print qq(ok)",
    ]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("ok");
  });

  it("speaks the range helper protocol end to end, and the streaming fallback works too", async () => {
    const enter = path.join(tmp, "enter-root.sh");
    writeFileSync(enter, `#!/bin/sh\nexec chroot --userspec=65534:65534 '${root}' /bin/env -i ${ENV.join(" ")} /opt/bin/perl "$@"\n`);
    chmodSync(enter, 0o755);
    const paths: ExiftoolPaths = {
      perl: enter,
      exiftool: "/opt/bin/exiftool",
      helper: "/opt/bin/exiftool-range-helper.pl",
      libDir: "/opt/bin/lib",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      source: "layer",
    };
    const extractor = new MetadataExtractor(paths, { requestTimeoutMs: 30_000 });
    try {
      const jpeg = await jpegWithExif({ gps: { latitude: 51.5, longitude: -0.12 }, dateTimeOriginal: "2024:01:02 03:04:05" });
      const memory = (data: Buffer) => ({ size: data.length, fetch: async (s: number, e: number) => data.subarray(s, e + 1) });
      const result = await extractor.extract(new RangeReader(memory(jpeg)), "object");
      expect(result.method).toBe("ranged");
      expect(result.tags.GPSLatitude).toBeCloseTo(51.5, 3);
      const tiff = await bigTiff(3000, 2000);
      const reader = new RangeReader(memory(tiff));
      expect((await extractor.extract(reader, "tiff")).tags.ImageWidth).toBe(3000);
      expect(reader.stats.bytesFetched).toBeLessThanOrEqual(3 * 65536);
      const streamed = await streamTags(paths, new RangeReader(memory(jpeg)), ["-json", "-fast"]);
      expect(JSON.parse(streamed.json)[0].Make).toBe("Acme");
    } finally {
      await extractor.close();
    }
  });

  it("is byte-identical when rebuilt from the same inputs", async () => {
    const again = await buildLayer("x64", path.join(tmp, "dist-again"));
    expect(again.sha256).toBe(manifest.sha256);
    expect(readFileSync(path.join(tmp, "dist-again", "exiftool-layer-x64.zip")).equals(readFileSync(path.join(tmp, "dist", "exiftool-layer-x64.zip")))).toBe(
      true,
    );
  });
});

describe.skipIf(!canIsolate)("the arm64 layer", () => {
  let manifest: LayerManifest;
  let root: string;

  beforeAll(async () => {
    manifest = await buildLayer("arm64", path.join(tmp, "dist-arm64"));
    root = makeRoot("arm64", path.join(tmp, "dist-arm64", "exiftool-layer-arm64.zip"));
  });

  it("holds only aarch64 ELF files that need at most GLIBC_2.34", () => {
    const elves = manifest.elfFiles;
    expect(elves.length).toBeGreaterThan(20);
    for (const elf of elves) {
      const report = inspectElf(path.join(root, "opt", elf.file))!;
      expect(report.machine, elf.file).toBe(ELF_MACHINES.arm64);
      if (report.maxGlibc) expect(Number(report.maxGlibc.split(".")[1]), `${elf.file} needs GLIBC_${report.maxGlibc}`).toBeLessThanOrEqual(34);
    }
    expect(inspectElf(path.join(root, "opt", "lib", "perl5", "perl"))!.needed).toContain("libcrypt.so.1");
    expect(existsSync(path.join(root, "opt", "lib", "libcrypt.so.1"))).toBe(true);
  });

  it("runs exiftool under qemu-aarch64-static inside the root", async () => {
    const qemuDeb = new DebianPackages("amd64", WORK).download("qemu-user-static");
    const qemuRoot = path.join(tmp, "qemu");
    DebianPackages.extract(qemuDeb, qemuRoot);
    copyFileSync(path.join(qemuRoot, "usr", "bin", "qemu-aarch64-static"), path.join(root, "qemu-aarch64"));
    chmodSync(path.join(root, "qemu-aarch64"), 0o755);
    // Without binfmt the kernel cannot start aarch64 programs, so run the layer's perl (what the
    // /opt/bin/perl wrapper execs) under qemu with the environment the wrapper would set.
    const perlEnv = ["PERL5LIB=/opt/lib/perl5/arch:/opt/lib/perl5/base:/opt/lib/perl5/share", "LD_LIBRARY_PATH=/opt/lib", "PATH=/opt/bin:/bin"];
    const run = (args: string[], input?: Buffer) =>
      spawnSync("/usr/sbin/chroot", ["--userspec=65534:65534", root, "/qemu-aarch64", "-L", "/", "/opt/lib/perl5/perl", ...args], {
        env: Object.fromEntries(perlEnv.map((kv) => kv.split("=") as [string, string])),
        input,
        maxBuffer: 16 * 1024 * 1024,
      });
    const version = run(["/opt/bin/exiftool", "-ver"]);
    expect(version.stderr.toString()).toBe("");
    expect(version.stdout.toString().trim()).toBe(manifest.exiftoolVersion);
    const json = run(["/opt/bin/exiftool", "-fast", "-json", "-n", "-"], await jpegWithExif({ width: 320, height: 240, orientation: 8 }));
    expect(JSON.parse(json.stdout.toString())[0]).toMatchObject({ ImageWidth: 320, Orientation: 8, Make: "Acme" });
    const modules = run(["-MJSON::PP", "-MEncode", "-MCompress::Zlib", "-MDigest::MD5", "-MFindBin", "-e", "print qq(ok)"]);
    expect(modules.stdout.toString()).toBe("ok");
  });
});
