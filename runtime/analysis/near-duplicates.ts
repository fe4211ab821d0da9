/**
 * `similar`: up to 10 earlier objects of the tenant whose perceptual hash is within the tenant's
 * distance, found through the index (similar-index.ts) and confirmed against their items.
 *
 * The rule that leaves no phantom behind (docs/metadata.md): when an object's hash stops being
 * current (the key is deleted, overwritten with other bytes, or fails), its processing takes the old
 * hash out of the index and removes the key from the `similar` list of every object that lists it
 * (they are found through the index too, by the old hash). Readers (`npm run similar`, the console)
 * look the index up live, so a list is never the only source.
 */
import { UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PARTITION_KEY } from "../../contract/table";
import { isConditionalCheckFailed } from "../errors";
import type { MetadataStore, ObjectItem } from "../store";
import { SimilarIndex, type SimilarObject } from "./similar-index";

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
    const listing = (await this.index.candidates(phash, MAX_DISTANCE)).filter((c) => c.key !== objectKey);
    if (listing.length === 0) return;
    const items = await this.store.getMany(
      listing.map((c) => c.key),
      ["similar"],
    );
    await Promise.all([...items.values()].map((item) => this.unlink(item, objectKey)));
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
