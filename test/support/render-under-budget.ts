/**
 * Run as its own process (bundled by the memory test): renders files two at a time, as a function
 * container does, under the decode budget of a function of `--memory` MB. Prints one JSON line per
 * file and, last, the process's peak RSS.
 */
import { readFileSync } from "node:fs";
import { PermanentError } from "../../runtime/errors";
import { decodeBudgetBytes, MemoryBudget } from "../../runtime/memory-budget";
import { mapLimit } from "../../runtime/concurrency";
import { renderRenditions } from "../../runtime/renditions";
import { DEFAULT_RENDITIONS, OBJECTS_PER_CONTAINER } from "../../runtime/tenant-config";

async function main(): Promise<void> {
  const [memory, ...files] = process.argv.slice(2);
  const memoryMb = Number(memory);
  const budget = new MemoryBudget(decodeBudgetBytes(memoryMb), memoryMb);
  await mapLimit(files, OBJECTS_PER_CONTAINER, async (file) => {
    try {
      const { outputs } = await renderRenditions(file, file, DEFAULT_RENDITIONS, { maxInputPixels: 268_402_689, profile: "none", budget });
      console.log(JSON.stringify({ file, status: "done", outputs: outputs.map((o) => [o.width, o.height]) }));
    } catch (err) {
      console.log(JSON.stringify({ file, status: "failed", code: err instanceof PermanentError ? err.code : "UNEXPECTED", message: (err as Error).message }));
    }
  });
  const peakMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
  console.log(JSON.stringify({ peakMb }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
