/**
 * `cold`: both functions' archives, as built, started in fresh processes the way Lambda starts a
 * container (lambda-harness.ts): the handler module's load (INIT, billed since August 2025), the
 * first object, then a second (warm) one in the same process. Against the local emulators.
 * Targets on this machine: INIT <= 250 ms (renderer) and <= 400 ms (processor); first object <= warm + 300 ms.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { cameraPhotos } from "../fixtures/corpus";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/local-aws";
import { localProcessorEnvironment, localRendererEnvironment, startLocalPlatform } from "../local/platform";
import { uploadObject } from "../local/upload";
import { s3Notification } from "../runtime/events";
import { resolveExiftoolPaths } from "../runtime/metadata/exiftool-paths";
import { keyHash } from "../runtime/on-demand/variants";
import { parseTenants } from "../contract/tenant-config";
import { harnessScript, lambdaBootstrapFlags, unpackedArchive, type UnpackedArchive } from "./archives";
import type { HarnessReport } from "./lambda-harness";

type Table = (title: string, rows: Record<string, string | number>[]) => void;

const RUNS = Number(process.env.COLD_RUNS ?? 5);
/** Objects of the steady-state row (C3), one after the other in one process. */
const STEADY_OBJECTS = 16;
/** The processor's answers: every record of every batch processed (no batch item failure). */
const allProcessed = (results: unknown[]) => results.every((r) => (r as { batchItemFailures?: unknown[] }).batchItemFailures?.length === 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One object's stage times (ms) by their EMF names (`MetadataMs`, ...). */
type StageTimes = Record<string, number>;

/** Each processed object's stage times, in order, from the processor's EMF log lines (runtime/metrics.ts). */
function stageTimesIn(output: string): StageTimes[] {
  return output
    .split("\n")
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .map((doc) => Object.fromEntries(Object.entries(doc).filter((e): e is [string, number] => e[0].endsWith("Ms") && typeof e[1] === "number")));
}

/** Async: the emulators answer from this process while the archive runs. */
function runArchive(
  archive: UnpackedArchive,
  memoryMb: number,
  env: Record<string, string>,
  events: { event: unknown; streaming?: boolean }[],
): Promise<HarnessReport & { stages: StageTimes[] }> {
  const child = spawn(process.execPath, [...lambdaBootstrapFlags(memoryMb, env.NODE_OPTIONS), harnessScript()], {
    env: { ...env, HARNESS_MODE: "invoke", HARNESS_ARCHIVE_DIR: archive.dir, HARNESS_HANDLER: archive.handler, HARNESS_EVENTS: JSON.stringify(events) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`${archive.handler} exited with ${code}: ${output.slice(-2000)}`));
      // The handler's logs share stdout with the report (as on Lambda): the report is the line that starts so.
      const report = output
        .trim()
        .split("\n")
        .find((line) => line.startsWith('{"nodeStartMs"'));
      if (!report) return reject(new Error(`${archive.handler} printed no report: ${output.slice(-2000)}`));
      resolve({ ...(JSON.parse(report) as HarnessReport), stages: stageTimesIn(output) });
    });
  });
}

