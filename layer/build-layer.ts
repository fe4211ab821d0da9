/**
 * `npm run build:layer [-- --arch arm64|x64|all]`: the ExifTool Lambda layer, from Debian packages
 * and the pinned exiftool-vendored.pl, without Docker. Produces layer/dist/exiftool-layer-<arch>.zip
 * (reproducible) and a .json manifest beside it.
 *
 * Layout, unzipped at /opt by Lambda:
 *   bin/perl                         wrapper: sets @INC and the library path, runs lib/perl5/perl
 *   bin/exiftool, bin/lib/           exiftool and Image::ExifTool (exiftool-vendored.pl)
 *   bin/exiftool-range-helper.pl     the range helper the runtime talks to
 *   lib/libcrypt.so.1 libz.so.1 libbz2.so.1.0
 *   lib/perl5/perl                   Debian's perl (libperl built in)
 *   lib/perl5/{arch,base,share}/     Debian's perl modules, pruned
 */
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DebianPackages, type DebianArch } from "./debian";
import { zipDirectory, type ZipSummary } from "./deterministic-zip";
import { checkLayerElves, MAX_GLIBC, type ElfReport } from "./elf-check";
import { checkLambdaLimits } from "./lambda-limits";
import { pruneTree } from "./prune";

export type LayerArch = "arm64" | "x64";

const LAYER_DIR = __dirname;
const ROOT = path.resolve(LAYER_DIR, "..");
const DEBIAN_ARCH: Record<LayerArch, DebianArch> = { arm64: "arm64", x64: "amd64" };
const TRIPLET: Record<LayerArch, string> = { arm64: "aarch64-linux-gnu", x64: "x86_64-linux-gnu" };
const SHARED_LIBRARIES = ["libcrypt.so.1", "libz.so.1", "libbz2.so.1.0"];
/** Lambda: 250 MB unzipped for function and layers together; the function takes ~25 MB of it. */
export const LAYER_UNZIPPED_BUDGET = 200 * 1024 * 1024;

export interface LayerManifest {
  arch: LayerArch;
  zip: string;
  sha256: string;
  zippedBytes: number;
  unzippedBytes: number;
  files: number;
  packages: string[];
  exiftoolVersion: string;
  maxGlibc: string;
  elfFiles: ElfReport[];
}

const PERL_WRAPPER = `#!/bin/sh
# Debian's perl, relocated under the layer root (normally /opt): @INC and shared libraries from here.
root="\${0%/bin/perl}"
[ "$root" = "$0" ] && root=/opt
PERL5LIB="$root/lib/perl5/arch:$root/lib/perl5/base:$root/lib/perl5/share\${PERL5LIB:+:$PERL5LIB}"
LD_LIBRARY_PATH="$root/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PERL5LIB LD_LIBRARY_PATH
exec "$root/lib/perl5/perl" "$@"
`;

export function exiftoolVendoredDir(): string {
  return path.join(path.dirname(require.resolve("exiftool-vendored.pl/package.json")), "bin");
}

export function exiftoolVersion(): string {
  const source = readFileSync(path.join(exiftoolVendoredDir(), "lib", "Image", "ExifTool.pm"), "utf8");
  return /\$VERSION = '([\d.]+)'/.exec(source)?.[1] ?? "unknown";
}

