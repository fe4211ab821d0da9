/**
 * Both functions' NODE_OPTIONS (contract/environment.ts functionNodeOptions): V8's old space's ceiling
 * at least where V8 lets its heap grow fully, Lambda's own value above that, and taken by Node from
 * NODE_OPTIONS (the way Lambda passes it).
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { functionNodeOptions, V8_FULL_GROWTH_OLD_SPACE_MB } from "../../contract/environment";

const oldSpaceMb = (options: string) => Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);

describe("the functions' NODE_OPTIONS", () => {
  it("names the old space's ceiling: Lambda's own (all but a 5% new space), raised to V8's full-growth threshold where below", () => {
    expect([512, 1024, 2048, 2156, 4096, 10240].map((memoryMb) => oldSpaceMb(functionNodeOptions(memoryMb)))).toEqual([
      V8_FULL_GROWTH_OLD_SPACE_MB,
      V8_FULL_GROWTH_OLD_SPACE_MB,
      V8_FULL_GROWTH_OLD_SPACE_MB,
      2049,
      3892,
      9728,
    ]);
    // Lambda's bootstrap adds no space flag of its own when NODE_OPTIONS names one; source maps stay.
    expect(functionNodeOptions(2048)).toMatch(/^--enable-source-maps --max-old-space-size=\d+$/);
  });

  it("is taken by Node from NODE_OPTIONS: V8's heap limit follows it", () => {
    const heapLimitMb = (nodeOptions: string) =>
      Number(
        execFileSync(process.execPath, ["-e", "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit / 1048576))"], {
          env: { PATH: process.env.PATH, NODE_OPTIONS: nodeOptions },
          encoding: "utf8",
        }),
      );
    // 9,728 MB is above V8's default ceiling on any machine (4 GB at most), so only the option gives it.
    expect(heapLimitMb(functionNodeOptions(10240))).toBeGreaterThanOrEqual(9728);
    expect(heapLimitMb("--enable-source-maps")).toBeLessThan(9728);
  });
});
