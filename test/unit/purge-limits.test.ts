/**
 * CloudFront's invalidation limits as the fake on loopback enforces them (through the real SDK
 * client, as the pipeline calls it), and the purge drain's rules for staying within them.
 */
import { CloudFrontClient, CreateInvalidationCommand, GetInvalidationCommand, ListInvalidationsCommand } from "@aws-sdk/client-cloudfront";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeRetryDelaySeconds, PURGE_RETRY_MAX_SECONDS } from "../../contract/timing";
import { startFakeCloudFront, type FakeCloudFront } from "../../local/fake-cloudfront";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws";
import { ALL_VARIANTS_PATH, coalescePaths, MAX_PRECISE_PATHS } from "../../runtime/on-demand/purge-drain";
import { invalidationPath } from "../../runtime/on-demand/variants";

let cloudfront: FakeCloudFront;
let client: CloudFrontClient;
const DISTRIBUTION = "E2QWRUHAPOMQZL";

beforeAll(async () => {
  cloudfront = await startFakeCloudFront({ completeAfterMs: "manual" });
  cloudfront.addDistribution(DISTRIBUTION);
  client = new CloudFrontClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: cloudfront.url, maxAttempts: 1 });
});

afterAll(async () => {
  await cloudfront?.close();
});

const invalidate = (paths: string[], reference: string, distributionId = DISTRIBUTION) =>
  client.send(
    new CreateInvalidationCommand({
      DistributionId: distributionId,
      InvalidationBatch: { CallerReference: reference, Paths: { Quantity: paths.length, Items: paths } },
    }),
  );

const errorName = (promise: Promise<unknown>) =>
  promise.then(
    () => "none",
    (err: Error) => err.name,
  );

describe("the fake CloudFront, through the SDK", () => {
  it("refuses a 16th wildcard path in progress, takes file paths apart from them, and takes wildcards again once they complete", async () => {
    for (let i = 0; i < 15; i++) await invalidate([`/_variants/${i}/*`], `w${i}`);
    expect(await errorName(invalidate(["/_variants/15/*"], "w15"))).toBe("TooManyInvalidationsInProgress");
    expect(await errorName(invalidate(["/a.jpg", "/b.jpg"], "files"))).toBe("none");
    expect(cloudfront.refused()).toBe(1);
    cloudfront.completeAll();
    const created = await invalidate(["/_variants/15/*"], "w15");
    expect(created.Invalidation).toMatchObject({ Status: "InProgress", InvalidationBatch: { Paths: { Quantity: 1, Items: ["/_variants/15/*"] } } });
    const read = await client.send(new GetInvalidationCommand({ DistributionId: DISTRIBUTION, Id: created.Invalidation!.Id! }));
    expect(read.Invalidation?.Id).toBe(created.Invalidation!.Id);
    const listed = await client.send(new ListInvalidationsCommand({ DistributionId: DISTRIBUTION }));
    expect(listed.InvalidationList?.Quantity).toBe(17);
    expect(listed.InvalidationList?.Items?.filter((i) => i.Status === "InProgress")).toHaveLength(1);
    cloudfront.completeAll();
  });

  it("refuses more than 3,000 file paths in progress", async () => {
    const paths = (from: number, n: number) => Array.from({ length: n }, (_, i) => `/f/${from + i}.jpg`);
    await invalidate(paths(0, 2_000), "files-1");
    expect(await errorName(invalidate(paths(2_000, 1_001), "files-2"))).toBe("TooManyInvalidationsInProgress");
    expect(await errorName(invalidate(paths(2_000, 1_000), "files-3"))).toBe("none");
    cloudfront.completeAll();
  });

  it("answers a CallerReference sent again with the first invalidation, or a conflict for other paths", async () => {
    const first = await invalidate(["/_variants/x/*"], "same-ref");
    const again = await invalidate(["/_variants/x/*"], "same-ref");
    expect(again.Invalidation?.Id).toBe(first.Invalidation?.Id);
    expect(await errorName(invalidate(["/_variants/y/*"], "same-ref"))).toBe("InvalidationBatchAlreadyExists");
    expect(await errorName(invalidate(["/_variants/x/*"], "other-distribution", "ENOSUCH"))).toBe("NoSuchDistribution");
    expect(await errorName(invalidate(["_variants/no-slash"], "bad-path"))).toBe("InvalidArgument");
    cloudfront.completeAll();
  });
});

describe("the purge drain's rules", () => {
  it("sends a few distinct paths as they are, and more as the one path covering every variant", () => {
    const few = Array.from({ length: MAX_PRECISE_PATHS }, (_, i) => invalidationPath(`k${i}.jpg`));
    expect(coalescePaths([...few, few[0]!])).toEqual([...few].sort());
    expect(coalescePaths([...few, invalidationPath("one-more.jpg")])).toEqual([ALL_VARIANTS_PATH]);
    expect(coalescePaths([few[0]!, ALL_VARIANTS_PATH])).toEqual([ALL_VARIANTS_PATH]);
    expect(MAX_PRECISE_PATHS).toBeLessThanOrEqual(15);
  });

  it("waits twice as long after each refusal, from 1/30 of the maximum, never beyond it or SQS's 12 hours", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 50, 1000].map((n) => purgeRetryDelaySeconds(n, PURGE_RETRY_MAX_SECONDS));
    expect(delays).toEqual([30, 60, 120, 240, 480, 900, 900, 900, 900]);
    expect(purgeRetryDelaySeconds(1, 2)).toBe(1);
    expect(PURGE_RETRY_MAX_SECONDS).toBeLessThanOrEqual(12 * 3600);
  });
});
