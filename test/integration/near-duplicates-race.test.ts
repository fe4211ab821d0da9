/**
 * The no-phantom rule under the race it must survive: an object N looks up its near-duplicates while
 * one of them, B, is being deleted. Whichever of N's item and B's tombstone is written first, N's
 * list ends without B (near-duplicates.ts: the second unlink pass, and `recheck`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NearDuplicates } from "../../runtime/analysis/near-duplicates";
import { MetadataStore } from "../../runtime/store";
import { startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let store: MetadataStore;
let near: NearDuplicates;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "race" }], { notifications: false });
  store = new MetadataStore(t.platform.clients.dynamo, t.platform.tenants.get("race")!.table);
  near = new NearDuplicates(t.platform.clients.dynamo, store, 12);
});

afterAll(async () => {
  await t?.stop();
});

/** Each case its own pair of hashes one bit apart, far from the other cases' (which stay in the index). */
const HASHES = {
  1: { b: "0f0f0f0f0f0f0f0f", n: "0f0f0f0f0f0f0f0e" },
  2: { b: "f0f0f0f0f0f0f0f0", n: "f0f0f0f0f0f0f0f1" },
  3: { b: "3c3c3c3c3c3c3c3c", n: "3c3c3c3c3c3c3c3d" },
};

/** Writes an item through the store's own claim and finish, as the pipeline does. */
async function write(key: string, sequencer: string, item: Record<string, unknown>): Promise<void> {
  expect((await store.claim(key, sequencer, 60_000, "ObjectCreated:Put")).outcome).toBe("claimed");
  expect(await store.finish({ objectKey: key, sequencer, eventName: "ObjectCreated:Put", status: "done", ...item })).toBeDefined();
}

/** B done and indexed; N claimed, its lookup finds B; then B's deletion claims B and forgets its hash. */
async function lookupRacesDeletion(b: string, n: string, hashes: { b: string; n: string }): Promise<{ similar: { key: string; distance: number }[] }> {
  await write(b, "0001", { phash: hashes.b });
  await near.index.add(b, hashes.b);
  expect((await store.claim(n, "0001", 60_000, "ObjectCreated:Put")).outcome).toBe("claimed");
  const similar = await near.find(n, hashes.n);
  expect(similar).toEqual([{ key: b, distance: 1 }]);
  expect((await store.claim(b, "0002", 60_000, "ObjectRemoved:Delete")).outcome).toBe("claimed");
  await near.forget(b, hashes.b); // before B's tombstone: N's item has no list yet
  return { similar };
}

const tombstone = (key: string) => store.finish({ objectKey: key, sequencer: "0002", eventName: "ObjectRemoved:Delete", status: "deleted" });
const finishN = async (key: string, phash: string, similar: { key: string; distance: number }[]) => {
  expect(await store.finish({ objectKey: key, sequencer: "0001", eventName: "ObjectCreated:Put", status: "done", phash, similar })).toBeDefined();
  await near.index.add(key, phash);
};

describe("a lookup racing a deletion", () => {
  it("leaves no phantom when N's item is written before B's tombstone (B's second unlink pass)", async () => {
    const { similar } = await lookupRacesDeletion("b1.jpg", "n1.jpg", HASHES[1]);
    await finishN("n1.jpg", HASHES[1].n, similar);
    await tombstone("b1.jpg");
    await near.unlinkEverywhere("b1.jpg", HASHES[1].b);
    expect((await store.get("n1.jpg"))!.similar).toEqual([]);
  });

  it("leaves no phantom when N's item is written after B's tombstone (N's recheck)", async () => {
    const { similar } = await lookupRacesDeletion("b2.jpg", "n2.jpg", HASHES[2]);
    await tombstone("b2.jpg");
    await near.unlinkEverywhere("b2.jpg", HASHES[2].b);
    await finishN("n2.jpg", HASHES[2].n, similar);
    expect((await store.get("n2.jpg"))!.similar).toEqual([{ key: "b2.jpg", distance: 1 }]); // the phantom the recheck exists for
    await near.recheck("n2.jpg", HASHES[2].n, similar);
    expect((await store.get("n2.jpg"))!.similar).toEqual([]);
  });

  it("keeps an entry whose object is still done and near, or still being processed", async () => {
    await write("b3.jpg", "0001", { phash: HASHES[3].b });
    await write("n3.jpg", "0001", { phash: HASHES[3].n, similar: [{ key: "b3.jpg", distance: 1 }] });
    await near.recheck("n3.jpg", HASHES[3].n, [{ key: "b3.jpg", distance: 1 }]);
    expect((await store.get("n3.jpg"))!.similar).toEqual([{ key: "b3.jpg", distance: 1 }]);
    expect((await store.claim("b3.jpg", "0002", 60_000, "ObjectCreated:Put")).outcome).toBe("claimed");
    await near.recheck("n3.jpg", HASHES[3].n, [{ key: "b3.jpg", distance: 1 }]);
    expect((await store.get("n3.jpg"))!.similar).toEqual([{ key: "b3.jpg", distance: 1 }]);
  });
});
