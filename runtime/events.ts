/**
 * Event parsing: SQS batches of S3 notifications (the production wiring), direct S3 events, and the
 * S3 test event. Produces one ObjectEvent per S3 record, tagged with the SQS message it came from.
 */
import { PermanentError } from "./errors";

type ObjectEventKind = "created" | "removed";

export interface ObjectEvent {
  kind: ObjectEventKind;
  eventName: string;
  bucket: string;
  /** Decoded object key (S3 URL-encodes keys in notifications, with '+' for spaces). */
  key: string;
  /** Normalised (zero-padded, upper-case) sequencer: plain string comparison orders events. */
  sequencer: string;
  size?: number;
  eTag?: string;
  versionId?: string;
  eventTime?: string;
  /** Set on the synthetic events of `npm run reprocess` (never by S3). */
  reprocess?: ReprocessMark;
}

/**
 * What a synthetic event of `npm run reprocess` carries beside the S3 fields. Its sequencer is the
 * one the key's item had when the event was sent (zeros when there was no item), so it can only
 * redo the state it saw: a real event of the key, always newer, wins.
 */
export interface ReprocessMark {
  /** The reprocess run: an item already redone by this run is not redone again (a resent message). */
  runId: string;
  /** Redo even items whose outputs already match the tenant's config. */
  force: boolean;
}

/** The record field of a synthetic event that holds its ReprocessMark. */
export const REPROCESS_FIELD = "tipReprocess";
export const REPROCESS_EVENT_NAME = "ObjectCreated:Reprocess";

/** One unit of retry: an SQS message (or a direct S3 event) and the object events inside it. */
export interface EventEnvelope {
  /** SQS messageId, reported back in batchItemFailures; undefined for direct S3 invocations. */
  messageId?: string;
  events: ObjectEvent[];
  /** Set when the message could not be parsed; recorded and dropped, never retried. */
  invalid?: string;
}

export const SEQUENCER_WIDTH = 32;

/**
 * AWS: "The sequencers can be of different lengths. So, to compare these values, first left pad the
 * shorter value with zeros, and then do a lexicographical comparison."
 * (Amazon S3 User Guide, "Event message structure", notification-content-structure.html.)
 * Padding every sequencer to one width once lets DynamoDB's string `<` do that comparison.
 */
export function normalizeSequencer(sequencer: string): string {
  const hex = sequencer.trim().toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || hex.length > SEQUENCER_WIDTH) {
    throw new PermanentError("INVALID_EVENT", `invalid S3 sequencer "${sequencer}"`);
  }
  return hex.padStart(SEQUENCER_WIDTH, "0");
}

export function compareSequencers(a: string, b: string): number {
  const x = normalizeSequencer(a);
  const y = normalizeSequencer(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** S3 notification keys are form-encoded: '+' means space, then %XX escapes (UTF-8). */
export function decodeS3Key(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, " "));
  } catch {
    throw new PermanentError("INVALID_EVENT", `object key is not valid URL encoding: ${encoded.slice(0, 200)}`);
  }
}

/** The inverse, as S3 produces it; used by the local platform to publish S3-shaped notifications. */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
}

interface S3RecordLike {
  [REPROCESS_FIELD]?: Partial<ReprocessMark>;
  eventSource?: string;
  eventName?: string;
  eventTime?: string;
  s3?: {
    bucket?: { name?: string };
    object?: { key?: string; size?: number; eTag?: string; versionId?: string; sequencer?: string };
  };
}

function toObjectEvent(record: S3RecordLike): ObjectEvent | undefined {
  const eventName = record.eventName ?? "";
  const kind: ObjectEventKind | undefined = eventName.startsWith("ObjectCreated:") ? "created" : eventName.startsWith("ObjectRemoved:") ? "removed" : undefined;
  // Other event types (restore, replication, lifecycle transitions...) do not change what we serve.
  if (!kind) return undefined;
  const bucket = record.s3?.bucket?.name;
  const rawKey = record.s3?.object?.key;
  const sequencer = record.s3?.object?.sequencer;
  if (!bucket || rawKey === undefined || !sequencer) {
    throw new PermanentError("INVALID_EVENT", `S3 record ${eventName} lacks bucket, key or sequencer`);
  }
  const object = record.s3!.object!;
  return {
    kind,
    eventName,
    bucket,
    key: decodeS3Key(rawKey),
    sequencer: normalizeSequencer(sequencer),
    size: object.size,
    eTag: object.eTag ? object.eTag.replace(/"/g, "") : undefined,
    versionId: object.versionId ?? undefined,
    eventTime: record.eventTime,
    reprocess: reprocessMark(record[REPROCESS_FIELD]),
  };
}

function reprocessMark(mark: Partial<ReprocessMark> | undefined): ReprocessMark | undefined {
  if (mark === undefined) return undefined;
  if (typeof mark?.runId !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(mark.runId)) {
    throw new PermanentError("INVALID_EVENT", "a reprocess event without a valid run id");
  }
  return { runId: mark.runId, force: mark.force === true };
}

/** What s3Notification writes: an event's fields (the decoded key is encoded as S3 encodes it). */
export type NotificationRecord = Pick<ObjectEvent, "eventName" | "bucket" | "key" | "sequencer" | "size" | "eTag" | "reprocess"> & { region?: string };

/** The body S3 sends to a queue for one record; the local platform and `npm run reprocess` send these. */
export function s3Notification(record: NotificationRecord): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        ...(record.region ? { awsRegion: record.region } : {}),
        eventTime: new Date().toISOString(),
        eventName: record.eventName,
        s3: {
          s3SchemaVersion: "1.0",
          bucket: { name: record.bucket, arn: `arn:aws:s3:::${record.bucket}` },
          object: { key: encodeS3Key(record.key), size: record.size ?? 0, eTag: record.eTag ?? "", sequencer: record.sequencer },
        },
        ...(record.reprocess ? { [REPROCESS_FIELD]: record.reprocess } : {}),
      },
    ],
  });
}

function parseS3Notification(body: unknown): ObjectEvent[] {
  const notification = body as { Event?: string; Records?: S3RecordLike[] };
  if (notification?.Event === "s3:TestEvent") return [];
  if (!Array.isArray(notification?.Records)) {
    throw new PermanentError("INVALID_EVENT", "message is neither an S3 notification nor an S3 test event");
  }
  return notification.Records.map(toObjectEvent).filter((e): e is ObjectEvent => e !== undefined);
}

function envelope(messageId: string | undefined, parse: () => ObjectEvent[]): EventEnvelope {
  try {
    return { messageId, events: parse() };
  } catch (err) {
    if (err instanceof PermanentError) return { messageId, events: [], invalid: err.message };
    throw err;
  }
}

/** Accepts an SQS event (bodies are S3 notifications) or a direct S3 event. */
export function parseInvocation(event: unknown): EventEnvelope[] {
  const records = (event as { Records?: unknown[] } | undefined)?.Records;
  if (!Array.isArray(records)) {
    if ((event as { Event?: string } | undefined)?.Event === "s3:TestEvent") return [];
    return [{ events: [], invalid: "invocation has no Records" }];
  }
  const first = records[0] as { eventSource?: string } | undefined;
  if (first?.eventSource === "aws:sqs") {
    return records.map((r) => {
      const message = r as { messageId: string; body: string };
      return envelope(message.messageId, () => {
        let body: unknown;
        try {
          body = JSON.parse(message.body);
        } catch {
          throw new PermanentError("INVALID_EVENT", "SQS message body is not JSON");
        }
        return parseS3Notification(body);
      });
    });
  }
  return [envelope(undefined, () => parseS3Notification(event))];
}
