/**
 * Failures you can query, and the dead-letter queue emptied back: the table's status index
 * (failed objects since a time, newest first, by a query), `npm run failures` and `npm run redrive`
 * as child processes against the local platform, and a table kept from before the index gaining it.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeEndpointsFile } from "../../local/endpoints-file";
import { startEmulators } from "../../local/emulators";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws";
import { tenantResourceNames } from "../../contract/naming";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { STATUS_INDEX, STATUS_SHARDS, statusShard } from "../../contract/table";
import { MetadataStore } from "../../runtime/store";
import { parseTenant } from "../../contract/tenant-config";
import { queueArn } from "../../cli/redrive";
import { jpegWithExif, pdf } from "../../fixtures/images";
import { notification, startTestPlatform, type TestPlatform } from "../support/platform";

const run = promisify(execFile);
const tsx = path.resolve("node_modules/.bin/tsx");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "ops-cli-"));
let t: TestPlatform;
// Tables take time to change, as in DynamoDB: the platform must wait for each one it creates.
const tableChangeMs = 300;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "ops" }], { tableChangeMs });
  writeEndpointsFile(dataDir, t.platform);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const store = () => new MetadataStore(t.platform.clients.dynamo, t.platform.tenants.get("ops")!.table);

describe("the status index", () => {
  let between: string;
  beforeAll(async () => {
    await t.upload("ops", "good/a.jpg", await jpegWithExif({ width: 300, height: 200 }));
    await t.upload("ops", "bad/first.jpg", Buffer.from("not an image at all"));
    await t.drain();
    between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await t.upload("ops", "bad/second.png", pdf());
    await t.upload("ops", "good/b.jpg", await jpegWithExif({ width: 200, height: 300 }));
    await t.drain();
  });

  it("lists failed objects newest first, and those since a time, by a query on the index", async () => {
    expect((await store().listByStatus("failed")).map((i) => i.objectKey)).toEqual(["bad/second.png", "bad/first.jpg"]);
    expect((await store().listByStatus("failed", { since: between })).map((i) => i.objectKey)).toEqual(["bad/second.png"]);
    expect((await store().listByStatus("done")).map((i) => i.objectKey).sort()).toEqual(["good/a.jpg", "good/b.jpg"]);
    const [latest] = await store().listByStatus("failed", { limit: 1 });
    expect(latest).toMatchObject({ objectKey: "bad/second.png", error: { code: expect.any(String) } });
  });

  it("npm run failures prints them with their code and reason", async () => {
    const { stdout } = await run(tsx, ["cli/failures.ts", "--tenant", "ops", "--data-dir", dataDir]);
    const lines = stdout.trim().split("\n");
    expect(lines.at(-1)).toBe("2 failed objects of tenant ops");
    const first = (await store().get("bad/second.png"))!;
    expect(lines[0]).toContain("bad/second.png");
    expect(lines[0]).toContain(`${first.error!.code}: ${first.error!.message.slice(0, 30)}`);
    const { stdout: since } = await run(tsx, ["cli/failures.ts", "--tenant", "ops", "--since", between, "--json", "--data-dir", dataDir]);
    expect((JSON.parse(since) as { objectKey: string }[]).map((i) => i.objectKey)).toEqual(["bad/second.png"]);
    // The tenant first, as upload, sign and similar take it, is the same command.
    const { stdout: tenantFirst } = await run(tsx, ["cli/failures.ts", "ops", "--data-dir", dataDir]);
    expect(tenantFirst).toBe(stdout);
  });

  it("spreads one status over every shard of the index, evenly, and lists it as one, oldest or newest first", async () => {
    const perShard = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) perShard.set(statusShard("done", `spread/${i}.jpg`), (perShard.get(statusShard("done", `spread/${i}.jpg`)) ?? 0) + 1);
    expect(perShard.size).toBe(STATUS_SHARDS);
    expect(Math.max(...perShard.values())).toBeLessThan((10_000 / STATUS_SHARDS) * 1.1);
    const keys = Array.from({ length: 30 }, (_, i) => `spread/${i}.jpg`);
    const spread = new MetadataStore(t.platform.clients.dynamo, t.platform.tenants.get("ops")!.table, () => Date.parse("2026-03-01T00:00:00.000Z"));
    for (const key of keys) {
      await spread.claim(key, "01", 60_000, "ObjectCreated:Put");
      await spread.finish({ objectKey: key, status: "done", sequencer: "01" });
    }
    const newest = (await store().listByStatus("done", { since: "2026-03-01T00:00:00.000Z" })).map((i) => i.objectKey).filter((k) => k.startsWith("spread/"));
    expect(newest).toEqual([...keys].sort().reverse()); // one instant: by key
    const oldest: string[] = [];
    for await (const item of store().itemsByStatus("done", { since: "2026-03-01T00:00:00.000Z", until: "2026-03-02T00:00:00.000Z" }))
      oldest.push(item.objectKey);
    expect(oldest).toEqual([...keys].sort());
    const resumed: string[] = [];
    const cursor = { objectKey: [...keys].sort()[9]!, status: "done" as const, updatedAt: "2026-03-01T00:00:00.000Z" };
    for await (const item of store().itemsByStatus("done", { since: "2026-03-01T00:00:00.000Z", until: "2026-03-02T00:00:00.000Z", startAfter: cursor }))
      resumed.push(item.objectKey);
    expect(resumed).toEqual([...keys].sort().slice(10));
  });

  it("npm run migrate-status-index gives items written before the sharded index their key, once", async () => {
    const table = t.platform.tenants.get("ops")!.table;
    await t.platform.clients.dynamo.send(
      new PutCommand({ TableName: table, Item: { objectKey: "before/shards.jpg", status: "failed", sequencer: "00", updatedAt: "2026-02-01T00:00:00.000Z" } }),
    );
    expect((await store().listByStatus("failed")).map((i) => i.objectKey)).not.toContain("before/shards.jpg");
    const { stdout } = await run(tsx, ["cli/migrate-status-index.ts", "--tenant", "ops", "--data-dir", dataDir]);
    expect(stdout.trim()).toBe("1 items of tenant ops given their status index key");
    expect((await store().listByStatus("failed")).map((i) => i.objectKey)).toContain("before/shards.jpg");
    const again = await run(tsx, ["cli/migrate-status-index.ts", "--tenant", "ops", "--data-dir", dataDir]);
    expect(again.stdout.trim()).toBe("0 items of tenant ops given their status index key");
  });

  it("is added to a table kept in .local/ from before it, keeping its items", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "old-table-"));
    const config = parseTenant({ name: "legacy" });
    const table = tenantResourceNames("local", config).table;
    const emulators = await startEmulators({ dataDir: dir, tableChangeMs });
    const dynamo = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: emulators.dynamoEndpoint });
    await dynamo.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        // The index before it was sharded: one partition per status.
        AttributeDefinitions: [
          { AttributeName: "objectKey", AttributeType: "S" },
          { AttributeName: "status", AttributeType: "S" },
          { AttributeName: "updatedAt", AttributeType: "S" },
        ],
        KeySchema: [{ AttributeName: "objectKey", KeyType: "HASH" }],
        GlobalSecondaryIndexes: [
          {
            IndexName: "byStatus",
            KeySchema: [
              { AttributeName: "status", KeyType: "HASH" },
              { AttributeName: "updatedAt", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
        ],
      }),
    );
    await waitUntilTableExists({ client: dynamo, minDelay: 0.05, maxDelay: 1, maxWaitTime: 300 }, { TableName: table });
    await dynamo.send(
      new PutItemCommand({
        TableName: table,
        Item: { objectKey: { S: "old.jpg" }, status: { S: "failed" }, sequencer: { S: "01" }, updatedAt: { S: "2026-01-01T00:00:00.000Z" } },
      }),
    );
    await emulators.stop();
    const restarted = await startTestPlatform([{ name: "legacy" }], { dataDir: dir, tableChangeMs });
    try {
      const described = await restarted.platform.clients.dynamo.send(new DescribeTableCommand({ TableName: table }));
      expect(described.Table!.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual([STATUS_INDEX.name]);
      await restarted.upload("legacy", "x.jpg", Buffer.from("nope"));
      await restarted.drain();
      expect((await new MetadataStore(restarted.platform.clients.dynamo, table).listByStatus("failed")).map((i) => i.objectKey)).toEqual(["x.jpg", "old.jpg"]);
    } finally {
      await restarted.stop();
    }
  });
});

describe("npm run redrive", () => {
  it("moves dead-lettered events back to the queue, where they are processed", async () => {
    const tenant = t.platform.tenants.get("ops")!;
    // An event that reached the dead-letter queue: a newer notification of an object that is there.
    const eTag = await t.upload("ops", "redriven/photo.jpg", await jpegWithExif({ width: 640, height: 480 }));
    await t.drain();
    const sequencer = "FFFFFFFFFFFFFFFF0000";
    const body = notification(tenant.sourceBucket, "redriven/photo.jpg", "ObjectCreated:Put", sequencer, eTag, 1);
    await t.platform.clients.sqs.send(new SendMessageCommand({ QueueUrl: tenant.deadLetterQueueUrl, MessageBody: body }));
    expect(await t.deadLetters("ops")).toHaveLength(1);
    const before = t.outcomes.filter((o) => o.key === "redriven/photo.jpg").length;
    const { stdout } = await run(tsx, ["cli/redrive.ts", "--tenant", "ops", "--data-dir", dataDir]);
    expect(stdout).toContain("moved 1 message from the dead-letter queue back to tenant ops's queue");
    await t.drain();
    expect(await t.deadLetters("ops")).toEqual([]);
    expect(
      t.outcomes
        .filter((o) => o.key === "redriven/photo.jpg")
        .slice(before)
        .map((o) => o.status),
    ).toEqual(["done"]);
    expect((await store().get("redriven/photo.jpg"))!.sequencer).toMatch(/FFFFFFFFFFFFFFFF0000$/);
  });

  it("derives a queue's ARN from its URL for SQS's message move task", () => {
    expect(queueArn("https://sqs.eu-west-1.amazonaws.com/123456789012/tip-dev-acme-events-dlq-abcdef1")).toBe(
      "arn:aws:sqs:eu-west-1:123456789012:tip-dev-acme-events-dlq-abcdef1",
    );
    expect(() => queueArn("http://127.0.0.1:4566/000000000000/q")).toThrow(/not an SQS queue URL/);
  });
});
