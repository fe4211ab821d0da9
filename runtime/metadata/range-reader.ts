/**
 * Serves random-access reads of a remote object from aligned blocks fetched by ranged requests.
 * exiftool jumps around (TIFF IFDs at the end, ISO-BMFF boxes, PDF xref tables), so the reader keeps
 * a block cache and only reads ahead when it sees sequential access, growing the window up to a
 * bounded request size.
 */
export interface ByteSource {
  readonly size: number;
  /** Fetches bytes [start, end] inclusive. */
  fetch(start: number, end: number, signal?: AbortSignal): Promise<Buffer>;
}

export interface RangeReaderOptions {
  /** Alignment and minimum fetch. Default 32 KiB: the smallest that still reads a typical JPEG EXIF segment, a TIFF IFD or an ISO-BMFF meta box in one request. */
  blockSize?: number;
  /** Largest single ranged request. Default 8 MiB. */
  maxRequestBytes?: number;
  /** Cache budget; least recently used blocks are dropped past it. Default 32 MiB. */
  maxCachedBytes?: number;
}

export interface ReadStats {
  bytesFetched: number;
  requests: number;
}

export class RangeReader {
  readonly blockSize: number;
  private readonly maxRequestBlocks: number;
  private readonly maxCachedBlocks: number;
  private readonly blocks = new Map<number, Buffer>();
  private lastBlockRead = -2;
  private readAheadBlocks = 1;
  readonly stats: ReadStats = { bytesFetched: 0, requests: 0 };

  constructor(
    private readonly source: ByteSource,
    options: RangeReaderOptions = {},
  ) {
    this.blockSize = options.blockSize ?? 32 * 1024;
    this.maxRequestBlocks = Math.max(1, Math.floor((options.maxRequestBytes ?? 8 * 1024 * 1024) / this.blockSize));
    this.maxCachedBlocks = Math.max(this.maxRequestBlocks, Math.floor((options.maxCachedBytes ?? 32 * 1024 * 1024) / this.blockSize));
  }

  get size(): number {
    return this.source.size;
  }

  /** Returns up to `length` bytes at `offset` (fewer only at the end of the object). */
  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (offset < 0 || length < 0) throw new RangeError(`invalid read at ${offset} of ${length} bytes`);
    const end = Math.min(offset + length, this.size);
    if (end <= offset) return Buffer.alloc(0);
    const firstBlock = Math.floor(offset / this.blockSize);
    const lastBlock = Math.floor((end - 1) / this.blockSize);
    this.adaptReadAhead(firstBlock, lastBlock);
    // The read holds its own blocks: one read larger than the cache may evict them from the cache
    // while it is being assembled, never from under itself.
    const blocks = await this.ensureBlocks(firstBlock, lastBlock, signal);
    const parts: Buffer[] = [];
    for (let b = firstBlock; b <= lastBlock; b++) {
      const block = blocks.get(b)!;
      const blockStart = b * this.blockSize;
      parts.push(block.subarray(Math.max(0, offset - blockStart), Math.min(block.length, end - blockStart)));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Bytes held in the block cache. */
  get cachedBytes(): number {
    let total = 0;
    for (const block of this.blocks.values()) total += block.length;
    return total;
  }

  private adaptReadAhead(firstBlock: number, lastBlock: number): void {
    const sequential = firstBlock === this.lastBlockRead || firstBlock === this.lastBlockRead + 1;
    this.readAheadBlocks = sequential ? Math.min(this.readAheadBlocks * 2, this.maxRequestBlocks) : 1;
    this.lastBlockRead = lastBlock;
  }

  private async ensureBlocks(firstBlock: number, lastBlock: number, signal?: AbortSignal): Promise<Map<number, Buffer>> {
    const finalBlock = Math.floor((this.size - 1) / this.blockSize);
    const held = new Map<number, Buffer>();
    let b = firstBlock;
    while (b <= lastBlock) {
      const cached = this.touch(b);
      if (cached) {
        held.set(b, cached);
        b++;
        continue;
      }
      // One request covers the missing run, plus read-ahead when access is sequential.
      const wanted = Math.max(lastBlock - b + 1, this.readAheadBlocks);
      let runEnd = b;
      while (runEnd + 1 <= finalBlock && runEnd + 1 - b < Math.min(wanted, this.maxRequestBlocks) && !this.blocks.has(runEnd + 1)) runEnd++;
      const fetched = await this.fetchBlocks(b, runEnd, signal);
      for (let i = 0; i < fetched.length && b + i <= lastBlock; i++) held.set(b + i, fetched[i]!);
      b = runEnd + 1;
    }
    return held;
  }

  private async fetchBlocks(first: number, last: number, signal?: AbortSignal): Promise<Buffer[]> {
    const start = first * this.blockSize;
    const end = Math.min((last + 1) * this.blockSize, this.size) - 1;
    const data = await this.source.fetch(start, end, signal);
    if (data.length !== end - start + 1) {
      throw new Error(`short ranged read: asked bytes ${start}-${end}, got ${data.length} bytes`);
    }
    this.stats.requests++;
    this.stats.bytesFetched += data.length;
    const fetched: Buffer[] = [];
    for (let b = first; b <= last; b++) {
      const block = data.subarray((b - first) * this.blockSize, (b - first + 1) * this.blockSize);
      fetched.push(block);
      this.blocks.set(b, block);
    }
    while (this.blocks.size > this.maxCachedBlocks) {
      this.blocks.delete(this.blocks.keys().next().value!);
    }
    return fetched;
  }

  /** The cached block, marked most recently used; undefined when not cached. */
  private touch(block: number): Buffer | undefined {
    const data = this.blocks.get(block);
    if (data === undefined) return undefined;
    this.blocks.delete(block);
    this.blocks.set(block, data);
    return data;
  }
}
