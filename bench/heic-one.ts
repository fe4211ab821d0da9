/** One HEIC in a fresh process, as a cold Lambda container meets it: decode (wasm compile included), render, peak RSS. */
import { readFileSync } from "node:fs";
import { decodeHeif } from "../runtime/heif";
import { renderRenditions } from "../runtime/renditions";
import { DEFAULT_RENDITIONS } from "../contract/tenant-config";

async function main(): Promise<void> {
  const data = readFileSync(process.argv[2]!);
  const t0 = performance.now();
  const pixels = await decodeHeif(data, 268_402_689);
  const decodeMs = performance.now() - t0;
  const { outputs } = await renderRenditions(pixels, DEFAULT_RENDITIONS, { maxInputPixels: 268_402_689, profile: "none" });
  const nodeMaxRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
  console.log(JSON.stringify({ nodeMaxRssMb, decodeMs, renditions: outputs.length }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
