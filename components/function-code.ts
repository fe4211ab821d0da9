/**
 * The processing function's archive, built at program time: runtime/handler.ts bundled by esbuild
 * into index.js (handler "index.handler"), plus sharp with its native files for the function's
 * architecture, installed the way sharp documents for Lambda (npm --os/--cpu/--libc in a separate
 * folder) and left external to the bundle. Zipped reproducibly and checked against Lambda's limits.
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

export const HANDLER = "index.handler";
/** The on-demand renderer, exported by the same bundle (runtime/handler.ts). */
export const ON_DEMAND_HANDLER = "index.onDemandHandler";

const ROOT = path.resolve(__dirname, "..");
const NPM_CPU: Record<LambdaArchitecture, string> = { arm64: "arm64", x86_64: "x64" };

export interface FunctionArchive extends ZipSummary {
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

/** What the archive is made of: runtime sources (not the local platform), the lockfile, the architecture. */
function inputsHash(architecture: LambdaArchitecture): string {
  const hash = createHash("sha256").update(architecture).update(readFileSync(path.join(ROOT, "package-lock.json")));
  for (const rel of listFiles(path.join(ROOT, "runtime"))) {
    if (rel.startsWith("local/")) continue;
    hash.update(rel).update(readFileSync(path.join(ROOT, "runtime", rel)));
  }
  return hash.digest("hex");
}

export async function buildFunctionArchive(architecture: LambdaArchitecture = "arm64", outDir = path.join(ROOT, ".build")): Promise<FunctionArchive> {
  const manifest = path.join(outDir, `function-${architecture}.json`);
  const inputs = inputsHash(architecture);
  if (existsSync(manifest)) {
    const cached = JSON.parse(readFileSync(manifest, "utf8")) as FunctionArchive & { inputs: string };
    if (cached.inputs === inputs && existsSync(cached.path) && zipSha256(cached.path) === cached.sha256) {
      const { inputs: _, ...archive } = cached;
      return archive;
    }
  }
  // Per-process staging and an atomic rename: concurrent builds (parallel test workers, two
  // previews) never see each other's half-written files, and produce the same bytes anyway.
  const staging = path.join(outDir, `function-${architecture}.${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(path.join(staging, "node_modules"), { recursive: true });
  const result = buildSync({
    entryPoints: [path.join(ROOT, "runtime", "handler.ts")],
    outfile: path.join(staging, "index.js"),
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    // sharp ships native code per platform; exiftool-vendored.pl is replaced by the layer's /opt/bin.
    external: ["sharp", "exiftool-vendored.pl", "exiftool-vendored.exe"],
    logLevel: "silent",
  });
  if (result.errors.length) throw new Error(`bundling runtime/handler.ts failed: ${result.errors.map((e) => e.text).join("; ")}`);
  const sharpDir = stageSharp(architecture, path.join(outDir, "cache"));
  for (const name of ["sharp", "@img", "detect-libc", "semver"]) {
    const from = path.join(sharpDir, "node_modules", name);
    if (existsSync(from)) copyTree(from, path.join(staging, "node_modules", name));
  }
  const finalZip = path.join(outDir, `function-${architecture}.zip`);
  const zip = await zipDirectory(staging, `${finalZip}.${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  checkLambdaLimits(zip, `function archive (${architecture})`);
  renameSync(zip.path, finalZip);
  const archive: FunctionArchive = { ...zip, path: finalZip, architecture, handler: HANDLER };
  writeFileSync(`${manifest}.${process.pid}`, JSON.stringify({ ...archive, inputs }, null, 2));
  renameSync(`${manifest}.${process.pid}`, manifest);
  return archive;
}
