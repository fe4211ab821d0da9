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
 */
export const STATUS_INDEX = {
  name: "byStatus",
  hashKey: "status",
  rangeKey: "updatedAt",
  projected: ["error", "size", "format", "eventName", "etag"],
} as const;

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
