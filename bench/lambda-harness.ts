/**
 * A function's archive, as built, run the way Lambda's Node.js runtime runs it: a fresh process
 * loads the handler's module (the INIT phase, billed since August 2025), then invokes it. Bundled
 * with esbuild and run on plain node by the benchmarks, so that nothing of tsx is measured.
 *
 * HARNESS_ARCHIVE_DIR: the unzipped archive; HARNESS_HANDLER: e.g. `index.handler`.
 * HARNESS_MODE=invoke: HARNESS_EVENTS (a JSON array) invoked one after the other; prints one JSON
 * line: when the process started running JavaScript, the INIT time, and each invocation's time.
 * HARNESS_MODE=serve: a function URL on loopback (every request one invocation of a streaming
 * handler); tells its URL over IPC and answers `cpu` with this process's CPU time, once every
 * invocation has returned.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import { PassThrough, type Writable } from "node:stream";
import { constants, PerformanceObserver } from "node:perf_hooks";

type Handler = (event: unknown, second?: unknown) => Promise<unknown>;

export interface HarnessReport {
  /** From the process's start until this script ran (node's own start). */
  nodeStartMs: number;
  /** Loading the handler's module: everything its top level does. */
  initMs: number;
  invocationsMs: number[];
  /** Bytes each invocation answered (renderer) or its result (processor), to check the work was done. */
  results: unknown[];
  /** The process's peak resident memory (MB), its children (the exiftool helper) apart. */
  maxRssMb: number;
  /** V8's mark-compacts during the invocations (INIT's apart). */
  majorGc: { count: number; ms: number };
}

/** What a serving harness answers when asked: its CPU time and V8's major collections so far. */
export interface HarnessUsage {
  usage: NodeJS.CpuUsage;
  majorGc: { count: number; ms: number };
  /** The process's peak resident memory so far (MB). */
  maxRssMb: number;
}

const nodeStartMs = performance.now();

/** Lambda's response streaming API (the nodejs runtime's global `awslambda`), writing to any writable. */
(globalThis as { awslambda?: unknown }).awslambda = {
  streamifyResponse: (handler: Handler) => handler,
  HttpResponseStream: {
    from(
      stream: Writable & { writeHead?: (status: number, headers: Record<string, string>) => void },
      meta: { statusCode: number; headers: Record<string, string> },
    ) {
      stream.writeHead?.(meta.statusCode, meta.headers);
      (stream as Writable & { statusCode?: number }).statusCode = meta.statusCode;
      return stream;
    },
  },
};

// Mark-compacts (V8's major collections) so far: the one figure that moves a run's CPU by a fifth (docs/benchmarks.md).
const majorGc = { count: 0, ms: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
    majorGc.count++;
    majorGc.ms += entry.duration;
  }
}).observe({ entryTypes: ["gc"] });

const dir = path.resolve(process.env.HARNESS_ARCHIVE_DIR!);
const [file, exportName] = (process.env.HARNESS_HANDLER ?? "index.handler").split(".") as [string, string];
const t0 = performance.now();
const handler = (createRequire(path.join(dir, "package.json"))(path.join(dir, `${file}.js`)) as Record<string, Handler>)[exportName]!;
const initMs = performance.now() - t0;

async function invokeStreaming(event: unknown): Promise<{ statusCode?: number; bytes: number }> {
  const sink = new PassThrough();
  let bytes = 0;
  sink.on("data", (chunk: Buffer) => (bytes += chunk.length));
  await handler(event, sink);
  return { statusCode: (sink as PassThrough & { statusCode?: number }).statusCode, bytes };
}

async function invoke(): Promise<void> {
  const events = JSON.parse(process.env.HARNESS_EVENTS ?? "[]") as { event: unknown; streaming?: boolean }[];
  const invocationsMs: number[] = [];
  const results: unknown[] = [];
  const gcAtInit = { ...majorGc };
  for (const { event, streaming } of events) {
    const start = performance.now();
    results.push(streaming ? await invokeStreaming(event) : await handler(event, { awsRequestId: `harness-${results.length}` }));
    invocationsMs.push(performance.now() - start);
  }
  await new Promise((resolve) => setTimeout(resolve, 0)); // the last collections' entries are delivered on a later turn
  console.log(
    JSON.stringify({
      nodeStartMs,
      initMs,
      invocationsMs,
      results,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      majorGc: { count: majorGc.count - gcAtInit.count, ms: majorGc.ms - gcAtInit.ms },
    } satisfies HarnessReport),
  );
  process.exit(0); // the processor's exiftool helper would keep the process alive
}

async function serve(): Promise<void> {
  // Invocations still running after their response ended (a variant's PUT): counted in the CPU asked for.
  const running = new Set<Promise<unknown>>();
  const server = createServer((req, res) => {
    // A function URL's rawPath is the path as requested, still percent-encoded.
    const rawPath = new URL(req.url ?? "/", "http://localhost").pathname;
    const invocation = handler({ rawPath, requestContext: { http: { method: req.method ?? "GET" } } }, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    running.add(invocation);
    void invocation.finally(() => running.delete(invocation));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.on(
    "message",
    () =>
      void Promise.all(running).then(() =>
        process.send!({ usage: process.cpuUsage(), majorGc, maxRssMb: process.resourceUsage().maxRSS / 1024 } satisfies HarnessUsage),
      ),
  );
  process.on("disconnect", () => process.exit(0));
  process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, initMs, nodeStartMs });
}

void (process.env.HARNESS_MODE === "serve" ? serve() : invoke());
