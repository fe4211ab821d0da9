/** The functions' archives as `pulumi up` builds them, for this machine's CPU, unzipped once per build. */
import { lambdaOldSpaceMb } from "../contract/environment";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildFunctionArchive, FUNCTIONS, type FunctionName, type LambdaArchitecture } from "../components/function-code";
import { bundleScript } from "../fixtures/bundle-script";

const BUILD = path.join(__dirname, "..", ".build");

const HOST_ARCHITECTURE: LambdaArchitecture = os.arch() === "arm64" ? "arm64" : "x86_64";

export interface UnpackedArchive {
  dir: string;
  handler: string;
  zippedBytes: number;
}

export async function unpackedArchive(fn: FunctionName): Promise<UnpackedArchive> {
  const archive = await buildFunctionArchive(HOST_ARCHITECTURE, fn);
  const dir = path.join(BUILD, "unpacked", `${fn}-${archive.sha256.replace(/[^A-Za-z0-9]/g, "").slice(0, 16)}`);
  if (!existsSync(path.join(dir, "index.js"))) {
    const staging = `${dir}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    execFileSync("unzip", ["-q", archive.path, "-d", staging]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  }
  return { dir, handler: FUNCTIONS[fn].handler, zippedBytes: archive.zippedBytes };
}

/** The harness that runs an archive as Lambda's runtime does (lambda-harness.ts), bundled for plain node. */
export function harnessScript(): string {
  return bundleScript(path.join(__dirname, "lambda-harness.ts"), path.join(BUILD, "bench-lambda-harness.js"), []);
}

/**
 * The node flags Lambda's Node.js bootstrap adds for a function of `memoryMb`: a new space of 5% of
 * it (half of that each semi-space) and the rest the old space's ceiling; none when the function's
 * NODE_OPTIONS names either, as the bootstrap does ("Do not override customers' semi and old space
 * size options if they specify them with NODE_OPTIONS", nodejs20.x-24.x /var/runtime/bootstrap).
 * The harness runs an archive with them, so that V8 collects as it does on Lambda.
 */
export function lambdaBootstrapFlags(memoryMb: number, nodeOptions = ""): string[] {
  if (/--max[-_](semi|old)[-_]space[-_]size/.test(nodeOptions)) return [];
  const oldSpaceMb = lambdaOldSpaceMb(memoryMb);
  return [`--max-semi-space-size=${Math.floor((memoryMb - oldSpaceMb) / 2)}`, `--max-old-space-size=${oldSpaceMb}`];
}
