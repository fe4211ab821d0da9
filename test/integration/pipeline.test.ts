/**
 * Uploads through the local platform: emulated S3 -> notification -> SQS -> poller -> the Lambda
 * handler -> emulated S3 + DynamoDB, with real exiftool and sharp.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { bigTiff, jpegWithExif, pdf, png, truncatedJpeg, webp } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform([
    { name: "alpha" },
    {
      name: "beta",
      metadata: { keepGps: true },
      renditions: [
        { name: "thumb", width: 128, height: 128, fit: "cover", format: "webp", quality: 70 },
        { name: "wide", width: 800, format: "avif", quality: 50 },
        { name: "lossless", width: 300, format: "png" },
      ],
    },
  ]);
});

afterAll(async () => {
  await t?.stop();
});

const GPS = { latitude: -33.8568, longitude: 151.2153 };

describe("a JPEG with EXIF", () => {
  const key = "photos/2024/holiday shot.jpg";
  let source: Buffer;

  beforeAll(async () => {
    source = await jpegWithExif({ width: 3000, height: 2000, orientation: 6, gps: GPS, dateTimeOriginal: "2024:05:06 07:08:09" });
    await t.upload("alpha", key, source, "image/jpeg");
    await t.upload("beta", key, source, "image/jpeg");
    await t.drain();
  });

  it("ends done with its metadata in the table", async () => {
    const item = await t.item("alpha", key);
    expect(item).toMatchObject({
      status: "done",
      size: source.length,
      contentType: "image/jpeg",
      format: "JPEG",
      mimeType: "image/jpeg",
      orientation: 6,
      camera: "Acme Cam 1",
      width: 2000,
      height: 3000,
      metadataMethod: "ranged",
    });
    expect(item!.capturedAt).toMatch(/^2024-05-06T07:08:09/);
    expect(item!.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(item!.metadataRequests).toBe(1);
    expect(item!.metadataBytesRead).toBeLessThanOrEqual(64 * 1024);
    expect(item!.durationsMs!.total).toBeGreaterThan(0);
  });

  it("keeps GPS in the table only for the tenant that asks for it", async () => {
    expect((await t.item("alpha", key))!.gps).toBeUndefined();
    const gps = (await t.item("beta", key))!.gps!;
    expect(gps.latitude).toBeCloseTo(GPS.latitude, 3);
    expect(gps.longitude).toBeCloseTo(GPS.longitude, 3);
  });

  it("writes upright renditions of the configured sizes and formats, without EXIF or GPS", async () => {
    const item = await t.item("alpha", key);
    expect(item!.renditions!.map((r) => r.key)).toEqual([renditionKey("thumb", key, "webp"), renditionKey("preview", key, "jpeg")]);
    const thumb = await sharp(await t.proxyObject("alpha", "thumb/photos/2024/holiday shot.jpg.webp")).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(["webp", 256, 256]);
    const previewBody = (await t.proxyObject("alpha", "preview/photos/2024/holiday shot.jpg.jpg"))!;
    const preview = await sharp(previewBody).metadata();
    // 3000x2000 stored with orientation 6 is a 2000x3000 portrait photo.
    expect([preview.format, preview.width, preview.height]).toEqual(["jpeg", 683, 1024]);
    expect(preview.exif).toBeUndefined();
    expect(preview.orientation).toBeUndefined();
    expect(previewBody.includes(Buffer.from("GPS"))).toBe(false);
    // Red grows left to right in the stored pixels; turned 90° clockwise it grows top to bottom.
    const { data, info } = await sharp(previewBody).raw().toBuffer({ resolveWithObject: true });
    const red = (x: number, y: number) => data[(y * info.width + x) * info.channels]!;
    expect(red(info.width >> 1, info.height - 5) - red(info.width >> 1, 5)).toBeGreaterThan(150);
    expect(Math.abs(red(info.width - 5, info.height >> 1) - red(5, info.height >> 1))).toBeLessThan(20);
    for (const r of item!.renditions!) expect(r.bytes).toBeGreaterThan(0);
  });

  it("honours each tenant's rendition set", async () => {
    const item = await t.item("beta", key);
    expect(item!.renditions!.map((r) => [r.name, r.format, r.width, r.height])).toEqual([
      ["thumb", "webp", 128, 128],
      ["wide", "avif", 800, 1200],
      ["lossless", "png", 300, 450],
    ]);
    const wide = await sharp(await t.proxyObject("beta", renditionKey("wide", key, "avif"))).metadata();
    expect(wide.format).toBe("heif");
    expect(wide.compression).toBe("av1");
  });

  it("stores the full exiftool output as a sidecar, without the handle's File* tags", async () => {
    const sidecar = JSON.parse((await t.proxyObject("beta", sidecarKey(key)))!.toString("utf8"));
    expect(sidecar).toMatchObject({ sourceKey: key, size: source.length, method: "ranged" });
    expect(sidecar.tags).toMatchObject({ Make: "Acme", Model: "Acme Cam 1", Orientation: 6, MIMEType: "image/jpeg" });
    expect(sidecar.tags.GPSLatitude).toBeCloseTo(GPS.latitude, 3);
    for (const handleTag of ["FileName", "Directory", "FileSize", "FileModifyDate", "SourceFile"]) expect(sidecar.tags).not.toHaveProperty(handleTag);
  });

  it("leaves location out of the sidecar of a tenant that does not keep GPS", async () => {
    const sidecar = JSON.parse((await t.proxyObject("alpha", sidecarKey(key)))!.toString("utf8"));
    expect(sidecar.tags).toMatchObject({ Make: "Acme", Orientation: 6 });
    expect(Object.keys(sidecar.tags).filter((name) => /^(GPS|Geolocation)/.test(name))).toEqual([]);
    expect(JSON.stringify(sidecar)).not.toContain("33.85");
  });

  it("sets content type and cache control on renditions", async () => {
    const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
    const head = await t.platform.clients.s3.send(
      new HeadObjectCommand({ Bucket: t.platform.tenants.get("alpha")!.proxyBucket, Key: renditionKey("thumb", key, "webp") }),
    );
    expect(head.ContentType).toBe("image/webp");
    expect(head.CacheControl).toBe("public, max-age=86400");
  });
});

describe("other formats", () => {
  it("renders PNG and WebP sources", async () => {
    await t.upload("alpha", "img/a.png", await png(800, 400));
    await t.upload("alpha", "img/b.webp", await webp(500, 1000));
    await t.drain();
    const a = await t.item("alpha", "img/a.png");
    const b = await t.item("alpha", "img/b.webp");
    expect(a).toMatchObject({ status: "done", format: "PNG", width: 800, height: 400 });
    expect(b).toMatchObject({ status: "done", format: "WEBP", width: 500, height: 1000 });
    // Never enlarged: the 1024 box leaves a 500x1000 source as it is.
    expect(b!.renditions!.find((r) => r.name === "preview")).toMatchObject({ width: 500, height: 1000 });
    expect(b!.renditions!.find((r) => r.name === "thumb")).toMatchObject({ width: 256, height: 256 });
  });

  it("reads a large TIFF's metadata with a tiny fraction of its bytes", async () => {
    const tiff = await bigTiff(5000, 4000); // 60 MB uncompressed
    expect(tiff.length).toBeGreaterThan(50 * 1024 * 1024);
    await t.upload("alpha", "scans/big.tif", tiff, "image/tiff");
    await t.drain();
    const item = await t.item("alpha", "scans/big.tif");
    expect(item).toMatchObject({ status: "done", format: "TIFF", width: 5000, height: 4000 });
    expect(item!.metadataBytesRead).toBeLessThanOrEqual(tiff.length * 0.01);
    expect(item!.renditions).toHaveLength(2);
  });

  it("keeps a PDF's metadata and skips renditions with a reason", async () => {
    await t.upload("alpha", "docs/report.pdf", pdf("Quarterly report"), "application/pdf");
    await t.drain();
    const item = await t.item("alpha", "docs/report.pdf");
    expect(item).toMatchObject({
      status: "done",
      format: "PDF",
      mimeType: "application/pdf",
      renditions: [],
      renditionsSkipped: "not an image (application/pdf)",
    });
    const sidecar = JSON.parse((await t.proxyObject("alpha", sidecarKey("docs/report.pdf")))!.toString());
    expect(sidecar.tags.Title).toBe("Quarterly report");
  });

  it("records a corrupt image as failed, once, without retrying", async () => {
    await t.upload("alpha", "bad/truncated.jpg", await truncatedJpeg());
    await t.drain();
    const item = await t.item("alpha", "bad/truncated.jpg");
    expect(item).toMatchObject({ status: "failed", error: { code: "CORRUPT_IMAGE", retryable: false, attempts: 1 } });
    expect(item!.error!.message).toMatch(/could not be decoded/);
    expect(await t.proxyObject("alpha", renditionKey("thumb", "bad/truncated.jpg", "webp"))).toBeUndefined();
    expect(t.outcomes.filter((o) => o.key === "bad/truncated.jpg")).toHaveLength(1);
  });

  it("records random bytes as an unsupported format", async () => {
    const noise = Buffer.alloc(5000);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    await t.upload("alpha", "bad/noise.bin", noise);
    await t.drain();
    expect(await t.item("alpha", "bad/noise.bin")).toMatchObject({ status: "failed", error: { code: "UNSUPPORTED_FORMAT" } });
  });
});

describe("keys", () => {
  const keys = ["with space/my photo.jpg", "plus+sign.jpg", "100% real.jpg", "unicode/café-写真.jpg", "a/b/c/d/e/f/g/h/deep.jpg", "a/x.jpg", "b/x.jpg"];

  it("are decoded and used in full, so folders never collide", async () => {
    const image = await jpegWithExif({ width: 300, height: 200 });
    for (const key of keys) await t.upload("alpha", key, image);
    await t.drain();
    for (const key of keys) {
      const item = await t.item("alpha", key);
      expect(item, key).toMatchObject({ status: "done", objectKey: key });
      expect(await t.proxyObject("alpha", renditionKey("thumb", key, "webp")), key).toBeDefined();
    }
  });
});

describe("deletes", () => {
  it("remove renditions and sidecar and leave a tombstone with a TTL", async () => {
    const key = "to-delete/photo.jpg";
    await t.upload("alpha", key, await jpegWithExif());
    await t.drain();
    expect(await t.proxyObject("alpha", renditionKey("preview", key, "jpeg"))).toBeDefined();
    await t.remove("alpha", key);
    await t.drain();
    const item = await t.item("alpha", key);
    expect(item).toMatchObject({ status: "deleted" });
    expect(item!.expiresAt).toBeGreaterThan(Date.now() / 1000 + 29 * 86_400);
    for (const derived of [renditionKey("preview", key, "jpeg"), renditionKey("thumb", key, "webp"), sidecarKey(key)]) {
      expect(await t.proxyObject("alpha", derived)).toBeUndefined();
    }
  });

  it("a re-upload after a delete is processed again", async () => {
    const key = "to-delete/again.jpg";
    await t.upload("alpha", key, await jpegWithExif());
    await t.drain();
    await t.remove("alpha", key);
    await t.drain();
    await t.upload("alpha", key, await jpegWithExif({ width: 400, height: 400 }));
    await t.drain();
    expect(await t.item("alpha", key)).toMatchObject({ status: "done", width: 400 });
  });
});
