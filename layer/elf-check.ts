/**
 * Checks every ELF file of a layer against Amazon Linux 2023 (Lambda's nodejs22.x base, glibc 2.34):
 * the right machine, no symbol version above GLIBC_2.34, and every needed shared object either in
 * the layer or in AL2023's base image.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import path from "node:path";
import { listFiles } from "./deterministic-zip";

export const MAX_GLIBC = "2.34";
export const ELF_MACHINES = { x64: 0x3e, arm64: 0xb7 } as const;

/** glibc's own objects: present in every AL2023 image. libcrypt.so.1 is not (AL2023 ships .so.2). */
const BASE_IMAGE_LIBRARIES = new Set([
  "libc.so.6",
  "libm.so.6",
  "libdl.so.2",
  "libpthread.so.0",
  "librt.so.1",
  "libresolv.so.2",
  "libutil.so.1",
  "ld-linux-x86-64.so.2",
  "ld-linux-aarch64.so.1",
]);

export interface ElfReport {
  file: string;
  machine: number;
  maxGlibc?: string;
  needed: string[];
}

function elfMachine(file: string): number | undefined {
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(20);
    if (readSync(fd, header, 0, 20, 0) < 20 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
    return header.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}

const versionKey = (v: string) =>
  v
    .split(".")
    .map((n) => n.padStart(4, "0"))
    .join(".");

export function inspectElf(file: string): ElfReport | undefined {
  const machine = elfMachine(file);
  if (machine === undefined) return undefined;
  const dynamic = execFileSync("readelf", ["-d", "-W", file], { encoding: "utf8" });
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  const versions = execFileSync("readelf", ["-V", "-W", file], { encoding: "utf8" });
  // Only what the file needs counts (".gnu.version_r"), not the versions a library defines.
  const needs = versions
    .split(/\n(?=Version \w+ section)/)
    .filter((part) => part.startsWith("Version needs section"))
    .join("\n");
  const glibc = [...new Set([...needs.matchAll(/Name: GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]!))].sort((a, b) => versionKey(a).localeCompare(versionKey(b)));
  return { file, machine, maxGlibc: glibc.pop(), needed };
}

/** Returns every ELF file's report; throws one message listing every problem. */
export function checkLayerElves(root: string, arch: keyof typeof ELF_MACHINES): ElfReport[] {
  const files = listFiles(root);
  const provided = new Set(files.map((f) => path.basename(f)));
  const reports: ElfReport[] = [];
  const problems: string[] = [];
  for (const rel of files) {
    const report = inspectElf(path.join(root, rel));
    if (!report) continue;
    reports.push({ ...report, file: rel });
    if (report.machine !== ELF_MACHINES[arch]) problems.push(`${rel}: built for ELF machine 0x${report.machine.toString(16)}, not ${arch}`);
    if (report.maxGlibc && versionKey(report.maxGlibc) > versionKey(MAX_GLIBC)) {
      problems.push(`${rel}: needs GLIBC_${report.maxGlibc}, above Amazon Linux 2023's ${MAX_GLIBC}`);
    }
    for (const lib of report.needed) {
      if (!provided.has(lib) && !BASE_IMAGE_LIBRARIES.has(lib)) problems.push(`${rel}: needs ${lib}, which is neither in the layer nor in AL2023's base image`);
    }
  }
  if (problems.length) throw new Error(`the layer would not run on Lambda (AL2023):\n  - ${problems.join("\n  - ")}`);
  return reports;
}