function holderAlive(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(lock, "pid"), "utf8"));
  } catch {
    return true; // just created, its pid not written yet
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `work` while holding a lock directory: builds in parallel processes (test workers) share the
 * apt cache, and two `apt-get update`s writing the same lists at once corrupt them.
 */
function withDirectoryLock<T>(lock: string, work: () => T): T {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (!holderAlive(lock)) {
        rmSync(lock, { recursive: true, force: true }); // left by a build that was killed
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} is still held after 10 minutes: remove it if no build is running`, { cause: err });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Fetches and lays out the layer tree for one architecture, in folders of this process's own. */
export function assembleLayer(arch: LayerArch, workDir = path.join(LAYER_DIR, ".build")): { tree: string; packages: string[] } {
  const pins = JSON.parse(readFileSync(path.join(LAYER_DIR, "packages.json"), "utf8")) as { perl: string[]; libraries: string[] };
  const apt = new DebianPackages(DEBIAN_ARCH[arch], workDir);
  mkdirSync(workDir, { recursive: true });
  const specs = [...pins.perl, ...pins.libraries];
  const debs = withDirectoryLock(path.join(workDir, `apt-${arch}.lock`), () => specs.map((spec) => apt.download(spec)));
  // Per process: a build in another test worker empties and refills its own tree, not this one.
  const extracted = path.join(workDir, `extracted-${arch}.${process.pid}`);
  rmSync(extracted, { recursive: true, force: true });
  for (const deb of debs) DebianPackages.extract(deb, extracted);

  const tree = path.join(workDir, `layer-${arch}.${process.pid}`);
  rmSync(tree, { recursive: true, force: true });
  const perlRoot = path.join(tree, "lib", "perl5");
  mkdirSync(path.join(tree, "bin"), { recursive: true });
  mkdirSync(perlRoot, { recursive: true });

  copyFileSync(path.join(extracted, "usr", "bin", "perl"), path.join(perlRoot, "perl"));
  chmodSync(path.join(perlRoot, "perl"), 0o755);
  const triplet = TRIPLET[arch];
  cpSync(path.join(extracted, "usr", "lib", triplet, "perl", "5.36.0"), path.join(perlRoot, "arch"), { recursive: true, dereference: true });
  cpSync(path.join(extracted, "usr", "lib", triplet, "perl-base"), path.join(perlRoot, "base"), { recursive: true, dereference: true });
  cpSync(path.join(extracted, "usr", "share", "perl", "5.36.0"), path.join(perlRoot, "share"), { recursive: true, dereference: true });
  for (const lib of SHARED_LIBRARIES) {
    const from = [path.join(extracted, "lib", triplet, lib), path.join(extracted, "usr", "lib", triplet, lib)].find(existsSync);
    if (!from) throw new Error(`${lib} not found in the downloaded packages`);
    mkdirSync(path.join(tree, "lib"), { recursive: true });
    copyFileSync(from, path.join(tree, "lib", lib)); // follows the soname symlink
  }

  writeFileSync(path.join(tree, "bin", "perl"), PERL_WRAPPER, { mode: 0o755 });
  const vendored = exiftoolVendoredDir();
  const exiftool = readFileSync(path.join(vendored, "exiftool"), "utf8").replace(/^#!.*\n/, "#!/opt/bin/perl -w\n");
  writeFileSync(path.join(tree, "bin", "exiftool"), exiftool, { mode: 0o755 });
  cpSync(path.join(vendored, "lib"), path.join(tree, "bin", "lib"), { recursive: true, dereference: true });
  copyFileSync(path.join(LAYER_DIR, "exiftool-range-helper.pl"), path.join(tree, "bin", "exiftool-range-helper.pl"));
  chmodSync(path.join(tree, "bin", "exiftool-range-helper.pl"), 0o755);

  pruneTree(tree);
  rmSync(extracted, { recursive: true, force: true });
  return { tree, packages: specs };
}

export async function buildLayer(arch: LayerArch, outDir = path.join(LAYER_DIR, "dist")): Promise<LayerManifest> {
  const { tree, packages } = assembleLayer(arch);
  const elfFiles = checkLayerElves(tree, arch);
  mkdirSync(outDir, { recursive: true });
  const zip: ZipSummary = await zipDirectory(tree, path.join(outDir, `exiftool-layer-${arch}.zip`));
  rmSync(tree, { recursive: true, force: true });
  checkLambdaLimits(zip, `ExifTool layer (${arch})`, LAYER_UNZIPPED_BUDGET);
  const manifest: LayerManifest = {
    arch,
    zip: path.relative(ROOT, zip.path),
    sha256: zip.sha256,
    zippedBytes: zip.zippedBytes,
    unzippedBytes: zip.unzippedBytes,
    files: zip.files,
    packages,
    exiftoolVersion: exiftoolVersion(),
    maxGlibc: MAX_GLIBC,
    elfFiles,
  };
  writeFileSync(path.join(outDir, `exiftool-layer-${arch}.json`), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--arch");
  const requested = at >= 0 ? process.argv[at + 1] : "arm64";
  const arches: LayerArch[] = requested === "all" ? ["arm64", "x64"] : requested === "arm64" || requested === "x64" ? [requested] : [];
  if (!arches.length) throw new Error(`--arch must be arm64, x64 or all (got ${requested})`);
  for (const arch of arches) {
    const m = await buildLayer(arch);
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    console.log(
      `${m.zip}: ${mb(m.zippedBytes)} zipped, ${mb(m.unzippedBytes)} unzipped, ${m.files} files, exiftool ${m.exiftoolVersion}, ${m.elfFiles.length} ELF files all <= GLIBC_${m.maxGlibc}`,
    );
    console.log(`  sha256 ${m.sha256}`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
