/**
 * Bench section `analysis` (issue 20): what the analysis at upload costs beside the render it rides
 * on, what a similar lookup costs as a tenant's table grows to 100,000 objects, and how well
 * `similar` tells edited copies from distinct photos.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import sharp from "sharp";
import { parseTenant, DEFAULT_RENDITIONS } from "../contract/tenant-config";
import { PARTITION_KEY } from "../contract/table";
import { renderRenditions } from "../runtime/renditions";
import { UploadAnalysis } from "../runtime/analysis/upload-analysis";
import { analysePixels } from "../runtime/analysis/image-analysis";
import { SimilarIndex, probedBuckets } from "../runtime/analysis/similar-index";
import { startEmulators } from "../local/emulators";
import { createTableInput, localClients } from "../local/platform";
import { nearDuplicateAccuracy } from "../fixtures/near-duplicates";
import { seededRandom } from "../fixtures/seeded-random";

type Table = (title: string, rows: Record<string, string | number>[]) => void;

const PHOTOS = path.resolve(__dirname, "../../shared/corpus/photos");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuMs = async (work: () => Promise<unknown>) => {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
};

/** The analysis's CPU beside the render stage it rides on, for the 12 MP JPEG with the default renditions (interleaved runs). */
async function analysisCost(table: Table) {
  const photo = readFileSync(path.join(PHOTOS, "tests-42_IndexError.jpg"));
  const analysisSettings = parseTenant({ name: "bench" }).analysis;
  const options = { maxInputPixels: 268_402_689, profile: "none" as const };
  const plain = () => renderRenditions(photo, DEFAULT_RENDITIONS, options);
  const analysed = () => renderRenditions(photo, DEFAULT_RENDITIONS, { ...options, inspect: new UploadAnalysis(analysisSettings, undefined) });
  const { data, info } = await sharp(photo).autoOrient().resize(1024, 1024, { fit: "inside" }).raw().toBuffer({ resolveWithObject: true });
  const alone = () => analysePixels({ data, width: info.width, height: info.height, channels: info.channels }, { blurhash: false });
  for (let i = 0; i < 2; i++) await Promise.all([plain(), analysed(), alone()].map((p) => p));
  const runs = { plain: [] as number[], analysed: [] as number[], alone: [] as number[] };
  for (let i = 0; i < 12; i++) {
    runs.plain.push(await cpuMs(plain));
    runs.analysed.push(await cpuMs(analysed));
    runs.alone.push(await cpuMs(alone));
  }
  const [p, a, s] = [median(runs.plain), median(runs.analysed), median(runs.alone)];
  const rows = [
    { measure: "render stage, default renditions (CPU ms, median of 12)", value: p.toFixed(1) },
    { measure: "render stage with the analysis (CPU ms)", value: a.toFixed(1) },
    { measure: "the analysis alone on the decoded pixels (CPU ms)", value: s.toFixed(1) },
    { measure: "analysis / render stage (alone)", value: `${((100 * s) / p).toFixed(1)}%` },
    { measure: "(with - without) / without", value: `${((100 * (a - p)) / p).toFixed(1)}%` },
  ];
  table("Analysis at upload: CPU beside the render stage (12 MP JPEG, 4032x3024)", rows);
  return { renderCpuMs: p, withAnalysisCpuMs: a, analysisAloneCpuMs: s, shareAlone: s / p, shareDifference: (a - p) / p };
}

const randomHash = (next: () => number) => Array.from({ length: 16 }, () => Math.floor(next() * 16).toString(16)).join("");

/** The similar lookup's cost as one tenant's table grows: requests, buckets and members read, ms (local dynalite). */
async function lookupCost(table: Table) {
  const emulators = await startEmulators();
  try {
    const { dynamo } = localClients(emulators.awsEndpoint, emulators.dynamoEndpoint);
    const name = "bench-similar";
    await dynamo.send(new CreateTableCommand(createTableInput(name)));
    const index = new SimilarIndex(dynamo, name);
    const next = seededRandom(7);
    const buckets = new Map<string, Set<string>>();
    const rows = [];
    let indexed = 0;
    for (const size of [1_000, 10_000, 100_000]) {
      // The index as the pipeline leaves it: each object's hash in its four band buckets.
      const changed = new Set<string>();
      for (; indexed < size; indexed++) {
        const hash = randomHash(next);
        for (const bucket of probedBuckets(hash).filter((_, i) => i % 137 === 0)) {
          if (!buckets.has(bucket)) buckets.set(bucket, new Set());
          buckets.get(bucket)!.add(`${hash}|photos/${indexed}.jpg`);
          changed.add(bucket);
        }
      }
      const items = [...changed].map((key) => ({ [PARTITION_KEY]: key, members: buckets.get(key)! }));
      for (let i = 0; i < items.length; i += 25 * 8) {
        await Promise.all(
          Array.from({ length: 8 }, (_, j) => items.slice(i + j * 25, i + (j + 1) * 25))
            .filter((batch) => batch.length)
            .map((batch) => dynamo.send(new BatchWriteCommand({ RequestItems: { [name]: batch.map((Item) => ({ PutRequest: { Item } })) } }))),
        );
      }
      const times: number[] = [];
      const stats = { requests: 0, buckets: 0, members: 0 };
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        await index.candidates(randomHash(next), 12);
        times.push(performance.now() - t0);
        stats.requests += index.lastLookup.requests;
        stats.buckets += index.lastLookup.buckets;
        stats.members += index.lastLookup.members;
      }
      rows.push({
        objects: size,
        "bucket items": buckets.size,
        "requests / lookup": stats.requests / 20,
        "buckets read / lookup": (stats.buckets / 20).toFixed(0),
        "members read / lookup": (stats.members / 20).toFixed(0),
        "ms / lookup (median, local)": median(times).toFixed(1),
      });
    }
    table("Similar lookup as a tenant grows (68 keys probed, 20 lookups each)", rows);
    return rows;
  } finally {
    await emulators.stop();
  }
}

async function accuracy(table: Table) {
  const threshold = parseTenant({ name: "bench" }).analysis.similarDistance;
  const measured = await nearDuplicateAccuracy(PHOTOS, threshold);
  table(`Near-duplicates at ${threshold} bits: ${measured.distinct} distinct real photos, every pair compared`, [
    ...Object.entries(measured.recall).map(([edit, recall]) => ({
      edit,
      "found (recall)": `${(100 * recall).toFixed(1)}%`,
      "farthest copy (bits)": measured.farthestCopy[edit]!,
    })),
    {
      edit: "distinct photos taken as similar",
      "found (recall)": `${measured.falsePairs} of ${measured.pairs} pairs`,
      "farthest copy (bits)": `closest ${measured.closestDistinct}`,
    },
    { edit: "precision", "found (recall)": `${(100 * measured.precision).toFixed(1)}%`, "farthest copy (bits)": "" },
  ]);
  return measured;
}

export async function analysisBench(table: Table) {
  return { cost: await analysisCost(table), lookup: await lookupCost(table), accuracy: await accuracy(table) };
}
