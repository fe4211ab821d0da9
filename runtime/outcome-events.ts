/**
 * An event for every final outcome of a key's version (docs/events.md): the document a tenant's
 * topic carries, and its publisher.
 *
 * Exactly one message per final state, by design rather than by luck: the document is built when
 * the final item is written and stored on it (`pendingEvents`, an outbox), in the same conditional
 * write that decides the outcome. So a stale event that lost to a newer one, or a duplicate
 * delivery, never builds one; a retry never builds a second. The document is published after that
 * write and then cleared; a publish that fails leaves it owed, and whoever next takes the key (the
 * message's redelivery, or a newer event's claim) publishes the stored document, the same bytes
 * with the same `eventId`. Only a crash between SNS's acceptance and the clearing repeats one: the
 * consumer's `eventId` check (which SNS standard topics ask of every consumer anyway) drops it.
 */
import { createHash } from "node:crypto";
import type { SNSClient, SNSClientConfig } from "@aws-sdk/client-sns";
import type * as SnsSdk from "@aws-sdk/client-sns";
import { TransientError } from "./errors";
import { CONTENT_TYPES } from "./keys";
import type { ObjectItem } from "./store";

/** Raised when a field is added in a way a consumer could misread; additions alone keep it. */
const OUTCOME_SCHEMA_VERSION = 1;

/** The final states that send an event (never `processing`, never a skipped event). */
type FinalStatus = "done" | "failed" | "quarantined" | "deleted";

/** What caused the outcome: an upload (ObjectCreated), a removal (ObjectRemoved), or `npm run reprocess`. */
type OutcomeEventType = "upload" | "removal" | "reprocess";

interface OutcomeRendition {
  name: string;
  bucket: string;
  key: string;
  width: number;
  height: number;
  bytes: number;
  contentType: string;
}

/** The message body: docs/events.md documents every field, with an example. */
export interface OutcomeDocument {
  schemaVersion: typeof OUTCOME_SCHEMA_VERSION;
  /** Stable across retries of the publish: a consumer that has seen it drops the message. */
  eventId: string;
  eventType: OutcomeEventType;
  tenant: string;
  bucket: string;
  key: string;
  versionId?: string;
  eTag?: string;
  /** S3's sequencer of the event that decided this outcome: a consumer drops a message whose sequencer is lower than one it has applied for the key (SNS does not order). */
  sequencer: string;
  status: FinalStatus;
  /** When the outcome was written (ISO 8601). */
  time: string;
  size?: number;
  contentType?: string;
  format?: string;
  width?: number;
  height?: number;
  frames?: number;
  durationMs?: number;
  orientation?: number;
  capturedAt?: string;
  camera?: string;
  gps?: ObjectItem["gps"];
  renditions: OutcomeRendition[];
  renditionsSkipped?: string;
  /** The sidecar JSON (every tag exiftool read) in the proxy bucket. */
  metadata?: { bucket: string; key: string };
  analysis?: Pick<ObjectItem, "thumbhash" | "blurhash" | "dominantColor" | "palette" | "focus" | "faces" | "labels" | "moderation" | "similar">;
  error?: ObjectItem["error"];
}

export interface OutcomeContext {
  tenant: string;
  sourceBucket: string;
  proxyBucket: string;
}

function eventTypeOf(item: Pick<ObjectItem, "reprocessRun" | "eventName">): OutcomeEventType {
  if (item.reprocessRun) return "reprocess";
  return item.eventName?.startsWith("ObjectRemoved:") ? "removal" : "upload";
}

const ANALYSIS_FIELDS = ["thumbhash", "blurhash", "dominantColor", "palette", "focus", "faces", "labels", "moderation", "similar"] as const;

/** The document of a final item, as it is written (its `updatedAt` included). */
export function outcomeDocument(item: ObjectItem, context: OutcomeContext): OutcomeDocument {
  const status = item.status as FinalStatus;
  const analysis = Object.fromEntries(ANALYSIS_FIELDS.flatMap((field) => (item[field] === undefined ? [] : [[field, item[field]]])));
  const document: OutcomeDocument = {
    schemaVersion: OUTCOME_SCHEMA_VERSION,
    eventId: createHash("sha256").update(`${context.tenant}\0${item.objectKey}\0${item.sequencer}\0${status}\0${item.updatedAt}`).digest("hex").slice(0, 32),
    eventType: eventTypeOf(item),
    tenant: context.tenant,
    bucket: context.sourceBucket,
    key: item.objectKey,
    versionId: item.versionId,
    eTag: item.etag,
    sequencer: item.sequencer,
    status,
    time: item.updatedAt,
    size: item.size,
    contentType: item.contentType,
    format: item.format,
    width: item.width,
    height: item.height,
    frames: item.frames,
    durationMs: item.durationMs,
    orientation: item.orientation,
    capturedAt: item.capturedAt,
    camera: item.camera,
    gps: item.gps,
    renditions: (item.renditions ?? []).map((r) => ({
      name: r.name,
      bucket: context.proxyBucket,
      key: r.key,
      width: r.width,
      height: r.height,
      bytes: r.bytes,
      contentType: CONTENT_TYPES[r.format as keyof typeof CONTENT_TYPES] ?? `image/${r.format}`,
    })),
    renditionsSkipped: item.renditionsSkipped,
    metadata: item.sidecarKey ? { bucket: context.proxyBucket, key: item.sidecarKey } : undefined,
    analysis: Object.keys(analysis).length ? analysis : undefined,
    error: item.error,
  };
  return JSON.parse(JSON.stringify(document)) as OutcomeDocument; // undefined fields out, as they travel
}

/**
 * The message attributes subscribers filter on with SNS filter policies (status, eventType, tenant).
 * https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html
 */
function outcomeAttributes(document: Pick<OutcomeDocument, "status" | "eventType" | "tenant">): Record<string, { DataType: "String"; StringValue: string }> {
  return {
    status: { DataType: "String", StringValue: document.status },
    eventType: { DataType: "String", StringValue: document.eventType },
    tenant: { DataType: "String", StringValue: document.tenant },
  };
}

/**
 * Publishes stored documents to the tenant's topic, in order. The SDK loads with the first publish.
 * A document stays far below SNS's 256 KiB a message, body and attributes together
 * (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): at most 10 renditions, keys of
 * 1,024 bytes, an error message of 2,000 characters, 10 similar keys and 10 labels.
 */
export class OutcomePublisher {
  private sdk: Promise<{ sns: SNSClient; sdk: typeof SnsSdk }> | undefined;

  /** `client`: an SNS client, or the settings of one to create with the first publish. */
  constructor(
    readonly topicArn: string,
    private readonly client: SNSClient | SNSClientConfig,
    private readonly instrument: (client: SNSClient) => SNSClient = (client) => client,
  ) {}

  async publish(documents: string[]): Promise<void> {
    this.sdk ??= import("@aws-sdk/client-sns").then((sdk) => ({
      sns: this.instrument("send" in this.client ? this.client : new sdk.SNSClient(this.client)),
      sdk,
    }));
    const { sns, sdk } = await this.sdk;
    for (const body of documents) {
      const document = JSON.parse(body) as OutcomeDocument;
      try {
        await sns.send(new sdk.PublishCommand({ TopicArn: this.topicArn, Message: body, MessageAttributes: outcomeAttributes(document) }));
      } catch (err) {
        throw new TransientError("EVENT_PUBLISH", `could not publish the ${document.status} event of ${document.key}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  }
}
