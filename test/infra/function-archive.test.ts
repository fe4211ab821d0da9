/**
 * The Lambda archive as it will be deployed: arm64 by default, the handler at the path the function
 * names, sharp's native package for the architecture, within Lambda's limits, reproducible. The x64
 * build is unpacked and its bundled handler run against the emulators, outside this repository's
 * node_modules, as Lambda would run it.
 */
import { execFileSync, spawn } from "node:child_process";
import dgram from "node:dgram";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildFunctionArchive, FUNCTIONS, LAMBDA_UNZIPPED_LIMIT, LAMBDA_ZIPPED_LIMIT, type FunctionName } from "../../components/function-code";
import { zipDirectory } from "../../layer/deterministic-zip";
import { ELF_MACHINES, inspectElf } from "../../layer/elf-check";
import { ENV } from "../../contract/environment";
import { resolveExiftoolPaths } from "../../runtime/metadata/exiftool-paths";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws";
import { localProcessorEnvironment, localRendererEnvironment } from "../../local/platform";
import { heifEncode, heifEncUnavailable } from "../../fixtures/heif";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";
import { keyHash } from "../../runtime/on-demand/variants";
import sharp from "sharp";

const tmp = mkdtempSync(path.join(os.tmpdir(), "archive-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function unzip(zip: string, into: string): string {
  execFileSync("unzip", ["-q", "-o", zip, "-d", into]);
  return into;
}

describe.each([
  ["processor", "arm64"],
  ["processor", "x86_64"],
  ["renderer", "arm64"],
  ["renderer", "x86_64"],
] as [FunctionName, "arm64" | "x86_64"][])("the %s's %s archive", (fn, architecture) => {
  it("holds the handler at its named path and sharp's native package for the architecture, within limits", async () => {
    const archive = await buildFunctionArchive(architecture, fn);
    const handler = FUNCTIONS[fn].handler;
    expect(archive.handler).toBe(handler);
    expect(archive.zippedBytes).toBeLessThan(LAMBDA_ZIPPED_LIMIT);
    expect(archive.unzippedBytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT / 4);
    const dir = unzip(archive.path, path.join(tmp, `${fn}-${architecture}`));
    const [file, exported] = handler.split(".");
    expect(readdirSync(dir)).toContain(`${file}.js`);
    const npmCpu = architecture === "arm64" ? "arm64" : "x64";
    const nativeDir = path.join(dir, "node_modules", "@img", `sharp-linux-${npmCpu}`, "lib");
    const native = readdirSync(nativeDir).filter((f) => f.endsWith(".node"));
    expect(native).toHaveLength(1);
    expect(inspectElf(path.join(nativeDir, native[0]!))?.machine).toBe(ELF_MACHINES[npmCpu]);
    expect(readdirSync(path.join(dir, "node_modules", "@img"))).toContain(`sharp-libvips-linux-${npmCpu}`);
    expect(readdirSync(path.join(dir, "node_modules", "@img")).some((d) => d.includes(architecture === "arm64" ? "x64" : "arm64"))).toBe(false);
    // esbuild's CommonJS bundle lists its exports as `name: () => name`; loading it here would load the other architecture's sharp.
    expect(readFileSync(path.join(dir, `${file}.js`), "utf8")).toMatch(new RegExp(`\\b${exported}: \\(\\) => ${exported}\\b`));
  });
});

it("bundles into each function only what its entry imports: the renderer has no exiftool, DynamoDB or CloudFront code", async () => {
  const [processor, renderer] = await Promise.all([buildFunctionArchive("arm64", "processor"), buildFunctionArchive("arm64", "renderer")]);
  const bundle = (archive: { path: string }, name: string) =>
    readFileSync(path.join(unzip(archive.path, path.join(tmp, `${name}-bundle`)), "index.js"), "utf8");
  const processorCode = bundle(processor, "processor");
  const rendererCode = bundle(renderer, "renderer");
  for (const marker of ["exiftool-vendored", "CreateInvalidationCommand", "DynamoDBDocumentClient"]) {
    expect(processorCode, marker).toContain(marker);
    expect(rendererCode, marker).not.toContain(marker);
  }
  expect(renderer.zippedBytes).toBeLessThan(processor.zippedBytes);
});

it("keeps what a cold start need not load out of both bundles: zod (the deployment validated the tenant) and libheif, shipped as files", async () => {
  for (const fn of ["processor", "renderer"] as const) {
    const dir = unzip((await buildFunctionArchive("arm64", fn)).path, path.join(tmp, `${fn}-lean`));
    const code = readFileSync(path.join(dir, "index.js"), "utf8");
    // esbuild names every bundled module's path in a comment.
    expect(code, fn).not.toMatch(/node_modules\/zod\//);
    expect(code, fn).not.toMatch(/node_modules\/libheif-js\//);
    expect(readdirSync(path.join(dir, "node_modules", "libheif-js", "libheif-wasm")), fn).toEqual(["libheif-bundle.js"]);
  }
});

it("zips the same tree to the same bytes", async () => {
  const archive = await buildFunctionArchive("arm64");
  const dir = unzip(archive.path, path.join(tmp, "again"));
  const first = await zipDirectory(dir, path.join(tmp, "a.zip"));
  const second = await zipDirectory(dir, path.join(tmp, "b.zip"));
  expect(first.sha256).toBe(second.sha256);
  expect(first.files).toBe(archive.files);
});

/** Runs the x64 processor's bundled handler, unpacked outside the repository, on one SQS message of these uploads. */
async function runBundledProcessor(
  uploads: (t: TestPlatform) => Promise<{ key: string; eTag: string }[]>,
  check: (t: TestPlatform, output: string) => Promise<void>,
  extraEnv: Record<string, string> = {},
): Promise<void> {
  const archive = await buildFunctionArchive("x86_64");
  const dir = unzip(archive.path, path.join(tmp, `run-${Math.random().toString(36).slice(2)}`));
  const t = await startTestPlatform([{ name: "bundle" }], { notifications: false });
  try {
    const tenant = t.platform.tenants.get("bundle")!;
    const record = ({ key, eTag }: { key: string; eTag: string }) => ({
      eventName: "ObjectCreated:Put",
      s3: {
        bucket: { name: tenant.sourceBucket },
        object: { key: encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+"), size: 1, eTag, sequencer: "0A" },
      },
    });
    const event = {
      Records: [
        {
          messageId: "m-1",
          eventSource: "aws:sqs",
          attributes: { ApproximateReceiveCount: "1" },
          body: JSON.stringify({ Records: (await uploads(t)).map(record) }),
        },
      ],
    };
    // HELPERS: the perl processes this process started, before loading the bundle, after (INIT), after the object.
    const helpers = `require("fs").readdirSync("/proc").filter((p) => /^\\d+$/.test(p)).filter((p) => { try { const s = require("fs").readFileSync("/proc/" + p + "/stat", "utf8"); return s.includes("(perl)") && s.slice(s.lastIndexOf(")") + 2).split(" ")[1] === String(process.pid); } catch { return false; } }).join(",")`;
    const script = `const h0 = ${helpers}; const fn = require(${JSON.stringify(path.join(dir, "index.js"))}); const h1 = ${helpers}; fn.handler(${JSON.stringify(event)}, { awsRequestId: "r-1" }).then((r) => { process.stdout.write("HELPERS " + JSON.stringify([h0, h1, ${helpers}]) + "\\nRESULT " + JSON.stringify(r) + "\\n"); process.exit(0); }, (e) => { console.error(e); process.exit(1); });`;
    await check(t, await runInBundle(dir, script, t, { ...localProcessorEnvironment(tenant), ...extraEnv }));
  } finally {
    await t.stop();
  }
}

it("runs the bundled x64 handler, unpacked outside the repository, against the emulators", async () => {
  const key = "bundled/photo one.jpg";
  await runBundledProcessor(
    async (t) => [{ key, eTag: await t.upload("bundle", key, await jpegWithExif({ width: 900, height: 600, orientation: 6 })) }],
    async (t, output) => {
      expect(output).toContain('RESULT {"batchItemFailures":[]}');
      expect(output).toMatch(/"msg":"object processed"/);
      expect(await t.item("bundle", key)).toMatchObject({ status: "done", width: 600, height: 900, metadataMethod: "ranged" });
    },
  );
});

it("in a Lambda container, starts the exiftool helper during INIT, and the first object uses that one", async () => {
  const key = "bundled/first.jpg";
  await runBundledProcessor(
    async (t) => [{ key, eTag: await t.upload("bundle", key, await jpegWithExif({ width: 640, height: 480 })) }],
    async (t, output) => {
      expect(output).toContain('RESULT {"batchItemFailures":[]}');
      const [before, afterInit, afterObject] = JSON.parse(/HELPERS (.*)/.exec(output)![1]!) as string[];
      expect(before).toBe("");
      expect(afterInit).toMatch(/^\d+$/); // one helper, started while the module loaded
      expect(afterObject).toBe(afterInit); // the same one served the object
      expect(await t.item("bundle", key)).toMatchObject({ status: "done", metadataMethod: "ranged" });
    },
    { AWS_LAMBDA_FUNCTION_NAME: "tip-test-bundle-processor" },
  );
});

const heicUnavailable = heifEncUnavailable();
if (heicUnavailable) console.warn(`bundled HEIC test skipped: ${heicUnavailable} (.ci/run installs it as root: apt-get install libheif-examples)`);

// A phone HEIC proves the bundle carries libheif's WebAssembly decoder.
it.skipIf(heicUnavailable)("runs the bundled x64 handler on a phone HEIC: the bundle carries libheif's decoder", async () => {
  const key = "bundled/IMG_0001.HEIC";
  await runBundledProcessor(
    async (t) => [{ key, eTag: await t.upload("bundle", key, heifEncode([await jpegWithExif({ width: 640, height: 480 })])) }],
    async (t, output) => {
      expect(output).toContain('RESULT {"batchItemFailures":[]}');
      expect(await t.item("bundle", key)).toMatchObject({ status: "done", format: "HEIC", renditions: [{ name: "thumb" }, { name: "preview", width: 640 }] });
    },
  );
});

it("traces the bundled handler as on Lambda: the invocation's trace header, subsegments sent to the daemon address", async () => {
  const archive = await buildFunctionArchive("x86_64");
  const dir = unzip(archive.path, path.join(tmp, "run-traced"));
  const daemon = dgram.createSocket("udp4");
  const documents: { name: string; trace_id: string; parent_id?: string; annotations?: Record<string, unknown> }[] = [];
  let objectTraced!: () => void;
  // The object's subsegment closes last: the handler process may go once it has arrived.
  const traced = new Promise<void>((resolve) => (objectTraced = resolve));
  daemon.on("message", (m) => {
    documents.push(JSON.parse(m.toString().split("\n")[1]!));
    if (documents.some((d) => d.name === "object")) objectTraced();
  });
  await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
  const t = await startTestPlatform([{ name: "bundle", function: { tracing: true } }], { notifications: false });
  try {
    const tenant = t.platform.tenants.get("bundle")!;
    const key = "traced/photo.jpg";
    const eTag = await t.upload("bundle", key, await jpegWithExif({ width: 900, height: 600 }));
    const body = JSON.stringify({
      Records: [{ eventName: "ObjectCreated:Put", s3: { bucket: { name: tenant.sourceBucket }, object: { key, size: 1, eTag, sequencer: "0B" } } }],
    });
    const event = { Records: [{ messageId: "m-1", eventSource: "aws:sqs", attributes: { ApproximateReceiveCount: "1" }, body }] };
    const script = `require(${JSON.stringify(path.join(dir, "index.js"))}).handler(${JSON.stringify(event)}, { awsRequestId: "r-2" }).then((r) => { process.stdout.write("RESULT " + JSON.stringify(r) + "\\n"); process.stdin.on("end", () => process.exit(0)).resume(); }, (e) => { console.error(e); process.exit(1); });`;
    // What Lambda gives a function with Active tracing: its task root, the trace header, the daemon;
    // and its name, so that the dependencies are built during INIT, as there.
    const root = "1-5759e988-bd862e3fe1be46a994272793";
    const lambdaTracing = {
      AWS_LAMBDA_FUNCTION_NAME: "tip-test-bundle-traced",
      LAMBDA_TASK_ROOT: dir,
      _X_AMZN_TRACE_ID: `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1`,
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
    };
    const output = await runInBundle(dir, script, t, { ...localProcessorEnvironment(tenant), ...lambdaTracing }, traced);
    expect(output).toContain('RESULT {"batchItemFailures":[]}');
    expect(await t.item("bundle", key)).toMatchObject({ status: "done" });
    const object = documents.find((d) => d.name === "object")!;
    // Under Lambda's own segment (the header's Parent), in the invocation's trace.
    expect(object).toMatchObject({ trace_id: root, parent_id: "53995c3f42cd8ad8", annotations: { tenant: "bundle", key, status: "done" } });
    expect(documents.every((d) => d.trace_id === root)).toBe(true);
    expect(new Set(documents.map((d) => d.name))).toEqual(
      new Set(["object", "DynamoDB", "head", "metadata", "download", "render", "similar", "upload", "purge", "index", "S3", "announce", "SNS"]),
    );
  } finally {
    daemon.close();
    await t.stop();
  }
});

it("runs the bundled on-demand handler under Lambda's streaming API, against the emulators", async () => {
  const archive = await buildFunctionArchive("x86_64", "renderer");
  const dir = unzip(archive.path, path.join(tmp, "run-on-demand"));
  const t = await startTestPlatform([{ name: "bundle", onDemand: { enabled: true } }], { notifications: false });
  try {
    const tenant = t.platform.tenants.get("bundle")!;
    const key = "bundled/photo one.jpg";
    await t.upload("bundle", key, await jpegWithExif({ width: 900, height: 600, orientation: 6 }));
    const event = { rawPath: `/_variants/${keyHash(key)}/w320.webp/bundled/photo%20one.jpg`, requestContext: { http: { method: "GET" } } };
    // Lambda's runtime defines awslambda before it loads the handler: this stand-in writes what its
    // HttpResponseStream writes (the JSON prelude, 8 NUL bytes, the body).
    const script = `
      const { PassThrough } = require("node:stream");
      globalThis.awslambda = {
        streamifyResponse: (fn) => fn,
        HttpResponseStream: { from(stream, metadata) { stream.write(JSON.stringify(metadata)); stream.write(Buffer.alloc(8)); return stream; } },
      };
      const sink = new PassThrough(); const parts = []; sink.on("data", (c) => parts.push(c));
      require(${JSON.stringify(path.join(dir, "index.js"))}).onDemandHandler(${JSON.stringify(event)}, sink).then(
        () => { process.stdout.write("RESULT " + Buffer.concat(parts).toString("base64") + "\\n"); process.exit(0); },
        (e) => { console.error(e); process.exit(1); });`;
    // Lambda's function name: the service is built, and its S3 client primed, during INIT (prime-clients.ts).
    const output = await runInBundle(dir, script, t, { ...localRendererEnvironment(tenant), AWS_LAMBDA_FUNCTION_NAME: "tip-test-bundle-renderer" });
    const bytes = Buffer.from(/RESULT (\S+)/.exec(output)![1]!, "base64");
    const split = bytes.indexOf(Buffer.alloc(8));
    expect(JSON.parse(bytes.subarray(0, split).toString())).toMatchObject({ statusCode: 200, headers: { "content-type": "image/webp" } });
    expect(await sharp(bytes.subarray(split + 8)).metadata()).toMatchObject({ format: "webp", width: 320, height: 480 });
    expect(await t.proxyObject("bundle", `_variants/${keyHash(key)}/w320.webp/${key}`)).toBeDefined();
  } finally {
    await t.stop();
  }
});

/** Runs a script with the unpacked bundle, outside this repository, against the test platform's emulators. */
/** Runs `script` in the unpacked bundle; with `until`, its standard input ends only once that settles. */
function runInBundle(dir: string, script: string, t: TestPlatform, tenantEnv: Record<string, string>, until?: Promise<unknown>): Promise<string> {
  const exiftool = resolveExiftoolPaths({ PATH: process.env.PATH });
  return new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        // The run's temporary folder (test/support/temp-root.ts): the function's spool goes there, not to /tmp.
        TMPDIR: os.tmpdir(),
        ...tenantEnv,
        [ENV.forcePathStyle]: "true",
        AWS_ENDPOINT_URL_S3: t.platform.endpoints.s3,
        AWS_ENDPOINT_URL_DYNAMODB: t.platform.endpoints.dynamodb,
        AWS_ENDPOINT_URL_SNS: t.platform.endpoints.sqs,
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        // Stand-in for the layer's /opt/bin, which only exists inside Lambda.
        EXIFTOOL_PATH: exiftool.exiftool,
        EXIFTOOL_HELPER_PATH: exiftool.helper,
      },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`bundled handler exited ${code}: ${err}${out}`))));
    void Promise.resolve(until).finally(() => child.stdin.end());
  });
}
