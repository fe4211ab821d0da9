/**
 * `npm run test:soak`: 1,000 uploads across 3 tenants, concurrent, good and bad files mixed, some
 * overwritten and some deleted, with S3 and DynamoDB faults injected at a low rate. Then every
 * source key is reconciled against its table item and proxy objects: 0 lost, 0 stuck in
 * processing, every failure explained. Writes test/soak/results/latest.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { expect, it } from "vitest";
import { mapLimit } from "../../runtime/concurrency";
import { renditionKey, sidecarKey } from "../../runtime/keys";
import * as images from "../../fixtures/images";
import { startFaultyPlatform } from "../support/faulty-platform";

const UPLOADS = Number(process.env.SOAK_UPLOADS ?? 1000);
const FAULT_RATE = Number(process.env.SOAK_FAULT_RATE ?? 0.02);
const TENANTS = ["north", "south", "west"];
const CONCURRENCY = 16;

/** Deterministic pseudo-randomness, so a failing soak can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

it(`soaks ${UPLOADS} uploads across ${TENANTS.length} tenants with faults at ${FAULT_RATE * 100}%`, async () => {
  const random = rng(42);
  const faulty = await startFaultyPlatform(
    TENANTS.map((name) => ({ name, queue: { maxReceiveCount: 6 } })),
    (s3, dynamo) => {
      s3.add({ name: "s3 slowdown", kind: "s3-slowdown", rate: FAULT_RATE, match: () => true });
      s3.add({ name: "s3 reset mid body", kind: "reset-mid-body", rate: FAULT_RATE / 4, match: (r) => r.method === "GET" });
      dynamo.add({ name: "dynamodb throttling", kind: "ddb-throttle", rate: FAULT_RATE, match: () => true });
    },
    { maxAttempts: 3, requestTimeoutMs: 5_000 },
    { visibilityTimeoutSeconds: 2 },
  );
  const { t } = faulty;
  try {
    const good = await Promise.all([
      images.jpegWithExif({ width: 1600, height: 1200, orientation: 6, gps: { latitude: 1, longitude: 2 }, photoLike: true }),
      images.jpegWithExif({ width: 800, height: 600 }),
      images.png(640, 480),
      images.webp(900, 600),
      images.animatedGif(),
    ]);
    const bad: [Buffer, string][] = [
      [Buffer.alloc(0), "EMPTY_OBJECT"],
      [await images.truncatedJpeg(), "CORRUPT_IMAGE"],
      [Buffer.from("plain text, not a photo"), "UNSUPPORTED_FORMAT"],
      [images.pngBomb(), "TOO_MANY_PIXELS"],
    ];
    type Plan = { tenant: string; key: string; body: Buffer; expectCode?: string; overwrite?: Buffer; remove?: boolean };
    const plans: Plan[] = Array.from({ length: UPLOADS }, (_, i) => {
      const tenant = TENANTS[i % TENANTS.length]!;
      const roll = random();
      const key = `soak/${i % 7}/${i} ${roll < 0.5 ? "photo" : "image+scan"}.${roll < 0.15 ? "png" : "jpg"}`;
      if (roll < 0.1) {
        const [body, expectCode] = bad[Math.floor(random() * bad.length)]!;
        return { tenant, key, body, expectCode };
      }
      const plan: Plan = { tenant, key, body: good[Math.floor(random() * good.length)]! };
      const fate = random();
      if (fate < 0.05) plan.overwrite = good[Math.floor(random() * good.length)]!;
      else if (fate < 0.08) plan.remove = true;
      return plan;
    });

    const started = performance.now();
    await mapLimit(plans, CONCURRENCY, async (plan) => {
      await t.upload(plan.tenant, plan.key, plan.body);
      if (plan.overwrite) await t.upload(plan.tenant, plan.key, plan.overwrite);
      if (plan.remove) await t.remove(plan.tenant, plan.key);
    });
    await t.platform.drain(600_000);
    const seconds = (performance.now() - started) / 1000;

    // Reconcile every planned key against the table and the proxy bucket.
    const counts = {
      done: 0,
      failed: 0,
      deleted: 0,
      quarantined: 0,
      lost: 0,
      stuck: 0,
      unexplained: 0,
      wrongVersion: 0,
      missingRenditions: 0,
      leftoverRenditions: 0,
      deadLettered: 0,
    };
    const problems: string[] = [];
    await mapLimit(plans, CONCURRENCY, async (plan) => {
      const item = await t.item(plan.tenant, plan.key);
      if (!item) {
        counts.lost++;
        problems.push(`lost: ${plan.tenant} ${plan.key}`);
        return;
      }
      if (item.status === "processing") {
        counts.stuck++;
        problems.push(`stuck: ${plan.tenant} ${plan.key}`);
        return;
      }
      counts[item.status]++;
      const tenant = t.platform.tenants.get(plan.tenant)!;
      if (plan.remove) {
        if (item.status !== "deleted") problems.push(`${plan.key}: expected deleted, is ${item.status}`);
        for (const k of [renditionKey("thumb", plan.key, "webp"), renditionKey("preview", plan.key, "jpeg"), sidecarKey(plan.key)]) {
          if (await t.proxyObject(plan.tenant, k)) counts.leftoverRenditions++;
        }
        return;
      }
      if (item.status === "failed") {
        if (!item.error?.code || !item.error.message) counts.unexplained++;
        if (item.error?.retryable) counts.deadLettered++;
        else if (plan.expectCode && item.error?.code !== plan.expectCode) problems.push(`${plan.key}: ${item.error?.code} instead of ${plan.expectCode}`);
        if (!plan.expectCode && !item.error?.retryable) problems.push(`${plan.key}: a good file failed: ${item.error?.code} ${item.error?.message}`);
        return;
      }
      if (plan.expectCode) problems.push(`${plan.key}: a bad file (${plan.expectCode}) ended ${item.status}`);
      const head = await t.platform.clients.s3.send(new HeadObjectCommand({ Bucket: tenant.sourceBucket, Key: plan.key }));
      if (item.etag !== head.ETag?.replace(/"/g, "")) {
        counts.wrongVersion++;
        problems.push(`${plan.key}: item describes ${item.etag}, the object is ${head.ETag}`);
      }
      for (const r of item.renditions ?? []) {
        try {
          const rendition = await t.platform.clients.s3.send(new HeadObjectCommand({ Bucket: tenant.proxyBucket, Key: r.key }));
          if (rendition.Metadata?.["source-etag"] !== item.etag)
            problems.push(`${r.key}: rendered from ${rendition.Metadata?.["source-etag"]}, item says ${item.etag}`);
        } catch {
          counts.missingRenditions++;
        }
      }
    });
    const dlq = (await Promise.all(TENANTS.map((name) => t.deadLetters(name)))).flat().length;
    const injected = Object.fromEntries([...faulty.s3.injected, ...faulty.dynamo.injected]);
    const report = {
      uploads: UPLOADS,
      tenants: TENANTS.length,
      overwrites: plans.filter((p) => p.overwrite).length,
      deletes: plans.filter((p) => p.remove).length,
      badFiles: plans.filter((p) => p.expectCode).length,
      faultRate: FAULT_RATE,
      faultsInjected: injected,
      requestsForwarded: faulty.s3.forwarded + faulty.dynamo.forwarded,
      seconds: Math.round(seconds * 10) / 10,
      objectsPerSecond: Math.round((UPLOADS / seconds) * 10) / 10,
      counts,
      deadLetterMessages: dlq,
      retriedOutcomes: t.outcomes.filter((o) => o.reason?.startsWith("retrying")).length,
      problems: problems.slice(0, 50),
    };
    mkdirSync(path.join(__dirname, "results"), { recursive: true });
    writeFileSync(path.join(__dirname, "results", "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));

    expect(problems).toEqual([]);
    expect(counts.lost).toBe(0);
    expect(counts.stuck).toBe(0);
    expect(counts.unexplained).toBe(0);
    expect(counts.missingRenditions).toBe(0);
    expect(counts.leftoverRenditions).toBe(0);
    expect(counts.done + counts.failed + counts.deleted).toBe(UPLOADS);
    expect(Object.values(injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  } finally {
    await faulty.stop();
  }
}, 1_800_000);
