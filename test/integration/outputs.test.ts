/**
 * An attempt decides (release the key for a retry, or record the failure) only once every PUT it
 * started has settled: otherwise a late PUT of a failed attempt can land after a retry, or a newer
 * event, has written its own outputs.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDependencies } from "../../runtime/dependencies";
import { TransientError } from "../../runtime/errors";
import { parseInvocation } from "../../runtime/events";
import { localProcessorEnvironment } from "../../local/platform";
import { processEvent } from "../../runtime/process-object";
import { jpegWithExif } from "../../fixtures/images";
import { notification, startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform([{ name: "puts" }], { notifications: false });
});
afterAll(() => t?.stop());

describe("the output PUTs of one attempt", () => {
  it("all settle before the attempt gives up and releases the key", async () => {
    const tenant = t.platform.tenants.get("puts")!;
    const eTag = await t.upload("puts", "photo.jpg", await jpegWithExif());
    const deps = createDependencies({ PATH: process.env.PATH, ...localProcessorEnvironment(tenant) }, t.platform.clients, pino({ level: "silent" }));
    const real = deps.s3;
    let slowPutLanded = false;
    // The preview's PUT fails at once (a 503 out of retries); the thumbnail's takes a while, then lands.
    deps.s3 = {
      send: async (command: unknown, ...rest: unknown[]) => {
        if (command instanceof PutObjectCommand && command.input.Key?.startsWith("preview/")) {
          throw Object.assign(new Error("Service Unavailable"), { name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } });
        }
        if (command instanceof PutObjectCommand && command.input.Key?.startsWith("thumb/")) {
          await new Promise((resolve) => setTimeout(resolve, 300));
          const result = await (real.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
          slowPutLanded = true;
          return result;
        }
        return (real.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
      },
    } as unknown as S3Client;
    const [event] = parseInvocation(JSON.parse(notification(tenant.sourceBucket, "photo.jpg", "ObjectCreated:Put", "0A", eTag)))[0]!.events;
    const failure = await processEvent(deps, event!, { receiveCount: 1, maxReceiveCount: 5 }, pino({ level: "silent" })).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(TransientError);
    // Had the attempt decided on the first rejection, the thumbnail's PUT would still be in flight here.
    expect(slowPutLanded).toBe(true);
    expect((await t.item("puts", "photo.jpg"))!.leaseUntil).toBe(0);
    await deps.extractor.close();
  });
});
