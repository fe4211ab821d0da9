/**
 * A bulk change of on-demand sources against CloudFront's invalidation limits: the fake CloudFront
 * on loopback refuses a 16th wildcard path in progress and completes invalidations only when the
 * test says so. Every object must end done whatever CloudFront says; every changed source must
 * be invalidated in the end.
 */
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { invalidationPath } from "../../runtime/on-demand/variants";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const SOURCES = 300;
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform(
    [{ name: "bulk", renditions: [{ name: "thumb", width: 16, format: "jpeg" }], onDemand: { enabled: true, widths: [64], formats: ["jpeg"] } }],
    { cloudfront: { completeAfterMs: "manual" } },
  );
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const tile = (i: number, shade: number) =>
  sharp({ create: { width: 24, height: 24, channels: 3, background: { r: i % 256, g: Math.floor(i / 256), b: shade } } })
    .jpeg()
    .toBuffer();

async function uploadAll(shade: number): Promise<Map<string, string>> {
  const etags = new Map<string, string>();
  for (let i = 0; i < SOURCES; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, SOURCES - i) }, async (_, j) => {
        const key = `bulk/${i + j}.jpg`;
        etags.set(key, await t.upload("bulk", key, await tile(i + j, shade), "image/jpeg"));
      }),
    );
  }
  return etags;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it(`${SOURCES} overwrites of on-demand sources: no object fails, every changed source is invalidated in the end`, async () => {
  const cloudfront = t.platform.cloudfront!;
  const tenant = t.platform.tenants.get("bulk")!;
  const distributionId = tenant.onDemand!.distributionId;
  await uploadAll(0);
  await t.platform.drain(180_000);
  expect(cloudfront.invalidations(distributionId)).toEqual([]); // first uploads owe nothing

  const overwritten = await uploadAll(255);
  await t.platform.drain(180_000, { purges: false });
  const items = await Promise.all([...overwritten.keys()].map((key) => t.item("bulk", key)));
  expect(items.filter((item) => item?.status !== "done" || item.etag !== overwritten.get(item.objectKey))).toEqual([]);
  expect(t.outcomes.filter((o) => o.status === "failed")).toEqual([]);
  expect(await t.deadLetters("bulk")).toEqual([]);

  // 15 wildcard paths in progress hold at most 15 batches of 10 purges: CloudFront must refuse some.
  await until("refused by CloudFront", () => cloudfront.refused() > 0);
  // CloudFront finishes what it has; the refused purges come back and are sent.
  const purgePoller = () =>
    t.platform.drain(1, { purges: true }).then(
      () => true,
      () => false,
    );
  await until("purged", async () => {
    cloudfront.completeAll();
    return purgePoller();
  });

  const paths = cloudfront.invalidations(distributionId).flatMap((i) => i.paths);
  const covered = (path: string) => paths.some((p) => p === path || (p.endsWith("*") && path.startsWith(p.slice(0, -1))));
  expect([...overwritten.keys()].filter((key) => !covered(invalidationPath(key)))).toEqual([]);
  const purgeDeadLetters = await t.platform.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: tenant.purgeDeadLetterQueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
  );
  expect(purgeDeadLetters.Messages ?? []).toEqual([]);
}, 600_000);
