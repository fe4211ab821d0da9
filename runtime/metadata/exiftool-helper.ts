/**
 * Client for layer/exiftool-range-helper.pl: one long-lived perl process per container (spawning perl
 * per object costs ~90 ms), whose file reads we answer from a RangeReader. The protocol is described
 * at the top of the perl file: every frame names its request, so a stream out of step is detected at
 * the first wrong frame, the process is killed, and the next request starts a fresh one.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { TransientError } from "../errors";
import type { ExiftoolPaths } from "./exiftool-paths";
import { PipeReader } from "./pipe-reader";
import type { RangeReader } from "./range-reader";

/** The protocol this client speaks; the helper announces its own in its hello frame. */
const HELPER_PROTOCOL_VERSION = 2;

/** What exiftool's command line would be told: `-fast[N]`, `-api NAME=VALUE`, `-use MODULE`, `-TAG[#]`. */
export interface ReadOptions {
  /** Requested tags in order, e.g. ["Orientation#", "all"]; '#' asks for the unconverted value. */
  tags: string[];
  api: Record<string, string>;
  use: string[];
  /** FastScan level (the helper raises it to 2 for PNG). */
  fast: number;
  /** The object's file extension: exiftool tells some types apart by it (ASF/WMV, ZIP/EIP). */
  ext?: string;
}

/**
 * Translates exiftool command-line arguments (as exiftool-vendored builds them, without the file)
 * into a read request. An argument it does not know is an error, so a library upgrade that adds one
 * is noticed by the tests instead of silently changing what is stored.
 */
export function readOptionsFromArgs(args: readonly string[]): ReadOptions {
  const options: ReadOptions = { tags: [], api: {}, use: [], fast: 0 };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-json") continue;
    const fast = /^-fast(\d?)$/.exec(arg);
    if (fast) {
      options.fast = Number(fast[1] || 1);
    } else if (arg === "-api" || arg === "-use") {
      const value = args[++i];
      if (value === undefined) throw new Error(`exiftool argument ${arg} needs a value`);
      if (arg === "-use") options.use.push(value);
      else {
        const eq = value.indexOf("=");
        options.api[eq < 0 ? value : value.slice(0, eq)] = eq < 0 ? "1" : value.slice(eq + 1);
      }
    } else if (/^-[A-Za-z0-9_*?:-]+#?$/.test(arg)) {
      options.tags.push(arg.slice(1));
    } else {
      throw new Error(`exiftool argument ${JSON.stringify(arg)} has no range-helper equivalent`);
    }
  }
  return options;
}

export interface HelperOptions {
  /** Whole-request budget, S3 reads included. Default 30 s. */
  requestTimeoutMs?: number;
}

/** exiftool itself failed on the file (a perl error while parsing it): the streaming fallback may still read it. */
export class ExiftoolRejected extends Error {
  override name = "ExiftoolRejected";
}

/**
 * One of our reads for the helper failed (S3 5xx, 412 because the object changed, ...). The helper
 * was told and answered cleanly, so it stays up; `cause` is the original error, for classification.
 */
export class SourceReadFailed extends Error {
  override name = "SourceReadFailed";
  constructor(override readonly cause: unknown) {
    super(`reading the object failed: ${(cause as Error)?.message ?? cause}`);
  }
}

/**
 * How the helper process failed. `desync`: a frame out of step (the helper's or ours); `died`: it
 * exited or closed its pipe; `timeout`: it outlived the request's budget; `version`: it speaks
 * another protocol (a layer older or newer than the function).
 */
export type HelperFailureKind = "desync" | "died" | "timeout" | "version";

/** The helper process failed; it has been killed, and the next request starts a fresh one. */
export class HelperFailure extends TransientError {
  constructor(
    readonly kind: HelperFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("EXIFTOOL_HELPER", message, options);
  }

  /** A fresh helper may well read the same object by ranges: true for every kind but a hang or a version mismatch. */
  get freshHelperMayRead(): boolean {
    return this.kind === "desync" || this.kind === "died";
  }
}

