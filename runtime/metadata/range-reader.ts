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
    await this.ensureBlocks(firstBlock, lastBlock, signal);
    const parts: Buffer[] = [];
    for (let b = firstBlock; b <= lastBlock; b++) {
      const block = this.touch(b);
      const blockStart = b * this.blockSize;
      parts.push(block.subarray(Math.max(0, offset - blockStart), Math.min(block.length, end - blockStart)));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private adaptReadAhead(firstBlock: number, lastBlock: number): void {
    const sequential = firstBlock === this.lastBlockRead || firstBlock === this.lastBlockRead + 1;
    this.readAheadBlocks = sequential ? Math.min(this.readAheadBlocks * 2, this.maxRequestBlocks) : 1;
    this.lastBlockRead = lastBlock;
  }

  private async ensureBlocks(firstBlock: number, lastBlock: number, signal?: AbortSignal): Promise<void> {
    const finalBlock = Math.floor((this.size - 1) / this.blockSize);
    let b = firstBlock;
    while (b <= lastBlock) {
      if (this.blocks.has(b)) {
        b++;
        continue;
      }
      // One request covers the missing run, plus read-ahead when access is sequential.
      const wanted = Math.max(lastBlock - b + 1, this.readAheadBlocks);
      let runEnd = b;
      while (runEnd + 1 <= finalBlock && runEnd + 1 - b < Math.min(wanted, this.maxRequestBlocks) && !this.blocks.has(runEnd + 1)) runEnd++;
      await this.fetchBlocks(b, runEnd, signal);
      b = runEnd + 1;
    }
  }

  private async fetchBlocks(first: number, last: number, signal?: AbortSignal): Promise<void> {
    const start = first * this.blockSize;
    const end = Math.min((last + 1) * this.blockSize, this.size) - 1;
    const data = await this.source.fetch(start, end, signal);
    if (data.length !== end - start + 1) {
      throw new Error(`short ranged read: asked bytes ${start}-${end}, got ${data.length} bytes`);
    }
    this.stats.requests++;
    this.stats.bytesFetched += data.length;
    for (let b = first; b <= last; b++) {
      this.blocks.set(b, data.subarray((b - first) * this.blockSize, (b - first + 1) * this.blockSize));
    }
    while (this.blocks.size > this.maxCachedBlocks) {
      this.blocks.delete(this.blocks.keys().next().value!);
    }
  }

  private touch(block: number): Buffer {
    const data = this.blocks.get(block)!;
    this.blocks.delete(block);
    this.blocks.set(block, data);
    return data;
  }
}
