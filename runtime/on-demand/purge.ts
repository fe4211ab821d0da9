/**
 * When the pipeline sees a source overwritten or removed, the variants generated from the old bytes
 * must go: from the proxy bucket at once (one listing of the source's prefix), and from CloudFront's
 * cache through the tenant's purge queue (one invalidation path covering the prefix), which
 * purge-drain.ts hands to CloudFront within its limits. The object's outcome never waits on the CDN.
 */
import type * as CloudFrontSdk from "@aws-sdk/client-cloudfront";
import type { CloudFrontClient, CloudFrontClientConfig } from "@aws-sdk/client-cloudfront";
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { TransientError } from "../errors";
import { invalidationPath, variantsPrefix } from "./variants";

export interface Invalidator {
  /** `reference` makes a retried request the same invalidation (CloudFront's CallerReference). */
  invalidate(paths: string[], reference: string): Promise<void>;
}

/**
 * CloudFront's CreateInvalidation. The SDK is loaded by the first invalidation a container asks
 * for, not by its cold start: most invocations (objects) never purge.
 */
export class CloudFrontInvalidator implements Invalidator {
  private client: Promise<{ cloudfront: CloudFrontClient; sdk: typeof CloudFrontSdk }> | undefined;

  /** `instrument`: what the container does to every SDK client (X-Ray, when the tenant traces). */
  constructor(
    private readonly config: CloudFrontClientConfig,
    private readonly distributionId: string,
    private readonly instrument: (client: CloudFrontClient) => CloudFrontClient = (client) => client,
  ) {}

  async invalidate(paths: string[], reference: string): Promise<void> {
    this.client ??= import("@aws-sdk/client-cloudfront").then((sdk) => ({ cloudfront: this.instrument(new sdk.CloudFrontClient(this.config)), sdk }));
    const { cloudfront, sdk } = await this.client;
    await cloudfront.send(
      new sdk.CreateInvalidationCommand({
        DistributionId: this.distributionId,
        InvalidationBatch: { CallerReference: reference, Paths: { Quantity: paths.length, Items: paths } },
      }),
    );
  }
}

/** One invalidation path the distribution is owed: a message of the tenant's purge queue. */
export interface OwedPurge {
  path: string;
  /** The source key it is for, and the event that found it owed (for the logs). */
  sourceKey: string;
  sequencer: string;
}

export class PurgeQueue {
  /** `delaySeconds`: contract/timing.ts purgeDelaySeconds (past the renderer's longest render). */
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly delaySeconds: number,
  ) {}

  async owe(purge: OwedPurge): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(purge), DelaySeconds: this.delaySeconds }));
  }
}

export class VariantPurger {
  constructor(
    private readonly s3: S3Client,
    private readonly proxyBucket: string,
    private readonly purges: PurgeQueue,
  ) {}

  /**
   * Deletes every stored variant of a source key, then queues their invalidation; returns how many
   * were stored. `owed`: the CDN may hold variants although the bucket has none left (S3's
   * lifecycle expired them while an edge keeps its copy up to maxAgeDays longer, or an earlier
   * attempt of this event deleted them), so the invalidation is queued even when nothing was deleted.
   */
  async purge(sourceKey: string, sequencer: string, owed: boolean): Promise<number> {
    const removed = await this.removeStored(sourceKey);
    // Deleted first: an edge that misses after the invalidation must find the bucket without them.
    if (removed > 0 || owed) await this.purges.owe({ path: invalidationPath(sourceKey), sourceKey, sequencer });
    return removed;
  }

  /**
   * Deletes every stored variant of a source key; returns how many there were. The pipeline calls it
   * when the source changes, and the purge drain again just before the invalidation: a render that
   * read the old bytes before the change may store its variant after the first (purge-drain.ts).
   */
  async removeStored(sourceKey: string): Promise<number> {
    const prefix = variantsPrefix(sourceKey);
    let removed = 0;
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.proxyBucket, Prefix: prefix, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length) {
        const result = await this.s3.send(new DeleteObjectsCommand({ Bucket: this.proxyBucket, Delete: { Objects: keys, Quiet: true } }));
        if (result.Errors?.length)
          throw new TransientError("VARIANT_DELETE", `could not delete ${result.Errors.length} variants: ${result.Errors[0]?.Message}`);
        removed += keys.length;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return removed;
  }
}
