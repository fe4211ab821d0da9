/**
 * Amazon Rekognition at upload, for a tenant that opts in, against the fake on loopback
 * (local/fake-rekognition.ts) with the real SDK: faces become the focus, labels and moderation
 * labels are kept, a flagged image is quarantined (metadata kept, no renditions), and throttling
 * and timeouts are transient. A tenant that does not opt in never calls it.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { SUBJECT_RGB, subjectShare } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";
import { subscribeOutcomes } from "../../local/outcome-subscription";

let t: TestPlatform;
const calls = () => t.platform.rekognition!.calls;

beforeAll(async () => {
  t = await startTestPlatform(
    [
      {
        name: "seen",
        renditions: [
          { name: "square", width: 200, height: 200, fit: "cover", format: "jpeg", quality: 90 },
          { name: "small", width: 320, format: "webp" },
        ],
        analysis: { rekognition: { faces: true, labels: true, moderation: { quarantine: true } } },
      },
      { name: "unseen", renditions: [{ name: "small", width: 320, format: "webp" }] },
    ],
    // One SDK attempt: a throttled or held call reaches the pipeline's own classification.
    { runtimeClientOptions: { maxAttempts: 1, requestTimeoutMs: 5_000 } },
  );
});

afterAll(async () => {
  await t?.stop();
});

/**
 * A face (skin-toned, at the left edge) and, at the right edge, a saturated, detailed object that
 * libvips' attention prefers: the faces decide the focus when Rekognition finds them.
 */
async function faceAndDistraction(): Promise<Buffer> {
  const face = await sharp({ create: { width: 140, height: 180, channels: 3, background: { r: SUBJECT_RGB[0], g: SUBJECT_RGB[1], b: SUBJECT_RGB[2] } } })
    .png()
    .toBuffer();
  const stripes = Buffer.alloc(200 * 400 * 3);
  for (let i = 0; i < 200 * 400; i++) stripes.set((i % 200) % 8 < 4 ? [255, 0, 0] : [0, 255, 0], i * 3);
  const distraction = await sharp(stripes, { raw: { width: 200, height: 400, channels: 3 } })
    .png()
    .toBuffer();
  return sharp({ create: { width: 1200, height: 600, channels: 3, background: "#55606a" } })
    .composite([
      { input: face, left: 40, top: 200 },
      { input: distraction, left: 960, top: 100 },
    ])
    .jpeg({ quality: 92 })
    .toBuffer();
}

const magenta = () =>
  sharp({ create: { width: 640, height: 480, channels: 3, background: "#ff00ff" } })
    .jpeg()
    .toBuffer();

