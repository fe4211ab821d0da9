/**
 * The tenant's outcome topic (docs/events.md), through fauxqs's SNS with SQS subscriptions and
 * filter policies: exactly one message per final state of a key's version, whatever the delivery
 * (duplicates, reordering, a failed publish and its retry), and filters that select by status.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ListSubscriptionsByTopicCommand, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jpegWithExif } from "../../fixtures/images";
import { FaultProxy } from "../../fixtures/fault-proxy";
import { removeLeftSubscriptions, subscribeOutcomes, type FilterPolicy, type OutcomeSubscription } from "../../local/outcome-subscription";
import type { OutcomeDocument } from "../../runtime/outcome-events";
import { deliver, notification, startTestPlatform, type TestPlatform } from "../support/platform";

const collect = async (subscription: OutcomeSubscription, until: (docs: OutcomeDocument[]) => boolean, quietPolls = 2): Promise<OutcomeDocument[]> => {
  // Every message is published before the drain returns; a few empty polls after that show nothing more comes.
  const docs: OutcomeDocument[] = [];
  let quiet = 0;
  for (let polls = 0; polls < 60 && (quiet < quietPolls || !until(docs)); polls++) {
    const received = await subscription.receive(1);
    docs.push(...received);
    quiet = received.length ? 0 : quiet + 1;
  }
  return docs;
};

describe("outcome events from uploads", () => {
  let t: TestPlatform;
  let all: OutcomeSubscription;
  let failedOnly: OutcomeSubscription;
  let topicArn: string;

  beforeAll(async () => {
    t = await startTestPlatform([{ name: "events" }]);
    topicArn = t.platform.tenants.get("events")!.eventsTopicArn;
    all = await subscribeOutcomes(t.platform.clients, topicArn, { name: "all" });
    failedOnly = await subscribeOutcomes(t.platform.clients, topicArn, { name: "failed", filter: { status: ["failed"] } satisfies FilterPolicy });
  });

  afterAll(async () => {
    await all?.close();
    await failedOnly?.close();
    await t?.stop();
  });

  it("sends one message per final state, and a `status = failed` filter receives exactly the failed uploads", async () => {
    const good = ["mixed/a.jpg", "mixed/b.jpg", "mixed/c.jpg"];
    for (const [i, key] of good.entries()) await t.upload("events", key, await jpegWithExif({ width: 320 + i, height: 240 }));
    await t.upload("events", "mixed/not-a-photo.jpg", Buffer.from("plain text, named like a photo\n"), "image/jpeg");
    await t.upload("events", "mixed/noise.png", Buffer.alloc(4096, 7), "image/png");
    await t.drain();
    await t.remove("events", "mixed/c.jpg");
    await t.drain();

    const failed = await collect(failedOnly, (docs) => docs.length >= 2);
    expect(failed.map((d) => d.key).sort()).toEqual(["mixed/noise.png", "mixed/not-a-photo.jpg"]);
    expect(failed.every((d) => d.status === "failed" && d.error?.code && d.error.retryable === false)).toBe(true);

    const docs = await collect(all, (received) => received.length >= 6);
    const byKey = (key: string) => docs.filter((d) => d.key === key).map((d) => d.status);
    expect(byKey("mixed/a.jpg")).toEqual(["done"]);
    expect(byKey("mixed/b.jpg")).toEqual(["done"]);
    expect(byKey("mixed/c.jpg").sort()).toEqual(["deleted", "done"]);
    expect(byKey("mixed/not-a-photo.jpg")).toEqual(["failed"]);
    expect(byKey("mixed/noise.png")).toEqual(["failed"]);
    expect(docs).toHaveLength(6);
    expect(new Set(docs.map((d) => d.eventId)).size).toBe(6);

    const done = docs.find((d) => d.key === "mixed/a.jpg")!;
    const item = await t.item("events", "mixed/a.jpg");
    const tenant = t.platform.tenants.get("events")!;
    expect(done).toMatchObject({
      schemaVersion: 1,
      eventType: "upload",
      tenant: "events",
      bucket: tenant.sourceBucket,
      key: "mixed/a.jpg",
      eTag: item!.etag,
      sequencer: item!.sequencer,
      status: "done",
      size: item!.size,
      format: "JPEG",
      width: 320,
      height: 240,
      metadata: { bucket: tenant.proxyBucket, key: item!.sidecarKey },
    });
    expect(done.renditions.map((r) => ({ name: r.name, key: r.key, width: r.width, height: r.height, bytes: r.bytes }))).toEqual(
      item!.renditions!.map((r) => ({ name: r.name, key: r.key, width: r.width, height: r.height, bytes: r.bytes })),
    );
    expect(done.renditions.every((r) => r.bucket === tenant.proxyBucket && r.contentType.startsWith("image/"))).toBe(true);
    expect(done.analysis?.thumbhash).toBe(item!.thumbhash);
    expect(docs.find((d) => d.status === "deleted")).toMatchObject({ eventType: "removal", key: "mixed/c.jpg", renditions: [] });
    // Published, then cleared from the item: nothing is owed any more.
    expect(item!.pendingEvents).toBeUndefined();
  });
});

describe("outcome events under duplicate, reordered and failed deliveries", () => {
  let t: TestPlatform;
  let proxy: FaultProxy;
  let all: OutcomeSubscription;
  let source: string;

  beforeAll(async () => {
    proxy = new FaultProxy();
    await proxy.start();
    t = await startTestPlatform([{ name: "replays" }], { notifications: false, runtimeEndpoints: { sns: proxy.url } });
    proxy.upstream = t.platform.endpoints.sqs;
    source = t.platform.tenants.get("replays")!.sourceBucket;
    all = await subscribeOutcomes(t.platform.clients, t.platform.tenants.get("replays")!.eventsTopicArn, { name: "replays" });
  });

  afterAll(async () => {
    await all?.close();
    await t?.stop();
    await proxy?.stop();
  });

  const seq = (n: number) => (0x6a00000000n + BigInt(n)).toString(16).toUpperCase();

  it("duplicates and an older event after a newer one produce one message per final state", async () => {
    const key = "replay/photo.jpg";
    const eTag = await t.upload("replays", key, await jpegWithExif());
    const put = notification(source, key, "ObjectCreated:Put", seq(1), eTag);
    deliver(t, "replays", put);
    deliver(t, "replays", put);
    await t.drain();
    deliver(t, "replays", put);
    await t.remove("replays", key);
    const removal = notification(source, key, "ObjectRemoved:Delete", seq(2));
    deliver(t, "replays", removal);
    deliver(t, "replays", removal);
    await t.drain();
    deliver(t, "replays", put); // older than the removal: stale
    deliver(t, "replays", removal);
    await t.drain();
    const docs = await collect(all, (received) => received.length >= 2);
    expect(docs.map((d) => [d.status, d.sequencer])).toEqual([
      ["done", seq(1).padStart(32, "0")],
      ["deleted", seq(2).padStart(32, "0")],
    ]);
    // Attempts that waited for the key (KeyBusy) are retries, not outcomes.
    const decided = t.outcomes.filter((o) => o.key === key && o.status !== "skipped" && !o.reason?.startsWith("retrying"));
    expect(decided.map((o) => o.status)).toEqual(["done", "deleted"]);
  });

  it("a publish that fails is retried with the message, and subscribers get the outcome once", async () => {
    const key = "replay/unlucky.jpg";
    // Every SDK attempt of the first publish fails (500); the message's redelivery publishes the stored document.
    proxy.add({ name: "sns-down", kind: "s3-internal", times: 4, match: (req) => req.body.toString().includes("Action=Publish") });
    const eTag = await t.upload("replays", key, await jpegWithExif({ width: 200, height: 150 }));
    deliver(t, "replays", notification(source, key, "ObjectCreated:Put", seq(3), eTag));
    await t.drain();
    expect(proxy.injected.get("sns-down")).toBe(4);
    const docs = await collect(all, (received) => received.length >= 1, 3);
    expect(docs.map((d) => [d.key, d.status])).toEqual([[key, "done"]]);
    const outcomes = t.outcomes.filter((o) => o.key === key);
    // The object was done on the first attempt; the retry only published what the first could not.
    expect(outcomes.map((o) => o.status)).toEqual(["failed", "skipped"]);
    expect(outcomes[0]!.code).toBe("EVENT_PUBLISH");
    expect((await t.item("replays", key))?.pendingEvents).toBeUndefined();
  });
});

describe("subscriptions a killed console or upload CLI left behind", () => {
  it("are removed at the next start, with their queues; a tenant application's own and those made since are kept", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "left-subscriptions-"));
    try {
      // A run that dies without closing its subscription (kill -9, a closed terminal).
      const first = await startTestPlatform([{ name: "left" }], { dataDir });
      const topicArn = first.platform.tenants.get("left")!.eventsTopicArn;
      await subscribeOutcomes(first.platform.clients, topicArn, { name: "console-left" });
      const { sqs, sns } = first.platform.clients;
      const appQueue = (await sqs.send(new CreateQueueCommand({ QueueName: "tenant-app" }))).QueueUrl!;
      const appArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: appQueue, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
      await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: appArn }));
      await first.stop();

      const t = await startTestPlatform([{ name: "left" }], { dataDir });
      try {
        const clients = t.platform.clients;
        const endpoints = async () =>
          ((await clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))).Subscriptions ?? []).map((s) =>
            s.Endpoint!.split(":").at(-1)!,
          );
        const before = await endpoints();
        expect(before).toContain("tenant-app");
        expect(before.filter((name) => name.startsWith("console-left-"))).toHaveLength(1);
        // Explicit dates, not the clock's progress: SQS's CreatedTimestamp is in whole seconds.
        expect(await removeLeftSubscriptions(clients, [topicArn], new Date(Date.now() - 3_600_000))).toBe(0); // all made since
        expect(await endpoints()).toEqual(before);
        expect(await removeLeftSubscriptions(clients, [topicArn], new Date(Date.now() + 2_000))).toBe(1);
        expect(await endpoints()).toEqual(["tenant-app"]);
        const leftQueue = before.find((name) => name.startsWith("console-left-"))!;
        await expect(clients.sqs.send(new GetQueueUrlCommand({ QueueName: leftQueue }))).rejects.toThrow();
      } finally {
        await t.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
