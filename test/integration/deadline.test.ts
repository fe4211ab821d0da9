/**
 * Lambda stops a function at its timeout, and a stopped function records nothing: the item would
 * stay `processing`. The handler reads the remaining time from Lambda's context and never starts a
 * stage it cannot finish with the outcome recorded. Deterministic: the context reports the time.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDependencies } from "../../runtime/dependencies";
import { localProcessorEnvironment } from "../../local/platform";
import { createHandler } from "../../runtime/handler";
import { outcomeReserveMs } from "../../runtime/process-object";
import { jpegWithExif } from "../../fixtures/images";
import { notification, startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let handler: ReturnType<typeof createHandler>;

/** A fresh upload of its own per test (no test depends on another's state): the SQS body of its event, by receive count. */
async function uploaded(key: string): Promise<(receiveCount: number) => unknown> {
  const tenant = t.platform.tenants.get("clock")!;
  const eTag = await t.upload("clock", key, await jpegWithExif());
  const message = notification(tenant.sourceBucket, key, "ObjectCreated:Put", "0A", eTag);
  return (receiveCount) => ({
    Records: [{ messageId: "m-1", eventSource: "aws:sqs", attributes: { ApproximateReceiveCount: String(receiveCount) }, body: message }],
  });
}

beforeAll(async () => {
  t = await startTestPlatform([{ name: "clock", function: { timeoutSeconds: 30 }, queue: { maxReceiveCount: 2 } }], { notifications: false });
  const tenant = t.platform.tenants.get("clock")!;
  handler = createHandler(createDependencies({ PATH: process.env.PATH, ...localProcessorEnvironment(tenant) }, t.platform.clients, pino({ level: "silent" })));
});
afterAll(() => t?.stop());

const context = (remainingMs: number) => ({ awsRequestId: "r", getRemainingTimeInMillis: () => remainingMs });

describe("the function's deadline", () => {
  it("keeps 10% of the timeout (at least 3 s) to record the outcome", () => {
    expect(outcomeReserveMs(30)).toBe(3_000);
    expect(outcomeReserveMs(120)).toBe(12_000);
  });

  it("an attempt without time left stops before its first stage, releases the key, and is retried", async () => {
    const body = await uploaded("first-attempt.jpg");
    const result = await handler(body(1), context(2_000));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "m-1" }]);
    const item = (await t.item("clock", "first-attempt.jpg"))!;
    expect(item.status).toBe("processing");
    expect(item.leaseUntil).toBe(0); // released: the retry need not wait out the lease
  });

  it("the last attempt without time left records the failure and its reason, never leaving it processing", async () => {
    const body = await uploaded("last-attempt.jpg");
    const result = await handler(body(2), context(2_000));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "m-1" }]); // to the dead-letter queue
    const item = (await t.item("clock", "last-attempt.jpg"))!;
    expect(item).toMatchObject({ status: "failed", error: { code: "DEADLINE", retryable: true, attempts: 2 } });
    expect(item.error!.message).toMatch(/stopped before "head" with \d+ ms left of the function's time \(3000 ms are kept/);
  });

  it("a redriven event with time enough completes the object", async () => {
    const body = await uploaded("redriven.jpg");
    await handler(body(2), context(2_000)); // the last attempt gave up: failed, to the dead-letter queue
    expect(await t.item("clock", "redriven.jpg")).toMatchObject({ status: "failed" });
    const result = await handler(body(1), context(60_000)); // a redrive resets the receive count
    expect(result.batchItemFailures).toEqual([]);
    expect(await t.item("clock", "redriven.jpg")).toMatchObject({ status: "done", renditions: [{ name: "thumb" }, { name: "preview" }] });
  });
});