describe("a tenant that opts in", () => {
  it("puts the faces in the focus, keeps the labels, and crops around the face", async () => {
    const before = calls().length;
    await t.upload("seen", "people/one.jpg", await faceAndDistraction(), "image/jpeg");
    await t.drain();
    const item = (await t.item("seen", "people/one.jpg"))!;
    expect(item.error).toBeUndefined();
    expect(item.status).toBe("done");
    expect(item.faces).toBe(1);
    expect(item.focus).toMatchObject({ source: "faces" });
    // The face is at x 40-180 of 1200, y 200-380 of 600.
    expect(item.focus!.x).toBeCloseTo(40 / 1200, 1);
    expect(item.focus!.x + item.focus!.width).toBeCloseTo(180 / 1200, 1);
    expect(item.focus!.y).toBeCloseTo(200 / 600, 1);
    expect(item.labels).toEqual([{ name: "Person", confidence: 98.7 }]);
    expect(item.moderation).toEqual([]);
    // One call per asked API, on a JPEG no larger than the limits allow.
    const made = calls().slice(before);
    expect(made.map((c) => c.operation).sort()).toEqual(["DetectFaces", "DetectLabels", "DetectModerationLabels"]);
    for (const call of made) {
      expect(call.status).toBe(200);
      expect(call.bytes).toBeLessThan(5 * 1024 * 1024);
      expect(Math.max(call.width, call.height)).toBe(1200); // never enlarged past the source
    }
    const square = (await t.proxyObject("seen", renditionKey("square", "people/one.jpg", "jpeg")))!;
    // The whole face: 140 x 180 of 1200 x 600, resized to cover 200 x 200 (400 x 200): 7% of the square; a centre crop has none.
    expect(await subjectShare(square, 30)).toBeGreaterThan(0.06);
  });

  it("quarantines an image with moderation labels: metadata and analysis kept, no renditions", async () => {
    const quarantines = await subscribeOutcomes(t.platform.clients, t.platform.tenants.get("seen")!.eventsTopicArn, {
      name: "quarantines",
      filter: { status: ["quarantined"] },
    });
    await t.upload("seen", "flagged.jpg", await magenta(), "image/jpeg");
    await t.drain();
    // One message, with its labels, to a subscriber that filters on the status.
    const announced = [...(await quarantines.receive(1)), ...(await quarantines.receive(1))];
    await quarantines.close();
    expect(announced.map((d) => [d.key, d.status, d.renditions.length])).toEqual([["flagged.jpg", "quarantined", 0]]);
    expect(announced[0]!.analysis?.moderation).toEqual([{ name: "Explicit", parentName: "", confidence: 97.5 }]);
    const item = (await t.item("seen", "flagged.jpg"))!;
    expect(item).toMatchObject({ status: "quarantined", format: "JPEG", width: 640, height: 480, renditions: [] });
    expect(item.moderation).toEqual([{ name: "Explicit", parentName: "", confidence: 97.5 }]);
    expect(item.thumbhash).toBeDefined();
    expect(item.similar).toBeUndefined();
    expect(await t.proxyObject("seen", renditionKey("small", "flagged.jpg", "webp"))).toBeUndefined();
    expect(await t.proxyObject("seen", sidecarKey("flagged.jpg"))).toBeDefined();
    expect(t.outcomes.find((o) => o.key === "flagged.jpg")).toMatchObject({ status: "quarantined", reason: expect.stringMatching(/Explicit \(97.5%\)/) });
  });

  it("retries a throttled call, and a call that times out, as it retries S3", async () => {
    const rekognition = t.platform.rekognition!;
    rekognition.failNext(1); // ProvisionedThroughputExceededException
    await t.upload("seen", "throttled.jpg", await faceAndDistraction(), "image/jpeg");
    await t.drain();
    expect((await t.item("seen", "throttled.jpg"))!.status).toBe("done");
    expect(calls().some((c) => c.status === 400)).toBe(true);

    const hold = rekognition.holdNext(1);
    await t.upload("seen", "slow.jpg", await faceAndDistraction(), "image/jpeg");
    await t.drain();
    // Still held when the object is done: the client gave up on it and retried.
    expect(calls().filter((c) => c.status === undefined)).toHaveLength(1);
    hold.release();
    const item = (await t.item("seen", "slow.jpg"))!;
    expect(item.status).toBe("done");
    expect(item.faces).toBe(1);
    // Each failed once (a transient failure, retried), then ended done.
    for (const key of ["throttled.jpg", "slow.jpg"]) {
      const outcomes = t.outcomes.filter((o) => o.key === key);
      expect(outcomes.at(-1)!.status, key).toBe("done");
      expect(outcomes.filter((o) => o.status === "failed").length, key).toBe(1);
    }
  });
});

describe("a tenant that does not opt in", () => {
  it("never calls Rekognition and keeps the saliency focus", async () => {
    const before = calls().length;
    await t.upload("unseen", "people/one.jpg", await faceAndDistraction(), "image/jpeg");
    await t.drain();
    const item = (await t.item("unseen", "people/one.jpg"))!;
    expect(item.focus).toMatchObject({ source: "saliency" });
    expect(item.labels).toBeUndefined();
    expect(calls().length).toBe(before);
  });
});
