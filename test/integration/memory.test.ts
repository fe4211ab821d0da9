/**
 * Small files that decode to hundreds of MB, within the default limits, in a fresh process with a
 * 1024 MB function's budget, two at a time as a container runs them. Where this machine allows it
 * (root, cgroup v1), the process runs under a real 1024 MB memory limit: over it, the kernel kills
 * it exactly as Lambda would.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { adversarialImages } from "../../fixtures/images";
import { functionNodeOptions } from "../../contract/environment";
import { bundleScript } from "../../fixtures/bundle-script";
import { beforeAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(path.join(os.tmpdir(), "memory-"));
const bundle = path.join(dir, "render-under-budget.js");
const cgroupRoot = "/sys/fs/cgroup/memory";
const canLimit = process.getuid?.() === 0 && existsSync(path.join(cgroupRoot, "cgroup.procs"));
if (!canLimit) console.warn("memory test: no writable cgroup v1 memory controller (needs root): peak RSS is measured without a kernel limit");

const files = Object.fromEntries(
  [
    "progressive-8000.jpg",
    "progressive-16000.jpg",
    "strip-256x400000.png",
    "square-16000.png",
    "interlaced-8000.png",
    "deep-16bit.png",
    "cmyk.jpg",
    "animated-300-frames.gif",
  ].map((name) => [name, adversarialImages[name]!]),
);

beforeAll(async () => {
  for (const [name, make] of Object.entries(files)) writeFileSync(path.join(dir, name), await make());
  bundleScript(path.join(__dirname, "../../fixtures/render-under-budget.ts"), bundle);
});

function runUnderLimit(
  memoryMb: number,
  inputs: string[],
): { status: number | null; signal: string | null; lines: Record<string, unknown>[]; kernelPeakMb?: number } {
  const command = [process.execPath, bundle, String(memoryMb), ...inputs].map((a) => `'${a}'`).join(" ");
  let cgroup: string | undefined;
  if (canLimit) {
    cgroup = path.join(cgroupRoot, `tip-memory-test-${process.pid}`);
    mkdirSync(cgroup, { recursive: true });
    writeFileSync(path.join(cgroup, "memory.limit_in_bytes"), String(memoryMb * 1024 * 1024));
  }
  try {
    const script = cgroup ? `echo $$ > ${cgroup}/cgroup.procs && exec ${command}` : `exec ${command}`;
    const run = spawnSync("sh", ["-c", script], {
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
      // With the functions' own NODE_OPTIONS: the heap grows, and is collected, as on Lambda (contract/environment.ts).
      env: { PATH: process.env.PATH, NODE_PATH: path.resolve(__dirname, "../../node_modules"), NODE_OPTIONS: functionNodeOptions(memoryMb) },
    });
    const lines = run.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const kernelPeakMb = cgroup ? Number(readFileSync(path.join(cgroup, "memory.max_usage_in_bytes"), "utf8")) / 1024 / 1024 : undefined;
    if (run.status !== 0) console.error(run.stderr);
    return { status: run.status, signal: run.signal, lines, kernelPeakMb };
  } finally {
    if (cgroup) rmdirSync(cgroup);
  }
}

describe("adversarial but allowed inputs in a fresh process, two at a time, under the function's memory", () => {
  const names = Object.keys(files);

  function check(memoryMb: number, refused: string[]): void {
    const run = runUnderLimit(
      memoryMb,
      names.map((n) => path.join(dir, n)),
    );
    expect(run.signal).toBeNull(); // SIGKILL: the kernel's out-of-memory killer
    expect(run.status).toBe(0);
    const outcome = (name: string) => run.lines.find((l) => l.file === path.join(dir, name))!;
    for (const name of names) {
      if (!refused.includes(name)) {
        expect(outcome(name), name).toMatchObject({ status: "done" });
        continue;
      }
      expect(outcome(name), name).toMatchObject({ status: "failed", code: "OVER_MEMORY_BUDGET" });
      expect(String(outcome(name).message)).toMatch(
        new RegExp(
          `needs about \\d+ MB to decode, more than the ${memoryMb - 256} MB a ${memoryMb} MB function has for images; set function\\.memoryMb to at least \\d+`,
        ),
      );
    }
    const peakMb = Number(run.lines.at(-1)!.peakMb);
    console.log(`${memoryMb} MB function: peak RSS ${peakMb.toFixed(0)} MB${run.kernelPeakMb ? `, cgroup peak ${run.kernelPeakMb.toFixed(0)} MB` : ""}`);
    expect(peakMb).toBeLessThan(memoryMb);
  }

  it("1024 MB (the default): renders every one, the 16000 x 16000 progressive JPEG alone (732 MB of coefficients)", () => {
    check(1024, []);
  });

  it("512 MB: refuses what can never fit, naming the memory it would need, and renders the rest", () => {
    check(512, ["progressive-16000.jpg", "interlaced-8000.png", "animated-300-frames.gif"]);
  });
});
