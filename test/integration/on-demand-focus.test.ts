/**
 * On-demand variants use the focus the upload's analysis stored: a cover preset crops around it
 * (read from the sidecar's head beside the source's GET), an explicit gravity overrides it, a
 * variant asked before the analysis ran is served briefly and never stored, and a tenant that
 * quarantines serves nothing of a quarantined source.
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedPath } from "../../edge/edge";
import { variantsPrefix } from "../../runtime/on-demand/variants";
import { offCentreSubject, subjectShare } from "../../fixtures/images";
import { deliver, notification, startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let sequence = 100;

/** Uploads and delivers its notification, as S3 would. */
async function uploadAndNotify(tenant: string, key: string, body: Buffer): Promise<void> {
  const eTag = await t.upload(tenant, key, body, "image/jpeg");
  deliver(
    t,
    tenant,
    notification(t.platform.tenants.get(tenant)!.sourceBucket, key, "ObjectCreated:Put", String(sequence++).padStart(16, "0"), eTag, body.length),
  );
}

beforeAll(async () => {
  t = await startTestPlatform(
    [
      {
        name: "shop",
        onDemand: {
          enabled: true,
          presets: [
            { name: "square", width: 200, height: 200, fit: "cover", format: "jpeg" },
            { name: "square-centre", width: 200, height: 200, fit: "cover", format: "jpeg", gravity: "centre" },
          ],
          formats: ["jpeg"],
        },
      },
      {
        name: "moderated",
        onDemand: { enabled: true, formats: ["jpeg"], widths: [320] },
        analysis: { rekognition: { moderation: { quarantine: true } } },
      },
    ],
    { notifications: false },
  );
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

function urlFor(tenant: string, variant: string, key: string): string {
  const { endpoint, keys, url } = t.platform.tenants.get(tenant)!.onDemand!;
  return `${url}${signedPath(endpoint.edge, variant, key, Math.floor(Date.now() / 1000) + 600, keys.signingKeyId, keys.keys[keys.signingKeyId]!)}`;
}

async function get(url: string) {
  const response = await fetch(url, { headers: { accept: "image/jpeg" } });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

async function stored(tenant: string, key: string): Promise<number> {
  const listing = await t.platform.clients.s3.send(
    new ListObjectsV2Command({ Bucket: t.platform.tenants.get(tenant)!.proxyBucket, Prefix: variantsPrefix(key) }),
  );
  return listing.KeyCount ?? 0;
}

describe("cover presets on demand", () => {
  const key = "catalogue/edge.jpg";

  it("are served, not stored, before the upload's analysis has run", async () => {
    // Notifications are the test's to deliver: the pipeline has not seen this upload yet.
    const body = await offCentreSubject().jpeg({ quality: 92 }).toBuffer();
    const eTag = await t.upload("shop", "early/edge.jpg", body, "image/jpeg");
    const early = await get(urlFor("shop", "square", "early/edge.jpg"));
    expect(early.status).toBe(200);
    expect(early.headers.get("cache-control")).toBe("public, max-age=60");
    expect(await subjectShare(early.body)).toBe(0); // the centre, for now
    expect(await stored("shop", "early/edge.jpg")).toBe(0);
    // Once processed, the same URL is the crop around the focus, stored for the CDN.
    const { sourceBucket } = t.platform.tenants.get("shop")!;
    deliver(t, "shop", notification(sourceBucket, "early/edge.jpg", "ObjectCreated:Put", "0000000000000001", eTag, body.length));
    await t.drain();
    const later = await get(urlFor("shop", "square", "early/edge.jpg"));
    expect(await subjectShare(later.body)).toBeGreaterThan(0.13);
    expect(await stored("shop", "early/edge.jpg")).toBe(1);
  });

  it("crop around the stored focus once the upload is processed, and an explicit gravity overrides it", async () => {
    await uploadAndNotify("shop", key, await offCentreSubject().jpeg({ quality: 92 }).toBuffer());
    await t.drain();
    expect((await t.item("shop", key))!.focus!.x).toBeGreaterThan(0.5);
    const focused = await get(urlFor("shop", "square", key));
    const centred = await get(urlFor("shop", "square-centre", key));
    expect(focused.status).toBe(200);
    expect(focused.headers.get("cache-control")).toMatch(/s-maxage=/);
    expect(await sharp(focused.body).metadata()).toMatchObject({ width: 200, height: 200 });
    expect(await subjectShare(focused.body)).toBeGreaterThan(0.13);
    expect(await subjectShare(centred.body)).toBe(0);
    expect(await stored("shop", key)).toBe(2);
  });
});

describe("a tenant that quarantines", () => {
  it("serves no variant of a quarantined source, and serves a cleared one", async () => {
    await uploadAndNotify(
      "moderated",
      "flagged.jpg",
      await sharp({ create: { width: 640, height: 480, channels: 3, background: "#ff00ff" } })
        .jpeg()
        .toBuffer(),
    );
    await uploadAndNotify("moderated", "fine.jpg", await offCentreSubject().jpeg().toBuffer());
    await t.drain();
    expect((await t.item("moderated", "flagged.jpg"))!.status).toBe("quarantined");
    const unreviewed = "unreviewed.jpg";
    await t.upload("moderated", unreviewed, await offCentreSubject().jpeg().toBuffer());
    expect((await get(urlFor("moderated", "w320.jpeg", unreviewed))).status).toBe(503);
    const flagged = await get(urlFor("moderated", "w320.jpeg", "flagged.jpg"));
    expect(flagged.status).toBe(451);
    expect(await stored("moderated", "flagged.jpg")).toBe(0);
    const fine = await get(urlFor("moderated", "w320.jpeg", "fine.jpg"));
    expect(fine.status).toBe(200);
    expect((await sharp(fine.body).metadata()).width).toBe(320);
  });
});