/** The helper's process: its own process group, since it forks a child per request and a kill must reach both. */
function spawnHelper(paths: ExiftoolPaths): ChildProcessWithoutNullStreams {
  return spawn(paths.perl, ["-I", paths.libDir, paths.helper], { env: paths.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
}

/** A helper started before the rest of the function loaded (early-helper.ts), for the first ExiftoolHelper to adopt. */
let early: { paths: ExiftoolPaths; proc: ChildProcessWithoutNullStreams } | undefined;

/**
 * Starts a helper now, at the very beginning of a container's INIT: perl's loading of ExifTool and
 * its modules (~0.5 s) then overlaps Node's loading of the function instead of following it.
 */
export function startHelperEarly(paths: ExiftoolPaths): void {
  early ??= { paths, proc: spawnHelper(paths) };
}

interface Running {
  proc: ChildProcessWithoutNullStreams;
  out: PipeReader;
  stderr: string[];
  /** Resolves once the hello frame announced a protocol we speak. */
  ready: Promise<void>;
}

interface Frame {
  kind: string;
  id: number;
  fields: number[];
}

export class ExiftoolHelper {
  private running: Running | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly requestTimeoutMs: number;
  private lastId = 0;
  /** How many helper processes were started; a restart after a crash, hang or desync shows up here. */
  starts = 0;

  constructor(
    private readonly paths: ExiftoolPaths,
    options: HelperOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** Starts the helper now (perl loading ExifTool takes a while) rather than on the first read. */
  prestart(): void {
    this.running ??= this.start();
  }

  /** Reads the tags exiftool's command line would print with `-json` and the same options. */
  readTags(reader: RangeReader, options: ReadOptions): Promise<Record<string, unknown>> {
    return this.serialize(async () => {
      const reply = await this.request({ op: "read", size: reader.size, block: reader.blockSize, ...options }, "J", reader);
      return JSON.parse(reply.toString("utf8")) as Record<string, unknown>;
    });
  }

  /** The largest embedded preview (JpgFromRaw, PreviewImage, ...), or undefined when there is none. */
  extractPreview(reader: RangeReader, ext?: string, tags?: readonly string[]): Promise<Buffer | undefined> {
    return this.serialize(async () => {
      const reply = await this.request({ op: "preview", size: reader.size, ext, tags }, "B", reader);
      return reply.length ? reply : undefined;
    });
  }

  async close(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    if (!running) return;
    running.proc.stdin.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.killGroup(running);
        resolve();
      }, 2000);
      running.proc.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      if (running.proc.exitCode !== null || running.proc.signalCode !== null) {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  get pid(): number | undefined {
    return this.running?.proc.pid;
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private start(): Running {
    const adopted = early && early.paths.helper === this.paths.helper && early.proc.exitCode === null ? early.proc : undefined;
    early = undefined;
    const proc = adopted ?? spawnHelper(this.paths);
    this.starts++;
    const stderr: string[] = [];
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (text: string) => {
      stderr.push(text);
      if (stderr.length > 20) stderr.shift();
    });
    // A dead helper surfaces as a failed read; swallow EPIPE on its stdin.
    proc.stdin.on("error", () => undefined);
    proc.on("error", () => undefined);
    const out = new PipeReader(proc.stdout);
    const ready = (async () => {
      const line = await out.readLine(256);
      const hello = /^H 0 (\d{1,3})$/.exec(line);
      // A helper of protocol 1 sends no hello: it answers our first request with an error line.
      if (!hello) {
        throw new HelperFailure(
          "version",
          `the exiftool helper sent no hello frame (${JSON.stringify(line.slice(0, 60))}): it predates protocol ${HELPER_PROTOCOL_VERSION}; deploy the layer built with this function`,
        );
      }
      const version = Number((await out.readBytes(Number(hello[1]))).toString("ascii"));
      if (version !== HELPER_PROTOCOL_VERSION) {
        throw new HelperFailure(
          "version",
          `the exiftool helper speaks protocol ${version}, this function ${HELPER_PROTOCOL_VERSION}: deploy the layer built with this function`,
        );
      }
    })();
    ready.catch(() => undefined); // observed by the first request
    const running = { proc, out, stderr, ready };
    proc.once("exit", () => {
      if (this.running === running) this.running = undefined;
    });
    return running;
  }

  private killGroup(running: Running): void {
    try {
      process.kill(-running.proc.pid!, "SIGKILL");
    } catch {
      running.proc.kill("SIGKILL"); // the group is gone already, or the process never started
    }
  }

  private kill(running: Running): void {
    if (this.running === running) this.running = undefined;
    this.killGroup(running);
  }

  private async request(payload: object, expected: "J" | "B", reader?: RangeReader): Promise<Buffer> {
    const running = (this.running ??= this.start());
    const id = ++this.lastId;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill(running);
        reject(new HelperFailure("timeout", `exiftool helper timed out after ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
    });
    try {
      return await Promise.race([this.converse(running, id, payload, expected, reader), timeout]);
    } catch (err) {
      if (err instanceof ExiftoolRejected || err instanceof SourceReadFailed) throw err;
      // Anything else leaves the conversation in an unknown state: start over next time.
      this.kill(running);
      if (err instanceof HelperFailure) throw err;
      const detail = running.stderr.join("").trim().slice(-500);
      throw new HelperFailure("died", `exiftool helper failed: ${(err as Error).message}${detail ? ` (stderr: ${detail})` : ""}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private async converse(running: Running, id: number, payload: object, expected: string, reader?: RangeReader): Promise<Buffer> {
    const body = Buffer.from(JSON.stringify(payload), "utf8");
    running.proc.stdin.write(Buffer.concat([Buffer.from(`Q ${id} ${body.length}\n`), body]));
    await running.ready;
    let readError: unknown;
    for (;;) {
      const frame = await readFrame(running.out);
      if (frame.id !== id) throw new HelperFailure("desync", `frame ${frame.kind} for request ${frame.id} while request ${id} is in progress`);
      if (frame.kind === "R" && frame.fields.length === 2 && reader) {
        const [offset, length] = frame.fields as [number, number];
        try {
          await this.answerRead(running, reader, id, offset, length);
        } catch (err) {
          readError = err; // the helper now fails the request with "read failed", and stays usable
        }
        continue;
      }
      if (frame.fields.length !== 1 || !"JBPX".includes(frame.kind)) {
        throw new HelperFailure("desync", `unexpected frame ${frame.kind} ${frame.fields.join(" ")} for request ${id}`);
      }
      const reply = await running.out.readBytes(frame.fields[0]!);
      if (frame.kind === "X") {
        if (readError !== undefined) throw new SourceReadFailed(readError);
        throw new ExiftoolRejected(reply.toString("utf8"));
      }
      if (frame.kind !== expected) throw new HelperFailure("desync", `reply ${frame.kind} to a request that expects ${expected}`);
      return reply;
    }
  }

  private async answerRead(running: Running, reader: RangeReader, id: number, offset: number, length: number): Promise<void> {
    let data: Buffer;
    try {
      data = await reader.read(offset, length);
    } catch (err) {
      const message = Buffer.from((err as Error).message ?? String(err));
      running.proc.stdin.write(Buffer.concat([Buffer.from(`E ${id} ${offset} ${message.length}\n`), message]));
      throw err;
    }
    running.proc.stdin.write(Buffer.concat([Buffer.from(`D ${id} ${offset} ${data.length}\n`), data]));
  }
}

const FRAME = /^([A-Z]) (\d{1,15})((?: \d{1,15}){1,2})$/;

async function readFrame(out: PipeReader): Promise<Frame> {
  const line = await out.readLine(256);
  const match = FRAME.exec(line);
  if (!match) throw new HelperFailure("desync", `not a protocol frame: ${JSON.stringify(line.slice(0, 120))}`);
  return { kind: match[1]!, id: Number(match[2]), fields: match[3]!.trim().split(" ").map(Number) };
}
