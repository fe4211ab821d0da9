/**
 * The tenant's metadata table as both sides define it: the component creates it in DynamoDB, the
 * local platform in dynalite, from this one description (runtime/store.ts reads and writes it).
 */

export const PARTITION_KEY = "objectKey";

/** The attribute DynamoDB's TTL deletes tombstones by (epoch seconds). */
const TTL_ATTRIBUTE = "expiresAt";

/**
 * A global secondary index of the tenant's items by status and time, so "every failed object since
 * Monday" is a query, not a scan. It projects what a listing shows, not the whole item.
 *
 * Its partition key is the status with a shard (`done#7`), not the status alone: every claim and
 * every finish moves an item between `processing` and `done`, and one GSI partition takes at most
 * 1,000 writes a second (docs/operating.md, "The status index"); a key by time (updatedAt) always
 * writes at the end of its partition, so DynamoDB cannot split it for heat either. Readers query
 * every shard of a status and merge (runtime/store.ts).
 */
export const STATUS_INDEX = {
  name: "byStatusShard",
  hashKey: "statusShard",
  rangeKey: "updatedAt",
  projected: ["status", "error", "size", "format", "eventName", "etag"],
} as const;

/** Shards per status: 10 partitions, 10,000 index writes a second for the status most written. */
export const STATUS_SHARDS = 10;

/** The index key of an item: its status and a shard fixed by its key (FNV-1a), so an item keeps its shard. */
export function statusShard(status: string, objectKey: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < objectKey.length; i++) hash = Math.imul(hash ^ objectKey.charCodeAt(i), 0x01000193) >>> 0;
  return `${status}#${hash % STATUS_SHARDS}`;
}

/** Every index key of a status, one per shard. */
export function statusShards(status: string): string[] {
  return Array.from({ length: STATUS_SHARDS }, (_, shard) => `${status}#${shard}`);
}

interface IndexDefinition {
  name: string;
  hashKey: string;
  rangeKey?: string;
  projectionType: "ALL" | "KEYS_ONLY" | "INCLUDE";
  nonKeyAttributes?: string[];
}

export interface TableDefinition {
  hashKey: string;
  /** Every key attribute of the table and its indexes, all strings. */
  attributes: { name: string; type: "S" | "N" | "B" }[];
  globalSecondaryIndexes: IndexDefinition[];
  ttlAttribute: string;
}

export const METADATA_TABLE: TableDefinition = {
  hashKey: PARTITION_KEY,
  attributes: [
    { name: PARTITION_KEY, type: "S" },
    { name: STATUS_INDEX.hashKey, type: "S" },
    { name: STATUS_INDEX.rangeKey, type: "S" },
  ],
  globalSecondaryIndexes: [
    {
      name: STATUS_INDEX.name,
      hashKey: STATUS_INDEX.hashKey,
      rangeKey: STATUS_INDEX.rangeKey,
      projectionType: "INCLUDE",
      nonKeyAttributes: [...STATUS_INDEX.projected],
    },
  ],
  ttlAttribute: TTL_ATTRIBUTE,
};
