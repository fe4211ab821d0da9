/**
 * Lambda stops a function at its timeout, and a stopped function records nothing: the item would
 * stay `processing`. The handler reads the remaining time from Lambda's context and never starts a
 * stage it cannot finish with the outcome recorded. Deterministic: the context reports the time.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDependencies } from "../../runtime/dependencies";
import { handlerEnvironment } from "../../runtime/local/platform";
import { createHandler } from "../../runtime/handler";
import { outcomeReserveMs } from "../../runtime/process-object";
import { jpegWithExif } from "../support/images";
import { notification, startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let handler: ReturnType<typeof createHandler>;
let body: (receiveCount: number) => unknown;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "clock", function: { timeoutSeconds: 30 }, queue: { maxReceiveCount: 2 } }], { notifications: false });
  const tenant = t.platform.tenants.get("clock")!;
  handler = createHandler(createDependencies({ PATH: process.env.PATH, ...handlerEnvironment(tenant) }, t.platform.clients, pino({ level: "silent" })));
  const eTag = await t.upload("clock", "late.jpg", await jpegWithExif());
  const message = notification(tenant.sourceBucket, "late.jpg", "ObjectCreated:Put", "0A", eTag);
  body = (receiveCount) => ({ Records: [{ messageId: "m-1", eventSource: "aws:sqs", attributes: { ApproximateReceiveCount: String(receiveCount) }, body: message }] });
});
afterAll(() => t?.stop());

const context = (remainingMs: number) => ({ awsRequestId: "r", getRemainingTimeInMillis: () => remainingMs });

describe("the function's deadline", () => {
  it("keeps 10% of the timeout (at least 3 s) to record the outcome", () => {
    expect(outcomeReserveMs(30)).toBe(3_000);
    expect(outcomeReserveMs(120)).toBe(12_000);
  });

  it("an attempt without time left stops before its first stage, releases the key, and is retried", async () => {
    const result = await handler(body(1), context(2_000));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "m-1" }]);
    const item = (await t.item("clock", "late.jpg"))!;
    expect(item.status).toBe("processing");
    expect(item.leaseUntil).toBe(0); // released: the retry need not wait out the lease
  });

  it("the last attempt without time left records the failure and its reason, never leaving it processing", async () => {
    const result = await handler(body(2), context(2_000));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "m-1" }]); // to the dead-letter queue
    const item = (await t.item("clock", "late.jpg"))!;
    expect(item).toMatchObject({ status: "failed", error: { code: "DEADLINE", retryable: true, attempts: 2 } });
    expect(item.error!.message).toMatch(/stopped before "head" with \d+ ms left of the function's time \(3000 ms are kept/);
  });

  it("a redriven event with time enough completes the object", async () => {
    const result = await handler(body(1), context(60_000));
    expect(result.batchItemFailures).toEqual([]);
    expect(await t.item("clock", "late.jpg")).toMatchObject({ status: "done", renditions: [{ name: "thumb" }, { name: "preview" }] });
  });
});
