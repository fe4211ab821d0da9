/**
 * The tenant's purge queue, drained into CloudFront within its limits. CloudFront allows 15 wildcard
 * invalidation paths in progress per distribution (and 3,000 file paths), an invalidation takes
 * minutes, and every path beyond the account's first 1,000 a month is billed
 * (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html).
 * So a batch of owed purges becomes one invalidation: its distinct paths when they are few, else the
 * one path that covers every variant. A refused batch stays queued and comes back later (the delay
 * doubles, timing.ts), by which time more purges have joined it and it costs still one path.
 */
import { createHash } from "node:crypto";
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";
import { purgeRetryDelaySeconds } from "../../contract/timing";
import { VARIANTS_ROOT } from "../../contract/naming";
import { mapLimit } from "../concurrency";
import { classify } from "../errors";
import { purgeMetrics } from "../metrics";
import type { Invalidator, OwedPurge } from "./purge";

/** Every variant of every source of the tenant: what a batch of more than MAX_PRECISE_PATHS becomes. */
export const ALL_VARIANTS_PATH = `/${VARIANTS_ROOT}*`;

/**
 * Up to this many distinct paths are invalidated one by one; more become ALL_VARIANTS_PATH. Five
 * keeps at least three batches in flight within the 15 wildcard paths, and a bulk change of any
 * size costs one path a batch. (The stored variants of unchanged sources stay in the bucket, so
 * ALL_VARIANTS_PATH costs the edge a fetch from S3, not a render.)
 */
export const MAX_PRECISE_PATHS = 5;

/** The invalidation paths for a batch of owed purges. */
export function coalescePaths(paths: readonly string[]): string[] {
  const distinct = [...new Set(paths)].sort();
  return distinct.length > MAX_PRECISE_PATHS || distinct.includes(ALL_VARIANTS_PATH) ? [ALL_VARIANTS_PATH] : distinct;
}

export interface PurgeRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes?: { ApproximateReceiveCount?: string };
}

function parsePurge(body: string): OwedPurge | undefined {
  try {
    const purge = JSON.parse(body) as Partial<OwedPurge>;
    return typeof purge.path === "string" && purge.path.startsWith(`/${VARIANTS_ROOT}`) ? (purge as OwedPurge) : undefined;
  } catch {
    return undefined;
  }
}

export class PurgeDrain {
  constructor(
    private readonly invalidator: Invalidator,
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
    private readonly retryMaxSeconds: number,
    private readonly tenant: string,
    /** Removes a source's stored variants (VariantPurger.removeStored); returns how many there were. */
    private readonly removeStored: (sourceKey: string) => Promise<number>,
  ) {}

  /** Whether an SQS record came from this queue (one function consumes the event queue and this one). */
  isFrom(eventSourceArn: string | undefined): boolean {
    return eventSourceArn !== undefined && eventSourceArn.split(":").pop() === this.queueUrl.split("/").pop();
  }

  /** Returns the records to be received again (ReportBatchItemFailures). */
  async drain(records: readonly PurgeRecord[], log: Logger): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
    const owed = records.flatMap((record) => {
      const purge = parsePurge(record.body);
      if (!purge) log.error({ messageId: record.messageId }, "dropping a purge message that names no variants path");
      return purge ? [purge] : [];
    });
    if (!owed.length) return { batchItemFailures: [] };
    const paths = coalescePaths(owed.map((p) => p.path));
    // The same batch asked again (its response lost) is the same invalidation to CloudFront.
    const reference = createHash("sha256")
      .update(
        records
          .map((r) => r.messageId)
          .sort()
          .join(","),
      )
      .digest("hex")
      .slice(0, 32);
    try {
      // Variants a render of the old bytes stored after the pipeline's purge: gone before the
      // invalidation, so that the edge's next miss renders the new bytes (the purge was delayed
      // past the renderer's longest render for this, contract/timing.ts purgeDelaySeconds).
      const sourceKeys = [...new Set(owed.map((p) => p.sourceKey).filter((k) => typeof k === "string"))];
      let late = 0;
      await mapLimit(sourceKeys, 8, async (key) => (late += await this.removeStored(key)));
      if (late > 0) log.info({ lateVariants: late, sources: sourceKeys.length }, "removed variants stored after their source changed");
      await this.invalidator.invalidate(paths, reference);
      log.info({ paths, purges: owed.length, reference }, "invalidation requested");
      log.info(purgeMetrics({ tenant: this.tenant, sent: owed.length, paths: paths.length, deferred: 0 }), "metrics");
      return { batchItemFailures: [] };
    } catch (err) {
      const failure = classify(err);
      const receiveCount = Math.max(...records.map((r) => Number(r.attributes?.ApproximateReceiveCount ?? 1)));
      const delaySeconds = purgeRetryDelaySeconds(receiveCount, this.retryMaxSeconds);
      await this.deferAll(records, delaySeconds).catch((deferErr) =>
        log.warn({ err: deferErr }, "could not set the purges' delay; they come back after the queue's visibility timeout"),
      );
      log.warn(
        { code: failure.code, err: failure.message, purges: owed.length, delaySeconds, receiveCount },
        "CloudFront did not take the invalidation; purges wait",
      );
      log.info(purgeMetrics({ tenant: this.tenant, sent: 0, paths: 0, deferred: owed.length }), "metrics");
      return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) };
    }
  }

  /** Lambda leaves a failed record's visibility as it is: set, it is the backoff. */
  private async deferAll(records: readonly PurgeRecord[], delaySeconds: number): Promise<void> {
    for (let i = 0; i < records.length; i += 10) {
      const entries = records.slice(i, i + 10).map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle, VisibilityTimeout: delaySeconds }));
      await this.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
    }
  }
}
