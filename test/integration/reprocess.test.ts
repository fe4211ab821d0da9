/**
 * `npm run reprocess` on the local platform, 1,000 objects: a config change, a run stopped by a real
 * Ctrl-C while a batch is in flight and resumed (every object sent exactly once), the synthetic
 * events processed by the pipeline (all redone with the new config), then a second run that sends
 * nothing. Then what cannot be staged with a CLI: a run that dies mid-send, the table's failed items,
 * and synthetic events racing real ones.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyBusyError } from "../../runtime/errors";
import { REPROCESS_FIELD, SEQUENCER_WIDTH, type ReprocessMark } from "../../runtime/events";
import { renditionKey } from "../../runtime/keys";
import { localEndpoints } from "../../local/endpoints-file";
import { notificationKeys } from "../../ops/dead-letters";
import { CheckpointFile, runReprocess, startOrResume, type ReprocessTarget } from "../../ops/reprocess";
import { MetadataStore, type ObjectItem } from "../../runtime/store";
import { outputConfigHash, parseTenants, type TenantInput } from "../../contract/tenant-config";
import { FaultProxy } from "../../fixtures/fault-proxy";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const TENANT = "re";
const OBJECTS = 1_000;
const before: TenantInput = { name: TENANT, renditions: [{ name: "thumb", width: 32, height: 32, fit: "cover", format: "webp" }] };
const after: TenantInput = { ...before, renditions: [...before.renditions!, { name: "tiny", width: 16, format: "jpeg" }] };
const hashBefore = outputConfigHash(parseTenants([before])[0]!);
const hashAfter = outputConfigHash(parseTenants([after])[0]!);
const keys = Array.from({ length: OBJECTS }, (_, i) => `backfill/${String(i).padStart(4, "0")}.png`);

const dataDir = mkdtempSync(path.join(os.tmpdir(), "reprocess-"));
const cliDir = path.join(dataDir, "cli");
const tsx = path.resolve("node_modules/.bin/tsx");
let t: TestPlatform;

async function putAll(s3: S3Client, bucket: string, objects: { key: string; body: Buffer; contentType: string }[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < objects.length) {
        const { key, body, contentType } = objects[next++]!;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
      }
    }),
  );
}

async function allItems(): Promise<ObjectItem[]> {
  const store = new MetadataStore(t.platform.clients.dynamo, t.platform.tenants.get(TENANT)!.table);
  const found = await Promise.all(keys.map(async (k) => [k, await store.get(k)] as const));
  return found.map(([k, item]) => {
    if (!item) throw new Error(`no item for ${k}`);
    return item;
  });
}

/** The captured messages, into the tenant's queue: processed like any event. */
async function processMessages(bodies: string[]): Promise<void> {
  const queueUrl = t.platform.tenants.get(TENANT)!.queueUrl;
  for (let i = 0; i < bodies.length; i += 10) {
    await t.platform.clients.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })) }),
    );
  }
  await t.platform.drain(30 * 60_000);
}

/** Every message of a queue, removed from it. */
async function takeAll(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const batch = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300 }));
    const messages = batch.Messages ?? [];
    if (messages.length === 0) return bodies;
    bodies.push(...messages.map((m) => m.Body!));
    await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
    );
  }
}

const markOf = (body: string) => (JSON.parse(body) as { Records: Record<string, ReprocessMark>[] }).Records[0]![REPROCESS_FIELD]!;
const sequencerOf = (body: string) => (JSON.parse(body) as { Records: { s3: { object: { sequencer: string } } }[] }).Records[0]!.s3.object.sequencer;

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process; `onStderr` sees its error stream as it comes (e.g. to wait for a line). */
function reprocessCli(
  args: string[],
  onStderr?: (text: string) => void,
  env: Record<string, string> = {},
): Promise<CliRun> & { pid?: number; kill(signal: NodeJS.Signals): void } {
  const child = spawn(tsx, ["cli/reprocess.ts", "--tenant", TENANT, "--data-dir", cliDir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr?.(stderr);
  });
  const done = new Promise<CliRun>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return Object.assign(done, { pid: child.pid, kill: (signal: NodeJS.Signals) => child.kill(signal) });
}

