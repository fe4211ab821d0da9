/**
 * `similar`: up to 10 earlier objects of the tenant whose perceptual hash is within the tenant's
 * distance, found through the index (similar-index.ts) and confirmed against their items.
 *
 * The rule that leaves no phantom behind (docs/metadata.md): when an object's hash stops being
 * current (the key is deleted, overwritten with other bytes, or fails), its processing takes the old
 * hash out of the index and removes the key from the `similar` list of every object that lists it
 * (they are found through the index too, by the old hash), once before the key's new item is
 * written and once after; an object that listed it meanwhile checks its own list after its item is
 * written (`recheck`). Readers (`npm run similar`, the console) look the index up live.
 */
import { UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PARTITION_KEY } from "../../contract/table";
import { isConditionalCheckFailed } from "../errors";
import type { MetadataStore, ObjectItem } from "../store";
import { SimilarIndex, type SimilarObject } from "./similar-index";
import { hammingDistance } from "./phash";

/** How many near-duplicates an item lists. */
const SIMILAR_LIMIT = 10;
/** The largest distance a tenant may choose (tenant-config.ts): what forgetting a hash looks up. */
const MAX_DISTANCE = 16;

export class NearDuplicates {
  readonly index: SimilarIndex;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly store: MetadataStore,
    private readonly maxDistance: number,
  ) {
    this.index = new SimilarIndex(doc, store.tableName);
  }

  /** Up to `limit` done objects other than `objectKey` within the distance of `phash`, nearest first, confirmed by their items. */
  async find(objectKey: string, phash: string, limit = SIMILAR_LIMIT): Promise<SimilarObject[]> {
    const candidates = (await this.index.candidates(phash, this.maxDistance)).filter((c) => c.key !== objectKey).slice(0, 3 * limit);
    if (candidates.length === 0) return [];
    const items = await this.store.getMany(
      candidates.map((c) => c.key),
      ["status", "phash"],
    );
    const confirmed: SimilarObject[] = [];
    const stale: Promise<void>[] = [];
    for (const candidate of candidates) {
      const item = items.get(candidate.key);
      if (item?.status === "done" && item.phash === candidate.phash) confirmed.push({ key: candidate.key, distance: candidate.distance });
      // Left behind by a crash or a race (see similar-index.ts): repaired now. An item still
      // processing may be about to confirm it, so it stays.
      else if (item?.status !== "processing") stale.push(this.index.remove(candidate.key, candidate.phash));
    }
    await Promise.all(stale);
    return confirmed.slice(0, limit);
  }

  /** The object's `phash` is no longer current: out of the index, and out of every list that names it. */
  async forget(objectKey: string, phash: string): Promise<void> {
    await this.index.remove(objectKey, phash);
    await this.unlinkEverywhere(objectKey, phash);
  }

  /**
   * Out of every list that names the object, found through the index by its old hash. Run by
   * `forget` before the object's new item is written, and again after it: an object whose lookup
   * saw the old hash before it left the index, and whose item was written in between, is caught by
   * the second pass (or by its own `recheck`, if its item came later still).
   */
  async unlinkEverywhere(objectKey: string, phash: string): Promise<void> {
    const listing = (await this.index.candidates(phash, MAX_DISTANCE)).filter((c) => c.key !== objectKey);
    if (listing.length === 0) return;
    const items = await this.store.getMany(
      listing.map((c) => c.key),
      ["similar"],
    );
    await Promise.all([...items.values()].map((item) => this.unlink(item, objectKey)));
  }

  /**
   * After an object's item is written with its `similar` list: entries whose object is neither being
   * processed nor done with a hash still within the distance (deleted, replaced or failed while this
   * object was processed) come out of the list.
   */
  async recheck(objectKey: string, phash: string, listed: readonly SimilarObject[]): Promise<void> {
    if (listed.length === 0) return;
    const items = await this.store.getMany(
      listed.map((entry) => entry.key),
      ["status", "phash"],
    );
    const current = (key: string) => {
      const item = items.get(key);
      return item?.status === "processing" || (item?.status === "done" && !!item.phash && hammingDistance(item.phash, phash) <= this.maxDistance);
    };
    for (const gone of listed.filter((entry) => !current(entry.key))) {
      const self = (await this.store.getMany([objectKey], ["similar"])).get(objectKey);
      if (self) await this.unlink(self, gone.key);
    }
  }

  private async unlink(item: Pick<ObjectItem, "objectKey" | "similar">, objectKey: string): Promise<void> {
    const at = item.similar?.findIndex((entry) => entry.key === objectKey) ?? -1;
    if (at < 0) return;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.store.tableName,
          Key: { [PARTITION_KEY]: item.objectKey },
          UpdateExpression: `REMOVE #similar[${at}]`,
          ConditionExpression: `#similar[${at}].#key = :key`,
          ExpressionAttributeNames: { "#similar": "similar", "#key": "key" },
          ExpressionAttributeValues: { ":key": objectKey },
        }),
      );
    } catch (err) {
      // The list changed meanwhile (the item was redone): it was made from the index, which no
      // longer holds this hash.
      if (!isConditionalCheckFailed(err)) throw err;
    }
  }
}
