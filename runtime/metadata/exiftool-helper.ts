/**
 * Client for layer/exiftool-range-helper.pl: one long-lived perl process per container (spawning perl
 * per object costs ~90 ms), whose file reads we answer from a RangeReader. The protocol is described
 * at the top of the perl file. A request that outlives its timeout kills the process; the next
 * request starts a fresh one.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { TransientError } from "../errors";
import type { ExiftoolPaths } from "./exiftool-paths";
import { PipeReader } from "./pipe-reader";
import type { RangeReader } from "./range-reader";

export interface HelperOptions {
  /** Whole-request budget, S3 reads included. Default 30 s. */
  requestTimeoutMs?: number;
}

/** exiftool itself rejected the file (unknown format, corrupt structure): not worth a retry. */
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

/** The helper process failed (died, hung, spoke nonsense); the caller may fall back to streaming. */
export class HelperFailure extends TransientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EXIFTOOL_HELPER", message, options);
  }
}

interface Running {
  proc: ChildProcessWithoutNullStreams;
  out: PipeReader;
  stderr: string[];
}

export class ExiftoolHelper {
  private running: Running | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly requestTimeoutMs: number;
  /** How many helper processes were started; a restart after a crash or hang shows up here. */
  starts = 0;

  constructor(
    private readonly paths: ExiftoolPaths,
    options: HelperOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** Reads all tags; `numeric` names tags reported as numbers (exiftool's TAG#), '*' wildcards allowed. */
  readTags(reader: RangeReader, numeric: readonly string[]): Promise<Record<string, unknown>> {
    return this.serialize(async () => {
      const reply = await this.request({ op: "read", size: reader.size, numeric, fast: 1, block: reader.blockSize }, reader);
      if (reply.kind !== "J") throw new HelperFailure(`unexpected reply ${reply.kind} to read`);
      return JSON.parse(reply.body.toString("utf8")) as Record<string, unknown>;
    });
  }

  /** The largest embedded preview (JpgFromRaw, PreviewImage, ...), or undefined when there is none. */
  extractPreview(reader: RangeReader, tags?: readonly string[]): Promise<Buffer | undefined> {
    return this.serialize(async () => {
      const reply = await this.request({ op: "preview", size: reader.size, tags }, reader);
      if (reply.kind !== "B") throw new HelperFailure(`unexpected reply ${reply.kind} to preview`);
      return reply.body.length ? reply.body : undefined;
    });
  }

  async close(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    if (!running) return;
    running.proc.stdin.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        running.proc.kill("SIGKILL");
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
    const proc = spawn(this.paths.perl, ["-I", this.paths.libDir, this.paths.helper], {
      env: this.paths.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
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
    const running = { proc, out: new PipeReader(proc.stdout), stderr };
    proc.once("exit", () => {
      if (this.running === running) this.running = undefined;
    });
    return running;
  }

  private kill(running: Running): void {
    if (this.running === running) this.running = undefined;
    running.proc.kill("SIGKILL");
  }

  private async request(payload: object, reader?: RangeReader): Promise<{ kind: string; body: Buffer }> {
    const running = (this.running ??= this.start());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill(running);
        reject(new HelperFailure(`exiftool helper timed out after ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
    });
    try {
      return await Promise.race([this.converse(running, payload, reader), timeout]);
    } catch (err) {
      if (err instanceof ExiftoolRejected || err instanceof SourceReadFailed) throw err;
      // Anything else leaves the conversation in an unknown state: start over next time.
      this.kill(running);
      if (err instanceof TransientError) throw err;
      const detail = running.stderr.join("").trim().slice(-500);
      throw new HelperFailure(`exiftool helper failed: ${(err as Error).message}${detail ? ` (stderr: ${detail})` : ""}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private async converse(running: Running, payload: object, reader?: RangeReader): Promise<{ kind: string; body: Buffer }> {
    running.proc.stdin.write(`${JSON.stringify(payload)}\n`);
    let readError: unknown;
    for (;;) {
      const line = await running.out.readLine();
      const match = /^([A-Z]) (\d+)(?: (\d+))?$/.exec(line);
      if (!match) throw new Error(`unexpected line from helper: ${line.slice(0, 200)}`);
      const [, kind, a, b] = match;
      if (kind === "R") {
        if (!reader) throw new Error("helper asked for bytes outside a file request");
        try {
          await this.answerRead(running, reader, Number(a), Number(b));
        } catch (err) {
          readError = err; // the helper now fails the request with "read failed", and stays usable
        }
        continue;
      }
      const body = await running.out.readBytes(Number(a));
      if (kind === "X") {
        const message = body.toString("utf8");
        if (readError !== undefined) throw new SourceReadFailed(readError);
        throw new ExiftoolRejected(message);
      }
      return { kind: kind!, body };
    }
  }

  private async answerRead(running: Running, reader: RangeReader, offset: number, length: number): Promise<void> {
    let data: Buffer;
    try {
      data = await reader.read(offset, length);
    } catch (err) {
      const message = Buffer.from((err as Error).message ?? String(err));
      running.proc.stdin.write(Buffer.concat([Buffer.from(`E ${message.length}\n`), message]));
      throw err;
    }
    running.proc.stdin.write(Buffer.concat([Buffer.from(`D ${data.length}\n`), data]));
  }
}
