/**
 * Injected faults on loopback between the runtime and the emulated services, and a misbehaving
 * exiftool: transient faults are retried and end done; past the retry budget the message lands in
 * the dead-letter queue with the failure recorded; nothing half-written is left looking complete.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import { resolveExiftoolPaths } from "../../runtime/metadata/exiftool-paths";
import { jpegWithExif } from "../../fixtures/images";
import type { FaultProxy } from "../../fixtures/fault-proxy";
import { startFaultyPlatform } from "../support/faulty-platform";
import type { TenantInput } from "../../contract/tenant-config";
import { deliver, notification, startTestPlatform } from "../support/platform";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function buildWithProxies(configure: (s3: FaultProxy, dynamo: FaultProxy) => void, tenant: TenantInput) {
  const faulty = await startFaultyPlatform([tenant], configure, { maxAttempts: 2, requestTimeoutMs: 1_500 });
  cleanups.push(faulty.stop);
  return faulty;
}

const isKey = (key: string) => (r: { path: string; body: Buffer }) => r.path.endsWith(`/${key}`) || r.body.includes(Buffer.from(JSON.stringify(key)));

describe("transient faults", () => {
  it("are retried until every object is done", async () => {
    const { t, s3, dynamo } = await buildWithProxies(
      (s3, dynamo) => {
        s3.add({
          name: "slowdown on ranged read",
          kind: "s3-slowdown",
          times: 3,
          match: (r) => r.method === "GET" && !!r.headers.range && r.path.endsWith("a.jpg"),
        });
        s3.add({ name: "500 on head", kind: "s3-internal", times: 3, match: (r) => r.method === "HEAD" && r.path.endsWith("b.jpg") });
        s3.add({
          name: "reset mid ranged body",
          kind: "reset-mid-body",
          times: 2,
          match: (r) => r.method === "GET" && !!r.headers.range && r.path.endsWith("c.jpg"),
        });
        s3.add({
          name: "download slower than the timeout",
          kind: "slow",
          delayMs: 4_000,
          times: 2,
          match: (r) => r.method === "GET" && !r.headers.range && r.path.endsWith("d.jpg"),
        });
        s3.add({
          name: "500 on rendition write",
          kind: "s3-internal",
          times: 3,
          match: (r) => r.method === "PUT" && r.path.includes("/preview/") && r.path.endsWith("e.jpg.jpg"),
        });
        dynamo.add({ name: "throttled claim", kind: "ddb-throttle", times: 3, match: (r) => r.operation === "UpdateItem" && isKey("f.jpg")(r) });
        dynamo.add({ name: "500 on final write", kind: "ddb-internal", times: 3, match: (r) => r.operation === "PutItem" && isKey("g.jpg")(r) });
      },
      { name: "faulty", queue: { maxReceiveCount: 5 } },
    );
    const keys = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg", "g.jpg"];
    const image = await jpegWithExif({ width: 600, height: 400, photoLike: true });
    for (const key of keys) await t.upload("faulty", key, image);
    await t.drain();
    for (const key of keys) expect(await t.item("faulty", key), key).toMatchObject({ status: "done" });
    for (const rule of [...s3.rules, ...dynamo.rules]) expect(s3.injected.get(rule.name) ?? dynamo.injected.get(rule.name), rule.name).toBeGreaterThan(0);
    expect(await t.deadLetters("faulty")).toEqual([]);
  });
});

describe("past the retry budget", () => {
  it("the failure is recorded, the message is dead-lettered, and no rendition is left visible", async () => {
    const { t } = await buildWithProxies(
      (s3) => {
        // Renditions of this object can never be written completely: the preview PUT always fails.
        s3.add({ name: "preview write always fails", kind: "s3-internal", match: (r) => r.method === "PUT" && r.path.includes("/preview/doomed.jpg") });
      },
      { name: "faulty", queue: { maxReceiveCount: 2 } },
    );
    await t.upload("faulty", "doomed.jpg", await jpegWithExif());
    await t.drain();
    const item = await t.item("faulty", "doomed.jpg");
    expect(item).toMatchObject({ status: "failed", error: { retryable: true, attempts: 2 } });
    expect(item!.error!.message).toMatch(/gave up after 2 attempts/);
    const dead = await t.deadLetters("faulty");
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!).Records[0].s3.object.key).toBe("doomed.jpg");
    for (const key of [renditionKey("thumb", "doomed.jpg", "webp"), renditionKey("preview", "doomed.jpg", "jpeg"), sidecarKey("doomed.jpg")]) {
      expect(await t.proxyObject("faulty", key), key).toBeUndefined();
    }
  });
});

describe("a DynamoDB conditional-check race", () => {
  it("two deliveries of one event processed at the same time end in one done item", async () => {
    const t = await startTestPlatform([{ name: "race" }], { notifications: false });
    cleanups.push(() => t.stop());
    const source = t.platform.tenants.get("race")!.sourceBucket;
    const eTag = await t.upload("race", "same.jpg", await jpegWithExif({ width: 1600, height: 1200, photoLike: true }));
    const event = notification(source, "same.jpg", "ObjectCreated:Put", "0A1B", eTag);
    deliver(t, "race", event);
    deliver(t, "race", event);
    await t.drain();
    expect(await t.item("race", "same.jpg")).toMatchObject({ status: "done", etag: eTag });
    const outcomes = t.outcomes.filter((o) => o.key === "same.jpg");
    expect(outcomes.filter((o) => o.status === "done")).toHaveLength(1);
    for (const o of outcomes.filter((o) => o.status !== "done")) expect(o.code ?? o.reason).toMatch(/KEY_BUSY|duplicate/);
  });
});

describe("a misbehaving exiftool", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bad-exiftool-"));
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    chmodSync(file, 0o755);
    return file;
  };

  it("that dies is replaced by the streaming fallback and the object ends done", async () => {
    const real = resolveExiftoolPaths({ PATH: process.env.PATH });
    const t = await startTestPlatform([{ name: "dies" }], {
      extraEnv: { EXIFTOOL_PATH: real.exiftool, EXIFTOOL_HELPER_PATH: script("dying-helper.pl", "exit 3;\n"), EXIFTOOL_TIMEOUT_MS: "5000" },
    });
    cleanups.push(() => t.stop());
    await t.upload("dies", "x.jpg", await jpegWithExif());
    await t.drain();
    expect(await t.item("dies", "x.jpg")).toMatchObject({ status: "done", metadataMethod: "stream", camera: "Acme Cam 1" });
  });

  it("that hangs is killed on its timeout; after the retry budget the failure is recorded", async () => {
    const t = await startTestPlatform([{ name: "hangs", queue: { maxReceiveCount: 2 } }], {
      extraEnv: {
        EXIFTOOL_PATH: script("exiftool", "sleep 3600;\n"),
        EXIFTOOL_HELPER_PATH: script("hanging-helper.pl", "sleep 3600;\n"),
        EXIFTOOL_TIMEOUT_MS: "400",
      },
    });
    cleanups.push(() => t.stop());
    const started = Date.now();
    await t.upload("hangs", "stuck.jpg", await jpegWithExif());
    await t.drain();
    const item = await t.item("hangs", "stuck.jpg");
    expect(item).toMatchObject({ status: "failed", error: { code: "EXIFTOOL_TIMEOUT", retryable: true, attempts: 2 } });
    expect(await t.deadLetters("hangs")).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
