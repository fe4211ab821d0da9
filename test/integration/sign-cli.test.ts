/**
 * `npm run sign` as a new user runs it: the dev stack's tenants on the local platform, a photo
 * uploaded, a URL printed by the CLI (a child process) and fetched as printed.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeEndpointsFile } from "../../local/endpoints-file";
import { loadOrCreateSigningKeys } from "../../local/signing-keys";
import { loadStackTenants } from "../../local/stack-config";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const run = promisify(execFile);
const tsx = path.resolve("node_modules/.bin/tsx");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "sign-cli-"));
const tenants = loadStackTenants("dev");
const tenant = tenants.find((t) => t.onDemand.enabled)!.name;
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform(tenants, { signingKeys: loadOrCreateSigningKeys(dataDir, tenants) });
  writeEndpointsFile(dataDir, t.platform);
  await t.upload(tenant, "holiday/IMG 2041.jpg", await jpegWithExif({ width: 1600, height: 1200 }));
  await t.drain();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const sign = (...args: string[]) => run(tsx, ["cli/sign.ts", ...args], { env: { ...process.env, LOCAL_STACK: "dev" } });
const lastLine = (stdout: string) => stdout.trim().split("\n").pop()!;

describe("npm run sign", () => {
  it("prints, as its last line, a URL that works as printed against the local platform", async () => {
    const { stdout } = await sign(tenant, "holiday/IMG 2041.jpg", "w1024.auto", "--data-dir", dataDir, "--expires-in", "600");
    const url = lastLine(stdout);
    expect(url.startsWith(t.platform.tenants.get(tenant)!.onDemand!.url)).toBe(true);
    const response = await fetch(url, { headers: { accept: "image/webp,*/*" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect((await sharp(Buffer.from(await response.arrayBuffer())).metadata()).width).toBe(1024);
  });

  it("signs for a deployed stack from its outputs, with the stack's key", async () => {
    const local = t.platform.tenants.get(tenant)!.onDemand!;
    // What `pulumi stack output --json --show-secrets` prints, pointed at the local endpoint.
    const outputs = path.join(dataDir, "outputs.json");
    writeFileSync(
      outputs,
      JSON.stringify({
        tenantOutputs: { [tenant]: { onDemand: { url: `${local.url}/`, signingKeyId: local.keys.signingKeyId, signingKeys: local.keys.keys } } },
      }),
    );
    const { stdout } = await sign(tenant, "holiday/IMG 2041.jpg", "thumb", "--stack", "dev", "--outputs", outputs);
    expect((await fetch(lastLine(stdout))).status).toBe(200);
  });

  it("refuses a variant the tenant does not offer, naming the ones it does", async () => {
    await expect(sign(tenant, "holiday/IMG 2041.jpg", "w999.webp", "--data-dir", dataDir)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/does not offer variant "w999.webp".*w1024\.auto/),
    });
  });

  it("says what --expires-in allows when given a negative number, and lists its options on --help", async () => {
    await expect(sign(tenant, "a.jpg", "w320.webp", "--expires-in", "-5", "--data-dir", dataDir)).rejects.toMatchObject({
      code: 2,
      stderr: 'sign: --expires-in must be a positive number of seconds, not "-5"\n',
    });
    const help = await sign("--help");
    expect(help.stdout).toMatch(/^usage: npm run sign -- <tenant> <source key> <variant> \[--expires-in 3600\]/);
    await expect(sign(tenant, "a.jpg", "w320.webp", "--expires", "5")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^sign: unknown option --expires \(did you mean --expires-in\?\)\nusage: npm run sign/),
    });
  });

  it("refuses a tenant without on-demand renditions", async () => {
    const plain = tenants.find((x) => !x.onDemand.enabled)!.name;
    await expect(sign(plain, "a.jpg", "thumb", "--data-dir", dataDir)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/does not have on-demand renditions/),
    });
  });
});
