/**
 * The tenant's metadata table: one item per source object key, moved through its lifecycle with
 * conditional writes on the event's sequencer.
 *
 *   claim     -> status "processing", sequencer = event's, lease until now + lease. Allowed when the
 *                key is new, when our event is newer than the item and nobody holds a live lease, or
 *                when our own event's earlier attempt died (lease expired) or gave up retrying.
 *   complete  -> "done" | fail -> "failed" | tombstone -> "deleted" (with TTL), each only while the
 *                item still carries our sequencer, so an older event can never overwrite newer state.
 *
 * A newer event that finds a live lease waits (KeyBusyError, retried through the queue), so events
 * of one key are processed one at a time and the newest one always runs last.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PARTITION_KEY, STATUS_INDEX, statusShard, statusShards } from "../contract/table";
import { isConditionalCheckFailed, KeyBusyError } from "./errors";
import { batchGetAll } from "./batch-get";
import type { Focus } from "./analysis/focus";
import type { Label, ModerationLabel } from "./analysis/rekognition";
import type { SimilarObject } from "./analysis/similar-index";

/** Where a listing of the status index stands: the item last listed, in the listing's order (updatedAt, then key). */
export type StatusIndexKey = Pick<ObjectItem, "objectKey" | "status" | "updatedAt">;

/** Oldest first, then by key: the order of itemsByStatus, whichever shard an item is in. */
const byTimeThenKey = (a: Pick<ObjectItem, "updatedAt" | "objectKey">, b: Pick<ObjectItem, "updatedAt" | "objectKey">) =>
  a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : a.objectKey < b.objectKey ? -1 : a.objectKey > b.objectKey ? 1 : 0;

export function statusIndexKey(item: ObjectItem): StatusIndexKey {
  return { objectKey: item.objectKey, status: item.status, updatedAt: item.updatedAt };
}

/** `quarantined`: Rekognition's moderation labels withheld the renditions (metadata and analysis kept). */
export type ItemStatus = "processing" | "done" | "failed" | "deleted" | "quarantined";

export interface RenditionRecord {
  name: string;
  key: string;
  width: number;
  height: number;
  bytes: number;
  format: string;
}

export interface ObjectItem {
  objectKey: string;
  status: ItemStatus;
  sequencer: string;
  updatedAt: string;
  leaseUntil?: number;
  eventName?: string;
  size?: number;
  etag?: string;
  versionId?: string;
  contentType?: string;
  width?: number;
  height?: number;
  format?: string;
  mimeType?: string;
  orientation?: number;
  capturedAt?: string;
  camera?: string;
  gps?: { latitude: number; longitude: number; altitude?: number };
  renditions?: RenditionRecord[];
  renditionsSkipped?: string;
  sidecarKey?: string;
  metadataMethod?: string;
  metadataBytesRead?: number;
  metadataRequests?: number;
  durationsMs?: Record<string, number>;
  error?: { code: string; message: string; retryable?: boolean; attempts?: number };
  expiresAt?: number;
  /** outputConfigHash of the config the outputs were made with (absent on tombstones). */
  configHash?: string;
  /** The `npm run reprocess` run that last redid the item. */
  reprocessRun?: string;
  // The analysis at upload (runtime/analysis/, docs/metadata.md): absent where it cannot apply,
  // with the reason in `analysisSkipped`.
  thumbhash?: string;
  blurhash?: string;
  dominantColor?: string;
  palette?: string[];
  phash?: string;
  focus?: Focus;
  similar?: SimilarObject[];
  faces?: number;
  labels?: Label[];
  moderation?: ModerationLabel[];
  analysisSkipped?: string;
  /** Animated sources: the frames kept (at most limits.maxFrames) and their total duration. */
  frames?: number;
  durationMs?: number;
  /**
   * Outcome events owed to the tenant's topic (runtime/outcome-events.ts): written with the final
   * item, cleared once published. A claim keeps them, so the next owner of the key sends them.
   */
  pendingEvents?: string[];
}

/** A reprocess claim: redo the item the synthetic event saw, unless this run did or it is already current. */
export interface ReprocessClaim {
  runId: string;
  force: boolean;
  /** The function's own outputConfigHash. */
  configHash: string;
}

export type ClaimResult =
  | { outcome: "claimed"; previous?: ObjectItem }
  | { outcome: "stale"; current: ObjectItem }
  | { outcome: "duplicate"; current: ObjectItem }
  /** Reprocess only: the item's outputs already match the config. */
  | { outcome: "current"; current: ObjectItem };

/** Whether an item is decided under this config: done, or failed for a reason a retry would not change. */
export function matchesConfig(item: Pick<ObjectItem, "status" | "configHash" | "error">, configHash: string): boolean {
  return (
    item.configHash === configHash && (item.status === "done" || item.status === "quarantined" || (item.status === "failed" && item.error?.retryable !== true))
  );
}