export async function coldStarts(table: Table) {
  const [processor, renderer] = [await unpackedArchive("processor"), await unpackedArchive("renderer")];
  const platform = await startLocalPlatform({
    tenants: parseTenants([{ name: "cold", onDemand: { enabled: true, widths: [1024], formats: ["webp"] } }]),
    logLevel: "silent",
    notifications: false,
  });
  const tenant = platform.tenants.get("cold")!;
  const photo = cameraPhotos().sort((a, b) => b.data.length - a.data.length)[0]!;
  const exiftool = resolveExiftoolPaths();
  const aws = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: platform.endpoints.s3ConditionalWrites ?? platform.endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: platform.endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: platform.endpoints.sqs,
    AWS_ENDPOINT_URL_SNS: platform.endpoints.sqs,
    AWS_ENDPOINT_URL_CLOUDFRONT: platform.cloudfront?.url ?? "http://127.0.0.1:1",
    S3_FORCE_PATH_STYLE: "true",
    // Lambda sets it in every container; the functions build their dependencies during INIT when it is there.
    AWS_LAMBDA_FUNCTION_NAME: "tip-local-cold",
    LOG_LEVEL: "info",
    SPOOL_DIR: path.join(__dirname, "..", ".build", "cold-spool"),
  };
  const processorEnv = {
    ...aws,
    ...localProcessorEnvironment(tenant),
    // The layer's perl and exiftool are at /opt/bin on Lambda; here, exiftool-vendored's and the system perl.
    EXIFTOOL_PATH: exiftool.exiftool,
    PERL_PATH: exiftool.perl,
    EXIFTOOL_HELPER_PATH: exiftool.helper,
  };
  const rendererEnv = { ...aws, ...localRendererEnvironment(tenant) };
  const rows: { fn: string; nodeStartMs: number; initMs: number; firstMs: number; warmMs: number; ok: boolean }[] = [];
  /** The processor's stage times: [first object, warm object] of each run. */
  const processorStages: [StageTimes, StageTimes][] = [];
  let sequencer = 0;
  let steady: { objects: number; medianWarmMs: number; majorGc: { count: number; ms: number }; maxRssMb: number } | undefined;
  const objectEvent = async (key: string) => {
    const eTag = await uploadObject(platform.clients.s3, tenant.sourceBucket, key, photo.data, "image/jpeg");
    const body = s3Notification({
      eventName: "ObjectCreated:Put",
      bucket: tenant.sourceBucket,
      key,
      size: photo.data.length,
      eTag,
      sequencer: (++sequencer).toString(16).padStart(16, "0").toUpperCase(),
      region: LOCAL_REGION,
    });
    return {
      event: { Records: [{ messageId: `m-${key}`, receiptHandle: `r-${key}`, body, attributes: { ApproximateReceiveCount: "1" }, eventSource: "aws:sqs" }] },
    };
  };
  const variantEvent = async (key: string) => {
    await uploadObject(platform.clients.s3, tenant.sourceBucket, key, photo.data, "image/jpeg");
    return {
      event: { rawPath: `/_variants/${keyHash(key)}/w1024.webp/${encodeURIComponent(key)}`, requestContext: { http: { method: "GET" } } },
      streaming: true,
    };
  };
  try {
    for (let run = 0; run < RUNS; run++) {
      const p = await runArchive(processor, tenant.config.function.memoryMb, processorEnv, [
        await objectEvent(`cold/p${run}-a.jpg`),
        await objectEvent(`cold/p${run}-b.jpg`),
      ]);
      const pOk = allProcessed(p.results);
      rows.push({ fn: "processor", nodeStartMs: p.nodeStartMs, initMs: p.initMs, firstMs: p.invocationsMs[0]!, warmMs: p.invocationsMs[1]!, ok: pOk });
      if (p.stages.length === 2) processorStages.push([p.stages[0]!, p.stages[1]!]);
      const r = await runArchive(renderer, tenant.config.onDemand.memoryMb, rendererEnv, [
        await variantEvent(`cold/r${run}-a.jpg`),
        await variantEvent(`cold/r${run}-b.jpg`),
      ]);
      const rOk = r.results.every((x) => (x as { statusCode?: number; bytes: number }).statusCode === 200 && (x as { bytes: number }).bytes > 0);
      rows.push({ fn: "renderer", nodeStartMs: r.nodeStartMs, initMs: r.initMs, firstMs: r.invocationsMs[0]!, warmMs: r.invocationsMs[1]!, ok: rOk });
    }
    // Steady state: one container's run of objects, as V8 collects under Lambda's flags (lambdaBootstrapFlags).
    const events = [];
    for (let i = 0; i < STEADY_OBJECTS; i++) events.push(await objectEvent(`cold/steady-${i}.jpg`));
    const steadyRun = await runArchive(processor, tenant.config.function.memoryMb, processorEnv, events);
    if (!allProcessed(steadyRun.results)) throw new Error(`the steady run did not complete its objects: ${JSON.stringify(steadyRun.results)}`);
    const warm = steadyRun.invocationsMs.slice(2);
    steady = { objects: warm.length, medianWarmMs: median(warm), majorGc: steadyRun.majorGc, maxRssMb: steadyRun.maxRssMb };
  } finally {
    await platform.stop();
  }
  if (rows.some((r) => !r.ok)) throw new Error(`a cold run did not complete its objects: ${JSON.stringify(rows.filter((r) => !r.ok))}`);
  const summary = (["renderer", "processor"] as const).map((fn) => {
    const of = rows.filter((r) => r.fn === fn);
    const m = (k: "nodeStartMs" | "initMs" | "firstMs" | "warmMs") => median(of.map((r) => r[k]));
    return {
      fn,
      archiveBytes: (fn === "renderer" ? renderer : processor).zippedBytes,
      nodeStartMs: m("nodeStartMs"),
      initMs: m("initMs"),
      firstObjectMs: m("firstMs"),
      warmObjectMs: m("warmMs"),
      firstOverWarmMs: median(of.map((r) => r.firstMs - r.warmMs)),
      initTargetMs: fn === "renderer" ? 250 : 400,
    };
  });
  table(
    `C. Cold starts: each archive as built, ${RUNS} fresh processes each, medians (${photo.name}, ${(photo.data.length / 1024 / 1024).toFixed(1)} MiB; renderer: w1024.webp) (targets: INIT <= 250 ms renderer, <= 400 ms processor; first <= warm + 300 ms)`,
    summary.map((s) => ({
      function: s.fn,
      "node start": `${s.nodeStartMs.toFixed(0)} ms`,
      "INIT (handler module)": `${s.initMs.toFixed(0)} ms`,
      "INIT target": `${s.initTargetMs} ms`,
      "first object": `${s.firstObjectMs.toFixed(0)} ms`,
      "warm object": `${s.warmObjectMs.toFixed(0)} ms`,
      "first - warm": `${s.firstOverWarmMs.toFixed(0)} ms`,
      "archive (zipped)": `${(s.archiveBytes / 1024 / 1024).toFixed(1)} MiB`,
    })),
  );
  // Stages overlap (the download and render run beside the metadata read): they need not add up to the total.
  const stageNames = [...new Set(processorStages.flatMap(([first]) => Object.keys(first)))];
  const stages = stageNames.map((stage) => ({
    stage,
    firstMs: median(processorStages.map(([first]) => first[stage] ?? 0)),
    warmMs: median(processorStages.map(([, warm]) => warm[stage] ?? 0)),
  }));
  table(
    `C2. The processor's stages, first object and warm (medians of ${processorStages.length} runs; from its EMF lines; stages overlap)`,
    stages.map((s) => ({ stage: s.stage, "first object": `${s.firstMs} ms`, warm: `${s.warmMs} ms`, "first - warm": `${s.firstMs - s.warmMs} ms` })),
  );
  if (steady) {
    table(
      `C3. The processor warm, one process, ${STEADY_OBJECTS} objects (the first 2 not counted), started with Lambda's bootstrap flags for ${tenant.config.function.memoryMb} MB unless NODE_OPTIONS names them (contract/environment.ts functionNodeOptions)`,
      [
        {
          objects: steady.objects,
          "median object": `${steady.medianWarmMs.toFixed(0)} ms`,
          "mark-compacts (pauses)": `${steady.majorGc.count} (${steady.majorGc.ms.toFixed(0)} ms)`,
          "peak RSS": `${steady.maxRssMb.toFixed(0)} MB`,
        },
      ],
    );
  }
  return { runs: rows, summary, photo: photo.name, processorStages: stages, processorSteady: steady };
}
