import path from "node:path";
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { EXIFTOOL_CORPUS } from "../../fixtures/corpus";
import { PermanentError } from "../../runtime/errors";
import { MemoryBudget } from "../../runtime/memory-budget";
import { renderFromSource } from "../../runtime/render-source";
import { conciseDecoderMessage } from "../../runtime/renditions";

it("keeps each different line of libvips' text once, in order, saying how many more of its kind came", () => {
  const text = ["a: first warning", "a: first warning", "", "  b: bad seek to 1024", "b: bad seek to 768 ", "a: first warning", "c: why it failed"].join("\n");
  expect(conciseDecoderMessage(text)).toBe("a: first warning (and 2 more like it); b: bad seek to 1024 (and 1 more like it); c: why it failed");
  expect(conciseDecoderMessage("Input buffer contains unsupported image format")).toBe("Input buffer contains unsupported image format");
});

it("records a camera RAW that libtiff cannot decode with one line per reason, not 16 lines of warnings", async () => {
  const cr2 = readFileSync(path.join(EXIFTOOL_CORPUS, "CanonRaw.cr2"));
  const rendition = { name: "thumb", width: 256, height: 256, fit: "inside", format: "jpeg", quality: 80 } as const;
  const options = { maxInputPixels: 100_000_000, maxFrames: 1, profile: "none", budget: new MemoryBudget(1024 ** 3, 1024) } as const;
  const failure = await renderFromSource({ input: cr2, renditions: [rendition], options }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(PermanentError);
  const message = (failure as PermanentError).message;
  expect(message).toMatch(/^image could not be decoded: /);
  expect(message).not.toContain("\n");
  const reasons = message.replace(/^image could not be decoded: /, "").split("; ");
  expect(new Set(reasons.map((r) => r.replace(/ \(and \d+ more like it\)$/, ""))).size).toBe(reasons.length);
  expect(message).toContain("requested compression method is not configured");
  expect(message.length).toBeLessThan(400);
});