/** The summary line "  <label>  <number>" of the CLI's output. */
function summaryNumber(stdout: string, label: string): number {
  const match = new RegExp(`^\\s+${label}\\s+(\\d+)`, "m").exec(stdout);
  if (!match) throw new Error(`no "${label}" in:\n${stdout}`);
  return Number(match[1]);
}

const captureQueue = { url: "" };
const sqsProxy = new FaultProxy();

beforeAll(async () => {
  // The objects, processed with the config before the change.
  const first = await startTestPlatform([before], { dataDir });
  const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 90, b: 20 } } })
    .png()
    .toBuffer();
  await putAll(
    first.platform.clients.s3,
    first.platform.tenants.get(TENANT)!.sourceBucket,
    keys.map((key) => ({ key, body: png, contentType: "image/png" })),
  );
  await first.platform.drain(30 * 60_000);
  await first.stop();

  // The config changes: the platform restarts with a rendition more, on the same data.
  t = await startTestPlatform([after], { dataDir });
  const endpoints = localEndpoints(t.platform);
  // The CLI sends to a queue of its own through a proxy: the test counts what was sent before
  // anything is processed, and can hold a batch in flight.
  captureQueue.url = (await t.platform.clients.sqs.send(new CreateQueueCommand({ QueueName: "reprocess-capture" }))).QueueUrl!;
  sqsProxy.upstream = endpoints.sqs;
  await sqsProxy.start();
  mkdirSync(cliDir, { recursive: true });
  writeFileSync(
    path.join(cliDir, "endpoints.json"),
    JSON.stringify({ ...endpoints, sqs: sqsProxy.url, tenants: { [TENANT]: { ...endpoints.tenants[TENANT]!, queueUrl: captureQueue.url } } }),
  );
}, 60 * 60_000);

