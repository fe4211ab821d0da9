/**
 * Zips a directory reproducibly: entries sorted, one fixed timestamp, normalised permissions,
 * symlinks stored as the files they point to. The same tree always gives the same bytes, so
 * Pulumi sees the same hash and publishes nothing new.
 */
import { createHash } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { finished } from "node:stream/promises";
import { ZipFile } from "yazl";

const FIXED_TIME = new Date("2000-01-01T00:00:00Z");

export interface ZipSummary {
  path: string;
  /** Base64 SHA-256 of the zip, the form Lambda's sourceCodeHash takes. */
  sha256: string;
  zippedBytes: number;
  unzippedBytes: number;
  files: number;
}

export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const stat = statSync(full); // follows symlinks
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile()) out.push(path.relative(root, full).split(path.sep).join("/"));
    }
  };
  walk(root);
  return out.sort();
}

export async function zipDirectory(root: string, outFile: string): Promise<ZipSummary> {
  const zip = new ZipFile();
  let unzippedBytes = 0;
  const files = listFiles(root);
  for (const rel of files) {
    const full = path.join(root, rel);
    const stat = statSync(full);
    unzippedBytes += stat.size;
    const executable = (stat.mode & 0o111) !== 0;
    zip.addBuffer(readFileSync(full), rel, { mtime: FIXED_TIME, mode: executable ? 0o100755 : 0o100644, compress: true });
  }
  zip.end();
  const out = createWriteStream(outFile);
  zip.outputStream.pipe(out);
  await finished(out);
  return {
    path: outFile,
    sha256: zipSha256(outFile),
    zippedBytes: statSync(outFile).size,
    unzippedBytes,
    files: files.length,
  };
}

export function zipSha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("base64");
}
