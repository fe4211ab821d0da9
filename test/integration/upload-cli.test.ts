/**
 * `npm run upload` against a running platform (the test platform, its endpoints.json in a folder of
 * its own, given with --data-dir): it prints each object's outcome and exits 0; Ctrl-C while it
 * waits ends it with 130 and takes its subscription to the tenant's outcome topic with it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { ListSubscriptionsByTopicCommand } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jpegWithExif } from "../../fixtures/images";
import { writeEndpointsFile } from "../../local/endpoints-file";
import { startTestPlatform, type TestPlatform } from "../support/platform";

let t: TestPlatform;
let dataDir: string;
let photo: string;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "cli" }]);
  dataDir = mkdtempSync(path.join(os.tmpdir(), "upload-cli-data-"));
  writeEndpointsFile(dataDir, t.platform);
  photo = path.join(mkdtempSync(path.join(os.tmpdir(), "upload-cli-files-")), "harbour.jpg");
  writeFileSync(photo, await jpegWithExif({ width: 1200, height: 800 }));
});

afterAll(async () => {
  await t?.stop();
});

const topicArn = () => t.platform.tenants.get("cli")!.eventsTopicArn;
const subscriptionCount = async () => (await t.platform.clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn() }))).Subscriptions!.length;

/** The CLI in its own process, as `npm run upload` starts it; `printed` resolves once stdout holds `text`. */
function upload(...args: string[]) {
  const child = spawn(path.resolve("node_modules/.bin/tsx"), ["local/upload-cli.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const watchers: { text: string; resolve: () => void }[] = [];
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const w of watchers) if (stdout.includes(w.text)) w.resolve();
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr })),
  );
  const printed = (text: string) => new Promise<void>((resolve) => (stdout.includes(text) ? resolve() : watchers.push({ text, resolve })));
  return { child, exited, printed };
}

describe("npm run upload against a running platform", () => {
  it("prints the object's outcome and exits 0, leaving no subscription behind", async () => {
    const before = await subscriptionCount();
    const { code, stdout, stderr } = await upload("cli", photo, "--prefix", "trip/", "--data-dir", dataDir).exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const bucket = t.platform.tenants.get("cli")!.sourceBucket;
    expect(stdout).toContain(`uploaded s3://${bucket}/trip/harbour.jpg\n`);
    expect(stdout).toMatch(/✓ trip\/harbour\.jpg: done — 2 renditions \(thumb 256x256, preview \d+x\d+\)\n/);
    expect(await subscriptionCount()).toBe(before);
  });

  it("Ctrl-C while it waits for outcomes exits 130 and removes its subscription", async () => {
    // A tenant whose bucket nobody processes: the CLI waits (up to 2 minutes) for an outcome that never comes.
    const unwatched = mkdtempSync(path.join(os.tmpdir(), "upload-cli-unwatched-"));
    const endpoints = JSON.parse(readFileSync(path.join(dataDir, "endpoints.json"), "utf8")) as { tenants: Record<string, { sourceBucket: string }> };
    endpoints.tenants.cli!.sourceBucket = "upload-cli-unwatched";
    writeFileSync(path.join(unwatched, "endpoints.json"), JSON.stringify(endpoints));
    await t.platform.clients.s3.send(new CreateBucketCommand({ Bucket: "upload-cli-unwatched" }));

    const before = await subscriptionCount();
    const cli = upload("cli", photo, "--data-dir", unwatched);
    // Uploaded: the CLI subscribed before its first upload, and now waits.
    await cli.printed("uploaded s3://upload-cli-unwatched/harbour.jpg");
    expect(await subscriptionCount()).toBe(before + 1);
    cli.child.kill("SIGINT");
    const { code, stderr } = await cli.exited;
    expect({ code, stderr }).toEqual({ code: 130, stderr: "" });
    expect(await subscriptionCount()).toBe(before);
  });

  it("names the folder it looked in when the platform is not running there", async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), "upload-cli-empty-"));
    const { code, stderr } = await upload("cli", photo, "--data-dir", empty).exited;
    expect(code).toBe(2);
    expect(stderr).toBe(
      `upload: the local platform is not running (no ${path.relative(process.cwd(), path.join(empty, "endpoints.json"))}): start it with \`npm start\` first\n`,
    );
  });
});
