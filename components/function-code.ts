/**
 * The functions' archives, built at program time, one per function and architecture: the
 * function's entry file in runtime/ bundled by esbuild into index.js, plus sharp with its native
 * files for the architecture, installed the way sharp documents for Lambda (npm --os/--cpu/--libc in
 * a separate folder) and left external to the bundle. Zipped reproducibly and checked against
 * Lambda's limits. Each bundle holds only what its entry imports: the renderer carries no exiftool
 * client, DynamoDB or CloudFront SDK.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";
import { createHash } from "node:crypto";
import { listFiles, zipDirectory, zipSha256, type ZipSummary } from "../layer/deterministic-zip";
import { checkLambdaLimits } from "../layer/lambda-limits";

export { checkLambdaLimits, LAMBDA_UNZIPPED_LIMIT, LAMBDA_ZIPPED_LIMIT } from "../layer/lambda-limits";

export type LambdaArchitecture = "arm64" | "x86_64";

/** The functions the stack deploys: each one's entry file in runtime/ and its Lambda handler path. */
export const FUNCTIONS = {
  processor: { entry: "runtime/handler.ts", handler: "index.handler" },
  renderer: { entry: "runtime/on-demand/handler.ts", handler: "index.onDemandHandler" },
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

/** Folders whose sources the bundles are made from: what ships, and the contract it reads. */
const BUNDLED_FOLDERS = ["runtime", "contract"];

/**
 * Packages kept out of the bundle and shipped as the few files they load, because most objects
 * never need them: bundled, libheif's 2 MB of JavaScript-wrapped WebAssembly would be compiled
 * by every cold start (the INIT phase, which Lambda bills), HEIC or not. (WebAssembly: one build
 * for both architectures.)
 */
const LAZY_FILES: Record<string, string[]> = {
  "libheif-js": ["package.json", "LICENSE", "wasm-bundle.js", "libheif-wasm/libheif-bundle.js"],
};

const ROOT = path.resolve(__dirname, "..");
const NPM_CPU: Record<LambdaArchitecture, string> = { arm64: "arm64", x86_64: "x64" };

export interface FunctionArchive extends ZipSummary {
  function: FunctionName;
  architecture: LambdaArchitecture;
  handler: string;
}

/** The sharp the project locked (its package.json is not exported, so find it from the entry point). */
function lockedSharpVersion(): string {
  const manifest = path.join(path.dirname(require.resolve("sharp")), "..", "package.json");
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
}

/** sharp for linux/glibc on the target CPU, cached per version and architecture. */
function stageSharp(architecture: LambdaArchitecture, cacheDir: string): string {
  const version = lockedSharpVersion();
  const cpu = NPM_CPU[architecture];
  const dir = path.join(cacheDir, `sharp-${version}-linux-${cpu}`);
  if (existsSync(path.join(dir, "node_modules", "sharp", "package.json"))) return dir;
  // Installed beside the cache entry and renamed into place, so a concurrent build never sees half an install.
  const temp = `${dir}.${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  writeFileSync(path.join(temp, "package.json"), JSON.stringify({ name: "sharp-stage", version: "1.0.0", private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--os=linux", `--cpu=${cpu}`, "--libc=glibc", `sharp@${version}`], {
    cwd: temp,
    stdio: "pipe",
  });
  if (!existsSync(path.join(temp, "node_modules", "@img", `sharp-linux-${cpu}`))) {
    throw new Error(`installing sharp ${version} for linux-${cpu} did not bring its native package`);
  }
  try {
    renameSync(temp, dir);
  } catch {
    rmSync(temp, { recursive: true, force: true }); // another build got there first
  }
  return dir;
}

function copyTree(from: string, to: string): void {
  execFileSync("cp", ["-RL", from, to]);
}

/** What the archive is made of: the bundled folders' sources, the lockfile, this recipe, the function, the architecture. */
function inputsHash(fn: FunctionName, architecture: LambdaArchitecture): string {
  const hash = createHash("sha256")
    .update(fn)
    .update(architecture)
    .update(readFileSync(path.join(ROOT, "package-lock.json")))
    .update(readFileSync(__filename)); // how it is built: this file
  for (const folder of BUNDLED_FOLDERS) {
    for (const rel of listFiles(path.join(ROOT, folder))) hash.update(`${folder}/${rel}`).update(readFileSync(path.join(ROOT, folder, rel)));
  }
  return hash.digest("hex");
}

/** The processing function's archive keeps its old file name; the renderer's is named for it. */
const archiveStem = (fn: FunctionName, architecture: LambdaArchitecture) =>
  fn === "processor" ? `function-${architecture}` : `function-${fn}-${architecture}`;

export async function buildFunctionArchive(
  architecture: LambdaArchitecture = "arm64",
  fn: FunctionName = "processor",
  outDir = path.join(ROOT, ".build"),
): Promise<FunctionArchive> {
  const { entry, handler } = FUNCTIONS[fn];
  const stem = archiveStem(fn, architecture);
  const manifest = path.join(outDir, `${stem}.json`);
  const inputs = inputsHash(fn, architecture);
  if (existsSync(manifest)) {
    const cached = JSON.parse(readFileSync(manifest, "utf8")) as FunctionArchive & { inputs: string };
    if (cached.inputs === inputs && existsSync(cached.path) && zipSha256(cached.path) === cached.sha256) {
      const { inputs: _, ...archive } = cached;
      return archive;
    }
  }
  // Per-process staging and an atomic rename: concurrent builds (parallel test workers, two
  // previews) never see each other's half-written files, and produce the same bytes anyway.
  const staging = path.join(outDir, `${stem}.${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(path.join(staging, "node_modules"), { recursive: true });
  const result = buildSync({
    entryPoints: [path.join(ROOT, entry)],
    outfile: path.join(staging, "index.js"),
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    // sharp ships native code per platform; exiftool-vendored.pl is replaced by the layer's /opt/bin;
    // libheif-js is copied as files (LAZY_FILES), read only by the first HEIC a container sees.
    external: ["sharp", "exiftool-vendored.pl", "exiftool-vendored.exe", ...Object.keys(LAZY_FILES)],
    logLevel: "silent",
  });
  if (result.errors.length) throw new Error(`bundling ${entry} failed: ${result.errors.map((e) => e.text).join("; ")}`);
  const sharpDir = stageSharp(architecture, path.join(outDir, "cache"));
  for (const name of ["sharp", "@img", "detect-libc", "semver"]) {
    const from = path.join(sharpDir, "node_modules", name);
    if (existsSync(from)) copyTree(from, path.join(staging, "node_modules", name));
  }
  for (const [name, files] of Object.entries(LAZY_FILES)) {
    for (const file of files) {
      mkdirSync(path.dirname(path.join(staging, "node_modules", name, file)), { recursive: true });
      copyTree(path.join(ROOT, "node_modules", name, file), path.join(staging, "node_modules", name, file));
    }
  }
  const finalZip = path.join(outDir, `${stem}.zip`);
  const zip = await zipDirectory(staging, `${finalZip}.${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  checkLambdaLimits(zip, `${fn} archive (${architecture})`);
  renameSync(zip.path, finalZip);
  const archive: FunctionArchive = { ...zip, path: finalZip, function: fn, architecture, handler };
  writeFileSync(`${manifest}.${process.pid}`, JSON.stringify({ ...archive, inputs }, null, 2));
  renameSync(`${manifest}.${process.pid}`, manifest);
  return archive;
}
