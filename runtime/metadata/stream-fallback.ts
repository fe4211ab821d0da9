/**
 * The fallback when the range helper is unavailable: pipe the object sequentially into
 * `exiftool -fast -json -`. Reads start small and grow (the RangeReader doubles its read-ahead on
 * sequential access); exiftool exiting ends the transfer, so EPIPE is expected, not an error.
 */
import { spawn } from "node:child_process";
import { TransientError } from "../errors";
import type { ExiftoolPaths } from "./exiftool-paths";
import type { RangeReader } from "./range-reader";

const FIRST_CHUNK = 64 * 1024;
const MAX_CHUNK = 8 * 1024 * 1024;

export interface StreamChunks {
  /** First read. Default 64 KiB. */
  first: number;
  /** Reads double up to this. Default 8 MiB. */
  max: number;
}

export async function streamTags(
  paths: ExiftoolPaths,
  reader: RangeReader,
  args: readonly string[],
  timeoutMs = 60_000,
  chunks: StreamChunks = { first: FIRST_CHUNK, max: MAX_CHUNK },
): Promise<{ json: string; exitCode: number | null; stderr: string }> {
  const proc = spawn(paths.perl, [paths.exiftool, ...args, "-"], { env: paths.env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t));
  proc.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
  proc.stdin.on("error", () => undefined); // EPIPE once exiftool has what it needs
  let exited = false;
  const inFlight = new AbortController();
  // 'exit' (not 'close'): the pump must stop as soon as exiftool is gone, before its pipes drain.
  const exitSeen = new Promise<void>((resolve) =>
    proc.once("exit", () => {
      exited = true;
      inFlight.abort();
      resolve();
    }),
  );
  const exit = new Promise<number | null>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (code) => resolve(code));
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const pump = (async () => {
    let offset = 0;
    let chunk = chunks.first;
    while (!exited && offset < reader.size) {
      const data = await reader.read(offset, chunk, inFlight.signal);
      offset += data.length;
      if (exited || proc.stdin.destroyed) break;
      if (!proc.stdin.write(data)) {
        await Promise.race([new Promise((resolve) => proc.stdin.once("drain", resolve)), exitSeen]);
      }
      chunk = Math.min(chunk * 2, chunks.max);
    }
    proc.stdin.end();
  })();
  try {
    const [exitCode] = await Promise.all([
      exit,
      pump.catch((err) => {
        if (exited) return; // the GET we aborted because exiftool already had enough
        proc.kill("SIGKILL");
        throw err;
      }),
    ]);
    if (proc.signalCode === "SIGKILL") throw new TransientError("EXIFTOOL_TIMEOUT", `exiftool did not finish within ${timeoutMs} ms`);
    return { json: stdout, exitCode, stderr };
  } finally {
    clearTimeout(timer);
  }
}
