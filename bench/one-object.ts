/**
 * One object in a fresh process, as a Lambda container would handle it: metadata by ranged reads
 * of the file, renditions from the spooled file path. Prints peak RSS of node and of exiftool.
 * bench/run.ts bundles this file with esbuild and runs it on plain node, as the function runs.
 */
import { openSync, readFileSync, readSync, statSync } from "node:fs";
import { resolveExiftoolPaths } from "../runtime/metadata/exiftool-paths";
import { MetadataExtractor } from "../runtime/metadata/extractor";
import { RangeReader } from "../runtime/metadata/range-reader";
import { renderRenditions } from "../runtime/renditions";
import { DEFAULT_RENDITIONS } from "../contract/tenant-config";

async function main(): Promise<void> {
  const file = process.argv[2]!;
  const fd = openSync(file, "r");
  const size = statSync(file).size;
  const source = {
    size,
    fetch: async (start: number, end: number) => {
      const buffer = Buffer.alloc(end - start + 1);
      readSync(fd, buffer, 0, buffer.length, start);
      return buffer;
    },
  };
  const extractor = new MetadataExtractor(resolveExiftoolPaths());
  await extractor.extract(new RangeReader(source), "object");
  const status = readFileSync(`/proc/${extractor.helper.pid}/status`, "utf8");
  const exiftoolMaxRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
  const { source: image } = await renderRenditions(file, DEFAULT_RENDITIONS, { maxInputPixels: 268_402_689, profile: "none" });
  await extractor.close();
  // VmHWM, not getrusage's maxrss: Linux carries ru_maxrss across exec, so a child would report its
  // parent's peak (the benchmark process) instead of its own.
  const nodeMaxRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
  console.log(JSON.stringify({ nodeMaxRssMb, exiftoolMaxRssMb, width: image.width, height: image.height }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
