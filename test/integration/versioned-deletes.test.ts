/**
 * Removal events under S3 versioning, as S3 documents them: `ObjectRemoved:Delete` fires when a
 * noncurrent version is deleted (the object is still there) and when the current one is (the
 * previous version becomes current); deleting a delete marker brings the object back with no
 * ObjectCreated event. The emulator has no versioning, so each test puts the bucket in the state S3
 * would be in and delivers the event S3 would send. A removal must decide from that state.
 */
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { MetadataStore } from "../../runtime/store";
import { jpegWithExif } from "../../fixtures/images";
import { deliver, notification, startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let bucket: string;
let sequence = 0;
const nextSequencer = () => (++sequence).toString(16).padStart(16, "0");

beforeAll(async () => {
  t = await startTestPlatform([{ name: "versions" }], { notifications: false });
  bucket = t.platform.tenants.get("versions")!.sourceBucket;
});
afterAll(() => t?.stop());

const v1 = () => jpegWithExif({ width: 1200, height: 800, make: "First", model: "First" });
const v2 = () => jpegWithExif({ width: 600, height: 900, make: "Second", model: "Second" });

/** Puts the bytes without a notification (the bucket's state), then delivers the event S3 would send. */
async function put(key: string, body: Buffer, eventName = "ObjectCreated:Put"): Promise<string> {
  const put = await t.platform.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const eTag = (put.ETag ?? "").replace(/"/g, "");
  if (eventName) await event(key, eventName, eTag, body.length);
  return eTag;
}

async function event(key: string, eventName: string, eTag = "", size = 0): Promise<void> {
  deliver(t, "versions", notification(bucket, key, eventName, nextSequencer(), eTag, size));
  await t.drain();
}

async function outputsOf(key: string): Promise<(Buffer | undefined)[]> {
  return Promise.all([renditionKey("thumb", key, "webp"), renditionKey("preview", key, "jpeg"), sidecarKey(key)].map((k) => t.proxyObject("versions", k)));
}

describe("a removal event decides from what S3 says now", () => {
  it("deleting a noncurrent version leaves the live object's outputs in place", async () => {
    const key = "noncurrent.jpg";
    const eTag = await put(key, await v1());
    // Versioning on: an older version of the key is deleted; the current one is untouched.
    await event(key, "ObjectRemoved:Delete");
    expect(await t.item("versions", key)).toMatchObject({ status: "done", etag: eTag, width: 1200, height: 800 });
    expect((await outputsOf(key)).every(Boolean)).toBe(true);
  });

  it("deleting the current version renders the previous one, which is current again", async () => {
    const key = "current.jpg";
    const first = await v1();
    const firstTag = await put(key, first);
    await put(key, await v2());
    expect(await t.item("versions", key)).toMatchObject({ status: "done", width: 600, camera: "Second" });
    // The current version is deleted: S3 now serves the first version again, and sends only a removal.
    await put(key, first, "");
    await event(key, "ObjectRemoved:Delete");
    expect(await t.item("versions", key)).toMatchObject({ status: "done", etag: firstTag, width: 1200, height: 800, camera: "First" });
    expect(t.outcomes.filter((o) => o.key === key).at(-1)).toMatchObject({ event: "ObjectRemoved:Delete", status: "done" });
    const preview = (await t.item("versions", key))!.renditions!.find((r) => r.name === "preview")!;
    expect([preview.width, preview.height]).toEqual([1024, 683]);
  });

  it("a delete marker tombstones the key; deleting the marker brings the object and its outputs back", async () => {
    const key = "marker.jpg";
    const body = await v1();
    const eTag = await put(key, body);
    await t.platform.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await event(key, "ObjectRemoved:DeleteMarkerCreated");
    const tombstone = (await t.item("versions", key))!;
    expect(tombstone).toMatchObject({ status: "deleted" });
    expect(tombstone.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect((await outputsOf(key)).some(Boolean)).toBe(false);
    // The marker is deleted: the object is current again, and S3 sends ObjectRemoved:Delete.
    await put(key, body, "");
    await event(key, "ObjectRemoved:Delete");
    const item = (await t.item("versions", key))!;
    expect(item).toMatchObject({ status: "done", etag: eTag, camera: "First" });
    expect(item.expiresAt).toBeUndefined();
    expect((await outputsOf(key)).every(Boolean)).toBe(true);
  });

  it("without versioning, a delete removes the object, so the key is tombstoned", async () => {
    const key = "unversioned.jpg";
    await put(key, await v1());
    await t.platform.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await event(key, "ObjectRemoved:Delete");
    expect(await t.item("versions", key)).toMatchObject({ status: "deleted" });
    expect((await outputsOf(key)).some(Boolean)).toBe(false);
  });
});

describe("a tombstone's TTL", () => {
  it("is removed when the key is claimed again, so DynamoDB cannot delete an item being processed", async () => {
    const key = "ttl.jpg";
    await put(key, await v1());
    await t.platform.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await event(key, "ObjectRemoved:Delete");
    expect((await t.item("versions", key))!.expiresAt).toBeDefined();
    const store = new MetadataStore(t.platform.clients.dynamo, t.platform.tenants.get("versions")!.table);
    const claim = await store.claim(key, nextSequencer().padStart(32, "0"), 60_000, "ObjectCreated:Put");
    expect(claim.outcome).toBe("claimed");
    const processing = (await store.get(key))!;
    expect(processing.status).toBe("processing");
    expect(processing.expiresAt).toBeUndefined();
  });
});