afterAll(async () => {
  await sqsProxy.stop();
  await t?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("npm run reprocess, 1,000 objects on the local platform", () => {
  let runId = "";

  it("starts from 1,000 items made with the config before the change", async () => {
    const items = await allItems();
    expect(items.every((i) => i.status === "done" && i.configHash === hashBefore)).toBe(true);
    expect(hashAfter).not.toBe(hashBefore);
  });

  it(
    "stops on Ctrl-C after the batch in flight, resumes from its checkpoint, and sends every object exactly once",
    async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const heldBatch = new Promise<void>((resolve) => {
        sqsProxy.add({
          name: "fourth batch",
          kind: "hold",
          times: 1,
          until: held,
          match: (req) => req.operation === "SendMessageBatch" && sqsProxy.forwarded >= 3,
          onHeld: () => resolve(),
        });
      });
      let sawStopping!: () => void;
      const stopping = new Promise<void>((resolve) => (sawStopping = resolve));
      const first = reprocessCli(["--rate", "100000"], (stderr) => {
        if (stderr.includes("stopping after the batch being sent")) sawStopping();
      });
      await heldBatch; // the fourth batch is in flight...
      first.kill("SIGINT"); // ...when the operator presses Ctrl-C
      await stopping;
      release();
      const interrupted = await first;
      expect(interrupted.code, interrupted.stderr).toBe(130);
      expect(interrupted.stdout).toContain("interrupted");
      expect(summaryNumber(interrupted.stdout, "enqueued")).toBe(40);
      const checkpoint = new CheckpointFile(path.join(cliDir, "reprocess", `local-${TENANT}.json`)).load()!;
      expect(checkpoint).toMatchObject({ cursor: { afterKey: keys[39] }, counts: { enqueued: 40, resent: 0 } });
      expect(checkpoint.pending).toBeUndefined();
      runId = checkpoint.runId;

      const resumed = await reprocessCli(["--rate", "100000"]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toContain(`resuming run ${runId}`);
      // The progress bar (not a terminal here: cli-progress prints it as lines) counts what was left.
      expect(resumed.stderr).toMatch(new RegExp(`${OBJECTS - 40}/${OBJECTS - 40} objects \\| [0-9.]+ objects/s \\| ETA`));
      expect(resumed.stdout).toContain("complete");
      expect(summaryNumber(resumed.stdout, "enqueued")).toBe(OBJECTS);
      expect(summaryNumber(resumed.stdout, "listed")).toBe(OBJECTS);

      const bodies = await takeAll(t.platform.clients.sqs, captureQueue.url);
      const sent = countBy(bodies.flatMap(notificationKeys));
      expect(bodies).toHaveLength(OBJECTS);
      expect([...sent.keys()].sort()).toEqual(keys);
      expect([...sent.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(bodies.map((b) => markOf(b).runId))).toEqual(new Set([runId]));
      // Each carries the sequencer of the item it saw: it can only redo that state.
      const items = new Map((await allItems()).map((i) => [i.objectKey, i]));
      expect(bodies.every((b) => sequencerOf(b) === items.get(notificationKeys(b)[0]!)!.sequencer)).toBe(true);

      // Processed by the pipeline like any event: every object redone with the new config.
      await processMessages(bodies);
      const redone = await allItems();
      expect(redone.filter((i) => i.status === "done" && i.configHash === hashAfter && i.reprocessRun === runId)).toHaveLength(OBJECTS);
      expect(
        redone.every(
          (i) =>
            i.renditions
              ?.map((r) => r.name)
              .sort()
              .join() === "thumb,tiny",
        ),
      ).toBe(true);
      expect(await t.proxyObject(TENANT, renditionKey("tiny", keys[OBJECTS - 1]!, "jpeg"))).toBeDefined();
    },
    30 * 60_000,
  );

  it(
    "a second run sends nothing: every item already matches the config",
    async () => {
      const again = await reprocessCli(["--rate", "100000"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("complete");
      expect(summaryNumber(again.stdout, "enqueued")).toBe(0);
      expect(summaryNumber(again.stdout, "skipped")).toBe(OBJECTS);
      expect(await takeAll(t.platform.clients.sqs, captureQueue.url)).toEqual([]);
    },
    10 * 60_000,
  );

  it(
    "--dry-run counts what --force would send and sends nothing",
    async () => {
      const dry = await reprocessCli(["--dry-run", "--force", "--prefix", "backfill/00"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(summaryNumber(dry.stdout, "would enqueue")).toBe(100);
      expect(await takeAll(t.platform.clients.sqs, captureQueue.url)).toEqual([]);
      // The platform's own files (overlays) are never uploads: listed, not sent.
      await t.upload(
        TENANT,
        "_platform/overlays/mark.png",
        await sharp({ create: { width: 8, height: 8, channels: 4, background: "#fff" } })
          .png()
          .toBuffer(),
      );
      const platformFiles = await reprocessCli(["--dry-run", "--force", "--prefix", "_platform/"]);
      expect([summaryNumber(platformFiles.stdout, "listed"), summaryNumber(platformFiles.stdout, "would enqueue")]).toEqual([1, 0]);
    },
    10 * 60_000,
  );
});

describe("npm run reprocess against a stack", () => {
  it(
    "takes the stack's names as flags and uses the user's AWS configuration (here: endpoints of the emulators)",
    async () => {
      const endpoints = localEndpoints(t.platform);
      const tenant = endpoints.tenants[TENANT]!;
      const names = ["--source-bucket", tenant.sourceBucket, "--table", tenant.table, "--queue-url", captureQueue.url, "--config-hash", tenant.configHash];
      const userAws = {
        AWS_ENDPOINT_URL_S3: endpoints.s3,
        AWS_ENDPOINT_URL_SQS: endpoints.sqs,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_REGION: endpoints.region,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
      };
      const run = await reprocessCli(["--stack", "prod", ...names, "--prefix", "backfill/09", "--force", "--rate", "100000"], undefined, userAws);
      expect(run.code, run.stderr).toBe(0);
      expect(summaryNumber(run.stdout, "enqueued")).toBe(100);
      expect(run.stdout).toContain(path.join("reprocess", `stack-prod-${TENANT}.json`));
      const bodies = await takeAll(t.platform.clients.sqs, captureQueue.url);
      expect(bodies.flatMap(notificationKeys).sort()).toEqual(keys.slice(900, 1000));
    },
    10 * 60_000,
  );
});

describe("reprocess runs that the CLI cannot stage", () => {
  const target = (queueUrl: string, sqs = t.platform.clients.sqs): ReprocessTarget => {
    const tenant = t.platform.tenants.get(TENANT)!;
    return {
      s3: t.platform.clients.s3,
      sqs,
      store: new MetadataStore(t.platform.clients.dynamo, tenant.table),
      sourceBucket: tenant.sourceBucket,
      queueUrl,
      configHash: hashAfter,
    };
  };

  it(
    "a run that dies while sending sends that one batch again on resume, and the pipeline redoes each object once",
    async () => {
      const file = new CheckpointFile(path.join(dataDir, "crash.json"));
      const selection = { prefix: "backfill/01", force: true };
      const { checkpoint } = startOrResume(file, TENANT, selection);
      // The third SendMessageBatch reaches the queue, then the process "dies" before its checkpoint.
      let sends = 0;
      const sqs = t.platform.clients.sqs;
      const dying = {
        send: async (command: Parameters<SQSClient["send"]>[0]) => {
          const result = await sqs.send(command as never);
          if (++sends === 3) throw new Error("killed");
          return result;
        },
      } as unknown as SQSClient;
      await expect(runReprocess(target(captureQueue.url, dying), checkpoint, file, { rate: 1e6 })).rejects.toThrow("killed");
      const died = file.load()!;
      expect(died.pending?.entries.map((e) => e.key)).toEqual(keys.slice(120, 130));

      const resumed = startOrResume(file, TENANT, selection);
      expect(resumed.resumed).toBe(true);
      const result = await runReprocess(target(captureQueue.url), resumed.checkpoint, file, { rate: 1e6 });
      expect(result.complete).toBe(true);
      expect(result.checkpoint.counts).toMatchObject({ listed: 100, enqueued: 100, resent: 10 });

      const bodies = await takeAll(t.platform.clients.sqs, captureQueue.url);
      const sent = countBy(bodies.flatMap(notificationKeys));
      expect([...sent.keys()].sort()).toEqual(keys.slice(100, 200));
      expect(
        [...sent]
          .filter(([, n]) => n === 2)
          .map(([k]) => k)
          .sort(),
      ).toEqual(keys.slice(120, 130));
      expect([...sent.values()].every((n) => n <= 2)).toBe(true);

      const outcomesBefore = t.outcomes.length;
      await processMessages(bodies);
      const outcomes = t.outcomes.slice(outcomesBefore);
      expect(outcomes.filter((o) => o.status === "done")).toHaveLength(100);
      expect(
        outcomes
          .filter((o) => o.status === "skipped")
          .map((o) => [o.key, o.reason])
          .sort(),
      ).toEqual(keys.slice(120, 130).map((k) => [k, "already redone by this reprocess run"]));
    },
    30 * 60_000,
  );

  it(
    "--status failed lists the table's failed items, resumes there too, and redoes them even under the same config",
    async () => {
      const broken = ["broken/a.jpg", "broken/b.jpg", "broken/c.jpg"];
      for (const key of broken) await t.upload(TENANT, key, Buffer.from("not a jpeg at all"), "image/jpeg");
      await t.platform.drain(10 * 60_000);
      for (const key of broken) expect(await t.item(TENANT, key)).toMatchObject({ status: "failed", configHash: hashAfter });

      const file = new CheckpointFile(path.join(dataDir, "failed.json"));
      const selection = { status: "failed" as const, force: false };
      const stop = new AbortController();
      const { checkpoint } = startOrResume(file, TENANT, selection);
      // One object per group: the run stops after its first send, like a Ctrl-C there.
      const first = await runReprocess(target(captureQueue.url), checkpoint, file, {
        rate: 1e6,
        groupSize: 1,
        signal: stop.signal,
        onProgress: (p) => p.counts.enqueued === 1 && stop.abort(),
      });
      expect(first.complete).toBe(false);
      const resumed = startOrResume(file, TENANT, selection);
      const second = await runReprocess(target(captureQueue.url), resumed.checkpoint, file, { rate: 1e6 });
      expect(second.complete).toBe(true);
      expect(second.checkpoint.counts).toMatchObject({ enqueued: 3, skippedCurrent: 0 });

      const bodies = await takeAll(t.platform.clients.sqs, captureQueue.url);
      expect(bodies.flatMap(notificationKeys).sort()).toEqual(broken);
      expect(bodies.every((b) => markOf(b).force)).toBe(true);
    },
    10 * 60_000,
  );

  it(
    "a synthetic event never beats a newer real event of its key, whichever is processed first",
    async () => {
      const tenant = t.platform.tenants.get(TENANT)!;
      const store = new MetadataStore(t.platform.clients.dynamo, tenant.table);
      const key = "race/photo.jpg";
      await t.upload(TENANT, key, await jpegWithExif({ width: 64, height: 48 }));
      await t.platform.drain(10 * 60_000);
      const seen = (await store.get(key))!;
      const reprocess = { runId: "race-run", force: true, configHash: hashAfter };

      // Real first: the synthetic event still names the state it saw, which is gone.
      const newer = `${"9".repeat(SEQUENCER_WIDTH - 1)}1`;
      expect(await store.claim(key, newer, 60_000, "ObjectCreated:Put")).toMatchObject({ outcome: "claimed" });
      expect(await store.claim(key, seen.sequencer, 60_000, "ObjectCreated:Reprocess", reprocess)).toMatchObject({ outcome: "stale" });
      await store.finish({ ...seen, sequencer: newer, status: "done" });
      expect(await store.claim(key, seen.sequencer, 60_000, "ObjectCreated:Reprocess", reprocess)).toMatchObject({ outcome: "stale" });

      // Synthetic first: the real event waits for it, then wins.
      const other = "race/second.jpg";
      await t.upload(TENANT, other, await jpegWithExif({ width: 64, height: 48 }));
      await t.platform.drain(10 * 60_000);
      const before = (await store.get(other))!;
      expect(await store.claim(other, before.sequencer, 60_000, "ObjectCreated:Reprocess", reprocess)).toMatchObject({ outcome: "claimed" });
      const real = `${"9".repeat(SEQUENCER_WIDTH - 1)}2`;
      await expect(store.claim(other, real, 60_000, "ObjectCreated:Put")).rejects.toBeInstanceOf(KeyBusyError);
      expect(await store.finish({ ...before, status: "done", reprocessRun: reprocess.runId })).toBeDefined();
      expect(await store.claim(other, real, 60_000, "ObjectCreated:Put")).toMatchObject({ outcome: "claimed" });
      // Once redone by the run, the same run's event is a no-op; an item already current needs no run at all.
      await store.finish({ ...before, sequencer: real, status: "done", configHash: hashAfter });
      expect(await store.claim(other, real, 60_000, "ObjectCreated:Reprocess", { ...reprocess, force: false })).toMatchObject({ outcome: "current" });
    },
    10 * 60_000,
  );

  it(
    "counts a failure a retry would not change apart from the items that match the config",
    async () => {
      await t.upload(TENANT, "failedcount/ok.jpg", await jpegWithExif({ width: 64, height: 48 }));
      await t.upload(TENANT, "failedcount/text.jpg", Buffer.from("not a photo\n"));
      await t.platform.drain(10 * 60_000);
      const file = new CheckpointFile(path.join(dataDir, "failedcount.json"));
      const { checkpoint } = startOrResume(file, TENANT, { prefix: "failedcount/", force: false });
      const result = await runReprocess(target(captureQueue.url), checkpoint, file, { rate: 1e6 });
      expect(result.checkpoint.counts).toMatchObject({ listed: 2, enqueued: 0, skippedCurrent: 1, skippedFailed: 1 });
    },
    10 * 60_000,
  );
});
