/** The functions' archives as `pulumi up` builds them, for this machine's CPU, unzipped once per build. */
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
