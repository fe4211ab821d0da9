/**
 * exiftool's family-0 group of each tag in a sidecar (File, EXIF, MakerNotes, XMP, IPTC, Composite, ...),
 * so the object page can list the tags as exiftool does. The sidecar holds tags without their groups
 * (the function reads with exiftool-vendored's arguments, which name none), so the console reads the
 * original once more with the same arguments and `-G0`, here on the local machine, and matches each
 * sidecar tag to the group whose value is the one the sidecar kept (a name can occur in several).
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { ExifTool } from "exiftool-vendored";
import { exiftoolReadArgs } from "../../runtime/metadata/extractor";

export class TagGroups {
  private exiftool?: ExifTool;
  /** The read the function makes (runtime/metadata/extractor.ts), with family-0 group names. */
  private readonly readArgs = [...exiftoolReadArgs().filter((arg) => arg !== "-json"), "-G0"];

  /** The group of every tag in `tags`, read from the original's bytes (a stream of them). */
  async of(original: NodeJS.ReadableStream, fileName: string, tags: Record<string, unknown>): Promise<Record<string, string>> {
    const folder = await mkdtemp(path.join(tmpdir(), "console-tags-"));
    try {
      // The original's extension, so exiftool reads it as the function did (it names the format by it where the bytes do not).
      const file = path.join(
        folder,
        `original${path
          .extname(fileName)
          .replace(/[^.\w]/g, "")
          .slice(0, 16)}`,
      );
      await pipeline(original, createWriteStream(file));
      this.exiftool ??= new ExifTool({ maxProcs: 1 });
      const grouped = (await this.exiftool.readRaw(file, { readArgs: this.readArgs })) as Record<string, unknown>;
      const candidates = new Map<string, { group: string; value: string }[]>();
      for (const [qualified, value] of Object.entries(grouped)) {
        // Unqualified names (SourceFile, exiftool-vendored's errors and warnings) are not the file's tags.
        const colon = qualified.indexOf(":");
        if (colon < 0) continue;
        const name = qualified.slice(colon + 1);
        candidates.set(name, [...(candidates.get(name) ?? []), { group: qualified.slice(0, colon), value: JSON.stringify(value) }]);
      }
      const groups: Record<string, string> = {};
      for (const [name, value] of Object.entries(tags)) {
        const found = candidates.get(name);
        if (!found) continue;
        const kept = JSON.stringify(value);
        groups[name] = (found.find((c) => c.value === kept) ?? found[0]!).group;
      }
      return groups;
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await this.exiftool?.end();
  }
}
