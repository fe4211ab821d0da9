/** Many keys of a table read at once, as DynamoDB allows: the store's items and the similarity index's buckets. */
import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PARTITION_KEY } from "../contract/table";

/** BatchGetItem's most keys a request. */
const BATCH_GET_KEYS = 100;

/**
 * The items of any number of keys of a table (consistent reads), by key: requests of 100 keys at
 * once, each asked again for what DynamoDB left unprocessed (throttling, 16 MB), with a backoff.
 * `attributes`: only these and the key; `consistent: false` reads at half the cost, perhaps a second
 * behind. Also counts the requests (the similarity index's cost).
 */
export async function batchGetAll(
  doc: DynamoDBDocumentClient,
  table: string,
  keys: string[],
  read: { attributes?: string[]; consistent?: boolean } = {},
): Promise<{ items: Map<string, Record<string, unknown>>; requests: number }> {
  const items = new Map<string, Record<string, unknown>>();
  const projection = read.attributes && [PARTITION_KEY, ...read.attributes];
  const names = projection && Object.fromEntries(projection.map((name, i) => [`#a${i}`, name]));
  let requests = 0;
  const unique = [...new Set(keys)];
  await Promise.all(
    Array.from({ length: Math.ceil(unique.length / BATCH_GET_KEYS) }, async (_, chunk) => {
      let pending: Record<string, unknown>[] = unique.slice(chunk * BATCH_GET_KEYS, (chunk + 1) * BATCH_GET_KEYS).map((k) => ({ [PARTITION_KEY]: k }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
        requests++;
        const result = await doc.send(
          new BatchGetCommand({
            RequestItems: {
              [table]: {
                Keys: pending,
                ConsistentRead: read.consistent ?? true,
                ...(names ? { ProjectionExpression: Object.keys(names).join(", "), ExpressionAttributeNames: names } : {}),
              },
            },
          }),
        );
        for (const item of result.Responses?.[table] ?? []) items.set(item[PARTITION_KEY] as string, item);
        pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Record<string, unknown>[];
      }
    }),
  );
  return { items, requests };
}
