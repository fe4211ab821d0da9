import { describe, expect, it } from "vitest";
import { RangeReader, type ByteSource } from "../../runtime/metadata/range-reader";

function source(size: number) {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) % 256;
  const calls: [number, number][] = [];
  const src: ByteSource = {
    size,
    async fetch(start, end) {
      calls.push([start, end]);
      return data.subarray(start, end + 1);
    },
  };
  return { data, calls, src };
}

describe("RangeReader", () => {
  it("returns exactly the bytes asked for, across block boundaries and at the end", async () => {
    const { data, src } = source(300_000);
    const reader = new RangeReader(src, { blockSize: 1024 });
    for (const [offset, length] of [
      [0, 10],
      [1020, 10],
      [5000, 9000],
      [299_990, 100],
      [300_000, 5],
    ] as const) {
      expect(await reader.read(offset, length)).toEqual(data.subarray(offset, Math.min(offset + length, data.length)));
    }
  });

  it("serves repeated reads from its cache", async () => {
    const { calls, src } = source(1_000_000);
    const reader = new RangeReader(src, { blockSize: 65536 });
    await reader.read(999_000, 100);
    await reader.read(999_500, 100);
    await reader.read(10, 10);
    await reader.read(20, 10);
    expect(calls).toHaveLength(2);
    expect(reader.stats).toEqual({ requests: 2, bytesFetched: 1_000_000 - 983_040 + 65536 });
  });

  it("grows read-ahead on sequential access, bounded by the request size", async () => {
    const { calls, src } = source(10 * 1024 * 1024);
    const reader = new RangeReader(src, { blockSize: 64 * 1024, maxRequestBytes: 1024 * 1024 });
    for (let offset = 0; offset < 4 * 1024 * 1024; offset += 64 * 1024) await reader.read(offset, 64 * 1024);
    const sizes = calls.map(([s, e]) => e - s + 1);
    expect(Math.max(...sizes)).toBe(1024 * 1024);
    expect(calls.length).toBeLessThan(12); // 64 blocks read in far fewer requests
  });

  it("does not read ahead on random access", async () => {
    const { calls, src } = source(10 * 1024 * 1024);
    const reader = new RangeReader(src, { blockSize: 64 * 1024 });
    await reader.read(5_000_000, 10);
    await reader.read(100, 10);
    await reader.read(9_000_000, 10);
    expect(calls.map(([s, e]) => e - s + 1)).toEqual([65536, 65536, 65536]);
  });

  it("evicts least recently used blocks past its budget", async () => {
    const { calls, src } = source(1024 * 1024);
    const reader = new RangeReader(src, { blockSize: 1024, maxRequestBytes: 1024, maxCachedBytes: 4096 });
    for (const offset of [0, 10_240, 20_480, 30_720, 40_960]) await reader.read(offset, 1);
    await reader.read(0, 1); // evicted: fetched again
    await reader.read(40_960, 1); // still cached
    expect(calls).toHaveLength(6);
  });

  it("fails loudly on a short read", async () => {
    const reader = new RangeReader({ size: 100, fetch: async () => Buffer.alloc(3) }, { blockSize: 16 });
    await expect(reader.read(0, 10)).rejects.toThrow(/short ranged read/);
  });
});

describe("RangeReader: one read larger than its cache budget", () => {
  it("assembles the read whole (blocks of the read in progress are never evicted under it)", async () => {
    // 40 MB in one read (exiftool reading a large ancillary PNG chunk), with a 1 MiB cache.
    const { data, src } = source(48 * 1024 * 1024);
    const reader = new RangeReader(src, { blockSize: 32 * 1024, maxRequestBytes: 512 * 1024, maxCachedBytes: 1024 * 1024 });
    const got = await reader.read(1000, 40 * 1024 * 1024);
    expect(got.length).toBe(40 * 1024 * 1024);
    expect(got.equals(data.subarray(1000, 1000 + 40 * 1024 * 1024))).toBe(true);
    // The budget still holds afterwards.
    expect(reader.cachedBytes).toBeLessThanOrEqual(1024 * 1024);
  });
});
