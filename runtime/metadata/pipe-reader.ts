import type { Readable } from "node:stream";

/**
 * Pull-style reader over a child's stdout for a framed protocol: read a line, then exactly n bytes.
 * Fails every pending and later read once the stream ends or errors.
 */
export class PipeReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(stream: Readable) {
    stream.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.notify();
    });
    const end = (err?: Error) => {
      this.ended ??= err ?? new Error("stream ended");
      this.notify();
    };
    stream.on("end", () => end());
    stream.on("close", () => end());
    stream.on("error", end);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async waitForData(): Promise<void> {
    if (this.ended) throw this.ended;
    await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  async readLine(maxLength = 4096): Promise<string> {
    for (;;) {
      const joined = this.chunks.length > 1 ? Buffer.concat(this.chunks) : this.chunks[0];
      if (joined) {
        this.chunks = [joined];
        const nl = joined.indexOf(10);
        if (nl >= 0) return this.take(nl + 1).toString("utf8", 0, nl);
        if (joined.length > maxLength) throw new Error(`protocol line longer than ${maxLength} bytes`);
      }
      await this.waitForData();
    }
  }

  async readBytes(n: number): Promise<Buffer> {
    while (this.buffered < n) await this.waitForData();
    return Buffer.from(this.take(n));
  }
}
