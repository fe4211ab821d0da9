/**
 * The processor downloads and renders an object that promises an image (by its name or its
 * Content-Type) while exiftool reads its metadata by ranges, instead of after it; exiftool's answer
 * still decides what the object is. Ordering is proven by holding requests, never by timing: the
 * metadata's ranged GETs are held until the whole object's GET has arrived, which only happens if
 * the download does not wait for the metadata (a sequential pipeline is released by a fallback and
 * then fails the ordering assertions).
 */
import { mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JournalEntry } from "../../fixtures/fault-proxy";
import { jpegWithExif, pdf, rawWithPreview } from "../../fixtures/images";
import { renditionKey } from "../../runtime/keys";
import { startFaultyPlatform, type FaultyPlatform } from "../support/faulty-platform";

let f: FaultyPlatform;
const spoolDir = mkdtempSync(path.join(os.tmpdir(), "early-spool-"));
/** Keys whose ranged GETs are held until their whole-object GET arrives. */
const held = new Map<string, { seen: () => void; until: Promise<unknown> }>();
/** Releases a held request even when the whole GET never comes (a sequential pipeline), so that the test fails instead of hanging. */
const FALLBACK_MS = 8_000;

function holdMetadataOf(sourcePath: string) {
  let seen!: () => void;
  const arrived = new Promise<void>((resolve) => (seen = resolve));
  held.set(sourcePath, { seen, until: Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, FALLBACK_MS))]) });
}

beforeAll(async () => {
  f = await startFaultyPlatform(
    [{ name: "early" }],
    (s3) => {
      // Sees every whole-object GET first (matches nothing itself), then holds the held keys' ranged GETs.
      s3.add({
        name: "whole GET seen",
        kind: "hold",
        match: (r) => {
          if (r.method === "GET" && !r.headers.range) held.get(r.path)?.seen();
          return false;
        },
      });
      s3.add({
        name: "metadata held",
        kind: "hold",
        match: (r) => r.method === "GET" && !!r.headers.range && held.has(r.path),
        // One promise per key; the proxy takes the rule's `until`, so the rule reads the key's at match time.
        get until() {
          return Promise.all([...held.values()].map((h) => h.until));
        },
      });
    },
    { maxAttempts: 2, requestTimeoutMs: 30_000 },
    { extraEnv: { SPOOL_DIR: spoolDir } },
  );
  f.s3.journal = [];
});

afterAll(async () => {
  await f?.stop();
});

const tenant = () => f.t.platform.tenants.get("early")!;
const sourcePath = (key: string) => `/${tenant().sourceBucket}/${key}`;
/** The key's source GETs in the proxy's journal: 200 for the whole object, 206 for a range. */
const sourceGets = (key: string): JournalEntry[] => f.s3.journal!.filter((e) => e.method === "GET" && e.path === sourcePath(key));

async function processed(key: string, body: Buffer, contentType: string) {
  await f.t.upload("early", key, body, contentType);
  await f.t.drain();
  return f.t.item("early", key);
}

describe("an object that promises an image", () => {
  it("is downloaded and rendered while exiftool still reads its metadata, in one download", async () => {
    const key = "photos/early.jpg";
    holdMetadataOf(sourcePath(key));
    const item = await processed(key, await jpegWithExif({ width: 1600, height: 1200, orientation: 6 }), "image/jpeg");
    expect(item).toMatchObject({ status: "done", format: "JPEG", width: 1200, height: 1600, metadataMethod: "ranged" });
    expect(item!.renditions!.map((r) => [r.name, r.width, r.height])).toEqual([
      ["thumb", 256, 256],
      ["preview", 768, 1024],
    ]);
    const gets = sourceGets(key);
    const whole = gets.filter((e) => e.status === 200);
    const ranges = gets.filter((e) => e.status === 206);
    expect(whole).toHaveLength(1);
    expect(ranges.length).toBeGreaterThan(0);
    // The whole object was asked for before the metadata's first range was answered.
    expect(whole[0]!.startMs).toBeLessThanOrEqual(Math.min(...ranges.map((e) => e.endMs)));
  });

  it("that sharp cannot decode is rendered from its RAW preview once exiftool names it, from the same download", async () => {
    const key = "raw/early.dng";
    holdMetadataOf(sourcePath(key));
    const item = await processed(key, await rawWithPreview("#00ff00"), "image/x-adobe-dng");
    expect(item).toMatchObject({ status: "done", format: "DNG", width: 600, height: 400 });
    const { data, info } = await sharp(await f.t.proxyObject("early", renditionKey("preview", key, "jpeg")))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([300, 200]);
    expect(data[1]).toBeGreaterThan(200); // the green preview's pixels
    expect(sourceGets(key).filter((e) => e.status === 200)).toHaveLength(1);
  });

  it("that exiftool says is no image fails as before, and leaves no spooled copy behind", async () => {
    // Above the 16 MB spool threshold: the early download goes to a file, which the failure must remove.
    const key = "big/not-an-image.jpg";
    const item = await processed(key, Buffer.alloc(17 * 1024 * 1024, 0x5a), "image/jpeg");
    expect(item).toMatchObject({ status: "failed", error: { code: "UNSUPPORTED_FORMAT" } });
    expect(item!.error!.message).toMatch(/the name says \.jpg but the content is text\/plain, not an image/);
    expect(sourceGets(key).filter((e) => e.status === 200)).toHaveLength(1);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it("named .jpg but holding a PDF fails with what exiftool found", async () => {
    const key = "docs/report.jpg";
    const item = await processed(key, pdf(), "image/jpeg");
    expect(item).toMatchObject({ status: "failed", format: "PDF", error: { code: "UNSUPPORTED_FORMAT" } });
    expect(item!.error!.message).toMatch(/the name says \.jpg but the content is application\/pdf/);
  });
});

describe("an object that does not promise an image", () => {
  it("is never downloaded whole: its metadata is read by ranges and nothing else", async () => {
    const key = "docs/report.pdf";
    const item = await processed(key, pdf(), "application/pdf");
    expect(item).toMatchObject({ status: "done", format: "PDF", renditionsSkipped: "not an image (application/pdf)" });
    const gets = sourceGets(key);
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((e) => e.status === 206)).toBe(true);
  });
});
