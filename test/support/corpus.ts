/**
 * Real-world files nobody here made: exiftool's own sample images, kept by the team in
 * ../shared/corpus/ beside the checkout (CI has it there too). `CORPUS_DIR` points elsewhere.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ByteSource } from "../../runtime/metadata/range-reader";

export const EXIFTOOL_CORPUS = process.env.CORPUS_DIR ?? path.resolve(__dirname, "../../../shared/corpus/exiftool-images");

export interface CorpusFile {
  name: string;
  path: string;
  data: Buffer;
}

/** Every sample file (not the README), sorted by name. Fails loudly when the corpus is missing. */
export function exiftoolCorpus(): CorpusFile[] {
  if (!existsSync(EXIFTOOL_CORPUS)) {
    throw new Error(`the real-world corpus is missing at ${EXIFTOOL_CORPUS}: check out ../shared beside the project (or set CORPUS_DIR)`);
  }
  return readdirSync(EXIFTOOL_CORPUS)
    .filter((name) => name !== "README.md")
    .sort()
    .map((name) => ({ name, path: path.join(EXIFTOOL_CORPUS, name), data: readFileSync(path.join(EXIFTOOL_CORPUS, name)) }));
}

/** An in-memory object, served byte-exactly like a ranged GET. */
export const memorySource = (data: Buffer): ByteSource => ({ size: data.length, fetch: async (start, end) => data.subarray(start, end + 1) });

/** mulberry32: a tiny seeded generator, so a failing order or fuzz case can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
