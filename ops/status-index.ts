/**
 * Gives every item of a tenant's table its status index key (contract/table.ts statusShard): items
 * written before the index was sharded have none, so DynamoDB leaves them out of the new index, and
 * `failures` and `reprocess` would not see them. One Scan of the items without it, then one
 * conditional update each (on the status the scan saw: an item the pipeline rewrote meanwhile got
 * its key from the pipeline). Idempotent: a second run finds nothing to do.
 */
import { ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PARTITION_KEY, STATUS_INDEX, statusShard } from "../contract/table";
import { isConditionalCheckFailed } from "../runtime/errors";

export async function backfillStatusShards(doc: DynamoDBDocumentClient, table: string): Promise<{ updated: number; changedMeanwhile: number }> {
  let updated = 0;
  let changedMeanwhile = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "attribute_exists(#status) AND attribute_not_exists(#shard)",
        ProjectionExpression: "#key, #status",
        ExpressionAttributeNames: { "#key": PARTITION_KEY, "#status": "status", "#shard": STATUS_INDEX.hashKey },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of (page.Items ?? []) as { objectKey: string; status: string }[]) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [PARTITION_KEY]: item.objectKey },
            UpdateExpression: "SET #shard = :shard",
            ConditionExpression: "#status = :status AND attribute_not_exists(#shard)",
            ExpressionAttributeNames: { "#status": "status", "#shard": STATUS_INDEX.hashKey },
            ExpressionAttributeValues: { ":status": item.status, ":shard": statusShard(item.status, item.objectKey) },
          }),
        );
        updated++;
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        changedMeanwhile++;
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return { updated, changedMeanwhile };
}
