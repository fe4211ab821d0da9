/** Security properties of the runtime and the local platform. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renditionKey } from "../../runtime/keys";
import { parseTenants, TenantConfigError } from "../../contract/tenant-config";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const parent = mkdtempSync(path.join(os.tmpdir(), "secure-"));
const dataDir = path.join(parent, "data");
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform([{ name: "secure", metadata: { keepGps: true } }], { dataDir });
});
afterAll(async () => {
  await t?.stop();
  rmSync(parent, { recursive: true, force: true });
});

/** The local addresses the kernel lists as listening on a port (IPv4 and IPv6), from /proc/net. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols[3] === "0A" && cols[1]?.endsWith(`:${hexPort}`))
      .map((cols) => cols[1]!.split(":")[0]!),
  );
}

const canConnect = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });

describe("the local platform", () => {
  it("listens on loopback only", async () => {
    for (const endpoint of [t.platform.endpoints.s3, t.platform.endpoints.dynamodb]) {
      const url = new URL(endpoint);
      expect(url.hostname).toBe("127.0.0.1");
      expect(await canConnect("127.0.0.1", Number(url.port))).toBe(true);
      // 0100007F is 127.0.0.1; 00000000 (0.0.0.0) or any IPv6 wildcard would expose the emulator.
      expect(listeningAddresses(Number(url.port))).toEqual(["0100007F"]);
    }
  });

  it("keeps keys that try to climb out of the data directory inside it", async () => {
    const before = readdirSync(parent).sort();
    const keys = ["../../escape.jpg", "../../../../tmp/escape.jpg", "/etc/escape.jpg", "a/../../../escape.jpg"];
    for (const key of keys) await t.upload("secure", key, await jpegWithExif({ width: 100, height: 100 }));
    await t.drain();
    for (const key of keys) expect(await t.item("secure", key), key).toMatchObject({ status: "done", objectKey: key });
    expect(readdirSync(parent).sort()).toEqual(before);
    expect(readdirSync(os.tmpdir())).not.toContain("escape.jpg");
  });
});

describe("renditions", () => {
  it("never carry GPS, EXIF or XMP, even for a tenant that keeps GPS in its table", async () => {
    const key = "gps/photo.jpg";
    await t.upload("secure", key, await jpegWithExif({ gps: { latitude: 40.7, longitude: -74 }, dateTimeOriginal: "2024:01:01 00:00:00" }));
    await t.drain();
    expect((await t.item("secure", key))!.gps).toBeDefined();
    for (const [name, format] of [
      ["thumb", "webp"],
      ["preview", "jpeg"],
    ] as const) {
      const body = (await t.proxyObject("secure", renditionKey(name, key, format)))!;
      const meta = await sharp(body).metadata();
      expect(meta.exif, name).toBeUndefined();
      expect(meta.xmp, name).toBeUndefined();
      expect(body.includes(Buffer.from("Exif\0\0"))).toBe(false);
    }
  });
});

describe("sharp's pixel limit", () => {
  it("cannot be switched off or raised without bound in the tenant config", () => {
    for (const maxInputPixels of [0, -1, false, 2 ** 33]) {
      expect(() => parseTenants([{ name: "x1", limits: { maxInputPixels } }])).toThrow(TenantConfigError);
    }
  });
});