export class MetadataStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  async get(objectKey: string): Promise<ObjectItem | undefined> {
    const result = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { [PARTITION_KEY]: objectKey }, ConsistentRead: true }));
    return result.Item as ObjectItem | undefined;
  }

  /**
   * Takes the key for one event. A reprocess event (the same sequencer as the item it saw) may also
   * take an item that is decided, unless this run already redid it or, without force, the item
   * matches the config.
   */
  async claim(objectKey: string, sequencer: string, leaseMs: number, eventName: string, reprocess?: ReprocessClaim): Promise<ClaimResult> {
    const now = this.now();
    const retryOfTheSameEvent = [
      `(#sequencer = :seq AND #status = :processing AND #lease < :now)`,
      `(#sequencer = :seq AND #status = :failed AND #error.#retryable = :true)`,
    ];
    const redo = reprocess
      ? [
          `(#sequencer = :seq AND #status <> :processing AND (attribute_not_exists(#run) OR #run <> :run)` +
            (reprocess.force ? `)` : ` AND (attribute_not_exists(#hash) OR #hash <> :hash OR (#status = :failed AND #error.#retryable = :true)))`),
        ]
      : [`(#sequencer < :seq AND (#status <> :processing OR #lease < :now))`];
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PARTITION_KEY]: objectKey },
          // A tombstone's TTL must not outlive its tombstone: DynamoDB could delete the item mid-processing.
          UpdateExpression:
            "SET #status = :processing, #shard = :shard, #sequencer = :seq, #lease = :lease, #updatedAt = :updatedAt, #eventName = :eventName" +
            (reprocess ? ", #run = :run REMOVE #expiresAt" : " REMOVE #expiresAt, #run"),
          ConditionExpression: [`attribute_not_exists(#pk)`, ...redo, ...retryOfTheSameEvent].join(" OR "),
          ExpressionAttributeNames: {
            "#pk": PARTITION_KEY,
            "#status": "status",
            "#shard": STATUS_INDEX.hashKey,
            "#sequencer": "sequencer",
            "#lease": "leaseUntil",
            "#updatedAt": "updatedAt",
            "#eventName": "eventName",
            "#error": "error",
            "#retryable": "retryable",
            "#expiresAt": "expiresAt",
            "#run": "reprocessRun",
            ...(reprocess && !reprocess.force ? { "#hash": "configHash" } : {}),
          },
          ExpressionAttributeValues: {
            ":processing": "processing",
            ":shard": statusShard("processing", objectKey),
            ":failed": "failed",
            ":true": true,
            ":seq": sequencer,
            ":lease": now + leaseMs,
            ":now": now,
            ":updatedAt": new Date(now).toISOString(),
            ":eventName": eventName,
            ...(reprocess ? { ":run": reprocess.runId } : {}),
            ...(reprocess && !reprocess.force ? { ":hash": reprocess.configHash } : {}),
          },
          ReturnValues: "ALL_OLD",
        }),
      );
      const previous = result.Attributes as ObjectItem | undefined;
      return { outcome: "claimed", previous: previous?.status ? previous : undefined };
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
    const current = await this.get(objectKey);
    if (!current) throw new KeyBusyError(objectKey); // deleted between the two calls: try again later
    if (current.sequencer === sequencer && current.status === "processing") throw new KeyBusyError(objectKey);
    if (reprocess) {
      // The item moved on since the event was sent (a newer event decided it), or needs nothing.
      if (current.sequencer !== sequencer) return { outcome: "stale", current };
      return current.reprocessRun === reprocess.runId ? { outcome: "duplicate", current } : { outcome: "current", current };
    }
    if (current.sequencer > sequencer) return { outcome: "stale", current };
    if (current.sequencer === sequencer) return { outcome: "duplicate", current };
    throw new KeyBusyError(objectKey);
  }

  /** The items of some keys (consistent reads), by key; missing keys have none. `attributes`: only these (and the key). */
  async getMany(objectKeys: string[], attributes?: (keyof ObjectItem)[]): Promise<Map<string, ObjectItem>> {
    return (await batchGetAll(this.doc, this.tableName, objectKeys, { attributes })).items as unknown as Map<string, ObjectItem>;
  }

  /** Items with a status, newest first, updated at or after `since` (ISO time): every shard of the status index, merged. */
  async listByStatus(status: ItemStatus, options: { since?: string; limit?: number } = {}): Promise<ObjectItem[]> {
    const perShard = await Promise.all(statusShards(status).map((shard) => this.newestOfShard(shard, options)));
    const newestFirst = perShard.flat().sort((a, b) => byTimeThenKey(b, a));
    return options.limit === undefined ? newestFirst : newestFirst.slice(0, options.limit);
  }

  private async newestOfShard(shard: string, options: { since?: string; limit?: number }): Promise<ObjectItem[]> {
    const items: ObjectItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: STATUS_INDEX.name,
          KeyConditionExpression: options.since ? "#shard = :shard AND #updatedAt >= :since" : "#shard = :shard",
          ExpressionAttributeNames: { "#shard": STATUS_INDEX.hashKey, ...(options.since ? { "#updatedAt": STATUS_INDEX.rangeKey } : {}) },
          ExpressionAttributeValues: { ":shard": shard, ...(options.since ? { ":since": options.since } : {}) },
          ScanIndexForward: false,
          ExclusiveStartKey: start,
          Limit: options.limit,
        }),
      );
      items.push(...((page.Items ?? []) as ObjectItem[]));
      start = page.LastEvaluatedKey;
    } while (start && (options.limit === undefined || items.length < options.limit));
    return items;
  }

  /**
   * Items with a status, oldest first (then by key), updated in [since, until], after `startAfter`
   * (an item returned before: how a long listing resumes). Only the index's projected attributes.
   * Every shard is read in order and the shards are merged, so the order is one total order.
   */
  async *itemsByStatus(status: ItemStatus, range: { since?: string; until: string; startAfter?: StatusIndexKey }): AsyncGenerator<ObjectItem> {
    const after = range.startAfter;
    const since = after && after.updatedAt > (range.since ?? "0") ? after.updatedAt : (range.since ?? "0");
    const streams = statusShards(status).map((shard) => this.oldestOfShard(shard, since, range.until));
    const heads = await Promise.all(streams.map((stream) => stream.next()));
    for (;;) {
      let pick = -1;
      heads.forEach((head, i) => {
        if (!head.done && (pick < 0 || byTimeThenKey(head.value, (heads[pick] as IteratorYieldResult<ObjectItem>).value) < 0)) pick = i;
      });
      if (pick < 0) return;
      const item = (heads[pick] as IteratorYieldResult<ObjectItem>).value;
      heads[pick] = await streams[pick]!.next();
      if (!after || byTimeThenKey(item, after) > 0) yield item;
    }
  }

  /** One shard's items in [since, until], oldest first; items of the same instant by key (DynamoDB leaves their order open). */
  private async *oldestOfShard(shard: string, since: string, until: string): AsyncGenerator<ObjectItem> {
    let start: Record<string, unknown> | undefined;
    let sameInstant: ObjectItem[] = [];
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: STATUS_INDEX.name,
          KeyConditionExpression: "#shard = :shard AND #updatedAt BETWEEN :since AND :until",
          ExpressionAttributeNames: { "#shard": STATUS_INDEX.hashKey, "#updatedAt": STATUS_INDEX.rangeKey },
          ExpressionAttributeValues: { ":shard": shard, ":since": since, ":until": until },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of (page.Items ?? []) as ObjectItem[]) {
        if (sameInstant.length && sameInstant[0]!.updatedAt !== item.updatedAt) {
          yield* sameInstant.sort(byTimeThenKey);
          sameInstant = [];
        }
        sameInstant.push(item);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    yield* sameInstant.sort(byTimeThenKey);
  }

  /** Gives the claim up after a failed attempt, so the retry (or a newer event) need not wait out the lease. */
  async release(objectKey: string, sequencer: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PARTITION_KEY]: objectKey },
          UpdateExpression: "SET #lease = :zero",
          ConditionExpression: "#sequencer = :seq AND #status = :processing",
          ExpressionAttributeNames: { "#lease": "leaseUntil", "#sequencer": "sequencer", "#status": "status" },
          ExpressionAttributeValues: { ":zero": 0, ":seq": sequencer, ":processing": "processing" },
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) return;
      throw err;
    }
  }

  /**
   * Writes the final item; undefined when a newer event has taken the key over meanwhile.
   * `pendingEvents(written)` gives the outcome events the item owes, built from the item as written.
   */
  async finish(item: Omit<ObjectItem, "updatedAt">, pendingEvents?: (written: ObjectItem) => string[]): Promise<ObjectItem | undefined> {
    const written: ObjectItem = { ...item, updatedAt: new Date(this.now()).toISOString() };
    const events = pendingEvents?.(written);
    if (events?.length) written.pendingEvents = events;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...written, [STATUS_INDEX.hashKey]: statusShard(item.status, item.objectKey) },
          ConditionExpression: "#sequencer = :seq AND #status = :processing",
          ExpressionAttributeNames: { "#sequencer": "sequencer", "#status": "status" },
          ExpressionAttributeValues: { ":seq": item.sequencer, ":processing": "processing" },
        }),
      );
      return written;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return undefined;
      throw err;
    }
  }

  /**
   * Clears the events an item owed once they are published, unless the item changed meanwhile (a
   * newer claim keeps them and sends them itself: at worst a repeat, which `eventId` tells apart).
   */
  async clearPendingEvents(item: Pick<ObjectItem, "objectKey" | "sequencer" | "updatedAt">): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PARTITION_KEY]: item.objectKey },
          UpdateExpression: "REMOVE #pending",
          ConditionExpression: "#sequencer = :seq AND #updatedAt = :updatedAt",
          ExpressionAttributeNames: { "#pending": "pendingEvents", "#sequencer": "sequencer", "#updatedAt": "updatedAt" },
          ExpressionAttributeValues: { ":seq": item.sequencer, ":updatedAt": item.updatedAt },
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) return;
      throw err;
    }
  }
}
