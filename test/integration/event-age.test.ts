/**
 * An event is judged by its own time, not its queue's: a dead-letter redrive resets a message's age
 * in SQS, so an upload event can come back after its key was deleted, tombstoned, and the tombstone
 * expired. Such an event must not leave a `failed` item that lives forever for an object nobody has.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localProcessorEnvironment } from "../../local/platform";
import { createDependencies } from "../../runtime/dependencies";
import { createHandler } from "../../runtime/handler";
import { notification, startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let handler: ReturnType<typeof createHandler>;
const DAY_MS = 86_400_000;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "aged", storage: { tombstoneTtlDays: 30 } }], { notifications: false });
  const tenant = t.platform.tenants.get("aged")!;
  handler = createHandler(createDependencies({ PATH: process.env.PATH, ...localProcessorEnvironment(tenant) }, t.platform.clients, pino({ level: "silent" })));
});
afterAll(() => t?.stop());

/** An SQS message of an upload S3 notified `ageDays` ago, for an object that is not (or no longer) in the bucket. */
function uploadEventOf(key: string, ageDays: number) {
  const body = JSON.parse(
    notification(t.platform.tenants.get("aged")!.sourceBucket, key, "ObjectCreated:Put", "0A", "d41d8cd98f00b204e9800998ecf8427e", 10),
  ) as {
    Records: { eventTime: string }[];
  };
  body.Records[0]!.eventTime = new Date(Date.now() - ageDays * DAY_MS).toISOString();
  return { Records: [{ messageId: `m-${key}`, eventSource: "aws:sqs", attributes: { ApproximateReceiveCount: "1" }, body: JSON.stringify(body) }] };
}

describe("events older than a tombstone lives", () => {
  it("an upload event of 36 days ago (4 + 14 + 4 + 14 through two redrives) for a gone object ends as a tombstone that expires", async () => {
    expect((await handler(uploadEventOf("redriven/long-gone.jpg", 36))).batchItemFailures).toEqual([]);
    const item = (await t.item("aged", "redriven/long-gone.jpg"))!;
    expect(item.status).toBe("deleted");
    expect(item.expiresAt! * 1000).toBeGreaterThan(Date.now() + 29 * DAY_MS);
    expect(item.error).toBeUndefined();
  });

  it("a recent upload event for a gone object still records why it was never processed", async () => {
    expect((await handler(uploadEventOf("recent/gone.jpg", 1))).batchItemFailures).toEqual([]);
    expect(await t.item("aged", "recent/gone.jpg")).toMatchObject({ status: "failed", error: { code: "OBJECT_GONE" } });
  });
});
