/**
 * When the pipeline sees a source overwritten or removed, the variants generated from the old bytes
 * must go: from the proxy bucket (one listing of the source's prefix) and from CloudFront's cache
 * (one invalidation path covering the prefix), the invalidation only when there was anything.
 */
import { type CloudFrontClient, CreateInvalidationCommand } from "@aws-sdk/client-cloudfront";
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { TransientError } from "../errors";
import { VARIANTS_ROOT } from "../../contract/naming";
import { invalidationPath, variantsPrefix } from "./variants";

export interface Invalidator {
  /** `reference` makes a retried request the same invalidation (CloudFront's CallerReference). */
  invalidate(paths: string[], reference: string): Promise<void>;
}

export class CloudFrontInvalidator implements Invalidator {
  constructor(
    private readonly cloudfront: CloudFrontClient,
    private readonly distributionId: string,
  ) {}

  async invalidate(paths: string[], reference: string): Promise<void> {
    await this.cloudfront.send(
      new CreateInvalidationCommand({
        DistributionId: this.distributionId,
        InvalidationBatch: { CallerReference: reference, Paths: { Quantity: paths.length, Items: paths } },
      }),
    );
  }
}

/** The local platform's: there is no edge cache to clear, so it records what it was asked. */
export class RecordingInvalidator implements Invalidator {
  readonly requests: { paths: string[]; reference: string }[] = [];
  async invalidate(paths: string[], reference: string): Promise<void> {
    this.requests.push({ paths, reference });
  }
}

export class VariantPurger {
  constructor(
    private readonly s3: S3Client,
    private readonly proxyBucket: string,
    private readonly invalidator: Invalidator,
  ) {}

  /**
   * Deletes every stored variant of a source key, then invalidates them; returns how many there
   * were. `retried`: an earlier attempt of this event may have deleted them and failed to
   * invalidate, so invalidate even when nothing is left to delete.
   */
  async purge(sourceKey: string, reference: string, retried = false): Promise<number> {
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
    // Deleted first: a request between the two would otherwise cache the old variant again. The
    // same reference on a retry is the same invalidation to CloudFront, not a second one.
    if (removed > 0 || retried) await this.invalidator.invalidate([invalidationPath(sourceKey)], `${reference}-${prefix.slice(VARIANTS_ROOT.length, -1)}`);
    return removed;
  }
}
