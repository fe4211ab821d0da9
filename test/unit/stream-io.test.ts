/**
 * The renderer's two stream ends: the source's body read into one buffer of the announced size
 * (s3-object.ts readExactly) and the variant written to Lambda's response stream (handler.ts
 * writeResponse, without stream.pipeline: what pipeline gave for free is checked here). Every byte
 * in order, backpressure, and no hang when a stream fails or closes early.
 */
import { PassThrough, Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readExactly } from "../../runtime/s3-object";
import { writeResponse, type StreamingApi } from "../../runtime/on-demand/handler";
import { TransientError } from "../../runtime/errors";

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** A body arriving in chunks of `chunkBytes` on later turns, as a socket's does. */
function body(data: Buffer, chunkBytes = 65_536): Readable {
  const chunks = Array.from({ length: Math.ceil(data.length / chunkBytes) }, (_, i) => data.subarray(i * chunkBytes, (i + 1) * chunkBytes));
  return new Readable({
    read() {
      setImmediate(() => this.push(chunks.shift() ?? null));
    },
  });
}

describe("readExactly: the source's body into one buffer of the size S3 announced", () => {
  it("reads every byte, in order, from many chunks", async () => {
    const data = bytes(1_000_003);
    const read = await readExactly(body(data), data.length);
    expect(read.equals(data)).toBe(true);
  });

  it("refuses a body longer than announced, and stops reading it", async () => {
    const stream = body(bytes(200_000));
    const error = await readExactly(stream, 100_000).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).code).toBe("BODY_LENGTH_MISMATCH");
    expect((error as Error).message).toMatch(/longer than the 100000 bytes/);
    expect(stream.destroyed).toBe(true);
  });

  it("refuses a body that ends before the announced size", async () => {
    await expect(readExactly(body(bytes(70_000)), 100_000)).rejects.toThrow(/ended after 70000 of 100000 bytes/);
  });

  it("passes on the stream's own error (a connection reset mid-body)", async () => {
    const stream = new PassThrough();
    const read = readExactly(stream, 100_000);
    stream.write(bytes(10_000));
    setImmediate(() => stream.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })));
    await expect(read).rejects.toThrow("socket hang up");
  });

  it("does not wait forever for a body closed without an error or an end", async () => {
    const stream = new PassThrough();
    const read = readExactly(stream, 100_000);
    stream.write(bytes(10_000));
    setImmediate(() => stream.destroy());
    await expect(read).rejects.toThrow(/premature close/i);
  });
});

/** Lambda's streaming API as the handler sees it, over any writable (the harness's is the same). */
const api: StreamingApi = { streamifyResponse: (handler) => handler, HttpResponseStream: { from: (stream) => stream } };

/** A response stream that takes `highWaterMark` bytes before asking for a drain, and drains on a later turn. */
function slowSink(highWaterMark: number) {
  const received: Buffer[] = [];
  let writes = 0;
  /** The most bytes already buffered when a piece was written: 0 when every write waited for the drain. */
  let bufferedAtWrite = 0;
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, done) {
      writes++;
      received.push(chunk);
      setImmediate(done);
    },
  });
  const write = sink.write.bind(sink);
  sink.write = ((chunk: Buffer, ...rest: never[]) => {
    bufferedAtWrite = Math.max(bufferedAtWrite, sink.writableLength);
    return write(chunk, ...rest);
  }) as typeof sink.write;
  return { sink, received, writes: () => writes, bufferedAtWrite: () => bufferedAtWrite };
}

describe("writeResponse: the variant to Lambda's response stream", () => {
  it("writes a body above 1 MiB in 1 MiB pieces, in order, waiting for each drain, then waits for the variant's PUT", async () => {
    const data = bytes(2_500_000, 7);
    const { sink, received, writes, bufferedAtWrite } = slowSink(16_384);
    let stored = false;
    const storing = new Promise<void>((resolve) => setTimeout(() => ((stored = true), resolve()), 20));
    await writeResponse(api, sink, { statusCode: 200, headers: {}, body: data, stored: storing });
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(writes()).toBe(3);
    expect(bufferedAtWrite()).toBe(0);
    expect(sink.writableFinished).toBe(true);
    expect(stored).toBe(true);
  });

  it("ends an empty body (a HEAD's answer)", async () => {
    const { sink, writes } = slowSink(16_384);
    await writeResponse(api, sink, { statusCode: 200, headers: {}, body: Buffer.alloc(0) });
    expect(writes()).toBe(0);
    expect(sink.writableFinished).toBe(true);
  });

  it("fails when the viewer goes away while a drain is awaited, and still waits for the variant's PUT", async () => {
    const { sink } = slowSink(16_384);
    let stored = false;
    const storing = new Promise<void>((resolve) => setTimeout(() => ((stored = true), resolve()), 20));
    // Destroyed without an error (a closed connection) once the first megabyte is being written: no drain will come.
    const originalWrite = sink.write.bind(sink);
    sink.write = ((chunk: Buffer, ...rest: never[]) => {
      const ok = originalWrite(chunk, ...rest);
      setImmediate(() => sink.destroy());
      return ok;
    }) as typeof sink.write;
    await expect(writeResponse(api, sink, { statusCode: 200, headers: {}, body: bytes(2_500_000), stored: storing })).rejects.toThrow(/premature close/i);
    expect(stored).toBe(true);
  });

  it("fails with the stream's error", async () => {
    const sink = new Writable({
      write(_chunk, _encoding, done) {
        done(new Error("the runtime's connection broke"));
      },
    });
    await expect(writeResponse(api, sink, { statusCode: 200, headers: {}, body: bytes(100) })).rejects.toThrow("the runtime's connection broke");
  });
});
