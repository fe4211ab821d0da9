/**
 * At-least-once, out-of-order delivery: whatever the order and however often events arrive, the
 * final state matches the newest event by sequencer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { jpegWithExif } from "../../fixtures/images";
import { deliver, notification, permutations, startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let source: string;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "orders" }], { notifications: false });
  source = t.platform.tenants.get("orders")!.sourceBucket;
});

afterAll(async () => {
  await t?.stop();
});

const seq = (n: number) => (0x5f00000000n + BigInt(n)).toString(16).toUpperCase();

describe("duplicates", () => {
  it("a redelivered event changes nothing", async () => {
    const key = "dup/photo.jpg";
    const eTag = await t.upload("orders", key, await jpegWithExif());
    const event = notification(source, key, "ObjectCreated:Put", seq(1), eTag);
    deliver(t, "orders", event);
    await t.drain();
    const first = await t.item("orders", key);
    expect(first).toMatchObject({ status: "done", etag: eTag });
    deliver(t, "orders", event);
    deliver(t, "orders", event);
    await t.drain();
    expect(await t.item("orders", key)).toEqual(first);
    expect(t.outcomes.filter((o) => o.key === key).map((o) => o.status)).toEqual(["done", "skipped", "skipped"]);
  });

  it("an older event arriving after a newer one is ignored, with shorter sequencers padded", async () => {
    const key = "dup/older.jpg";
    const eTag = await t.upload("orders", key, await jpegWithExif());
    deliver(t, "orders", notification(source, key, "ObjectCreated:Put", "0100", eTag));
    await t.drain();
    deliver(t, "orders", notification(source, key, "ObjectRemoved:Delete", "FF"));
    await t.drain();
    expect(await t.item("orders", key)).toMatchObject({ status: "done", sequencer: "0100".padStart(32, "0") });
    expect(await t.proxyObject("orders", renditionKey("thumb", key, "webp"))).toBeDefined();
  });
});

describe("put / put / delete in every order, every event twice", () => {
  const orders = permutations(["put1", "put2", "delete"] as const);

  it.each(orders.map((order, i) => [order.join(" → "), order, i] as const))("%s ends deleted", async (_label, order, i) => {
    const key = `race/${i}/photo.jpg`;
    const eTag1 = await t.upload("orders", key, await jpegWithExif({ width: 300, height: 200 }));
    const eTag2 = await t.upload("orders", key, await jpegWithExif({ width: 200, height: 300 }));
    await t.remove("orders", key);
    const events = {
      put1: notification(source, key, "ObjectCreated:Put", seq(10), eTag1),
      put2: notification(source, key, "ObjectCreated:Put", seq(20), eTag2),
      delete: notification(source, key, "ObjectRemoved:Delete", seq(30)),
    };
    for (const name of [...order, ...order]) deliver(t, "orders", events[name]);
    await t.drain();
    expect(await t.item("orders", key)).toMatchObject({ status: "deleted", sequencer: seq(30).padStart(32, "0") });
    for (const derived of [renditionKey("thumb", key, "webp"), renditionKey("preview", key, "jpeg"), sidecarKey(key)]) {
      expect(await t.proxyObject("orders", derived)).toBeUndefined();
    }
  });

  it.each(permutations(["put1", "put2"] as const).map((order) => [order.join(" → "), order] as const))(
    "%s ends with the second upload",
    async (label, order) => {
      const key = `race/${label.replace(/\W+/g, "-")}/photo.jpg`;
      const eTag1 = await t.upload("orders", key, await jpegWithExif({ width: 300, height: 200 }));
      const eTag2 = await t.upload("orders", key, await jpegWithExif({ width: 200, height: 300 }));
      const events = {
        put1: notification(source, key, "ObjectCreated:Put", seq(10), eTag1),
        put2: notification(source, key, "ObjectCreated:Put", seq(20), eTag2),
      };
      for (const name of [...order, ...order]) deliver(t, "orders", events[name]);
      await t.drain();
      expect(await t.item("orders", key)).toMatchObject({ status: "done", etag: eTag2, width: 200, height: 300 });
    },
  );
});
