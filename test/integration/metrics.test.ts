/**
 * The metrics: one Embedded Metric Format line per object outcome in the handler's log, checked
 * against the EMF specification's rules and against the items the same objects produced.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRICS_NAMESPACE } from "../../contract/naming";
import { METRICS, outcomeMetrics } from "../../runtime/metrics";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

/**
 * The specification's structural rules: _aws with an integer Timestamp and CloudWatchMetrics; each
 * directive a Namespace, Dimensions (arrays of at most 30 names, each a string member of the root)
 * and Metrics (Name, a Unit CloudWatch knows, each a number at the root); at most 100 metrics.
 */
const UNITS = new Set([
  "Seconds",
  "Microseconds",
  "Milliseconds",
  "Bytes",
  "Kilobytes",
  "Megabytes",
  "Gigabytes",
  "Terabytes",
  "Bits",
  "Count",
  "Bytes/Second",
  "Count/Second",
  "Percent",
  "None",
]);
function emfProblems(doc: Record<string, any>): string[] {
  const problems: string[] = [];
  const aws = doc._aws;
  if (!aws || typeof aws !== "object") return ["no _aws member"];
  if (!Number.isInteger(aws.Timestamp) || aws.Timestamp < 0) problems.push("_aws.Timestamp must be epoch milliseconds");
  if (!Array.isArray(aws.CloudWatchMetrics) || aws.CloudWatchMetrics.length === 0) return [...problems, "_aws.CloudWatchMetrics must be a non-empty array"];
  let count = 0;
  for (const directive of aws.CloudWatchMetrics) {
    if (typeof directive.Namespace !== "string" || !directive.Namespace) problems.push("a directive without a Namespace");
    for (const set of directive.Dimensions ?? []) {
      if (!Array.isArray(set) || set.length > 30) problems.push("a dimension set must be an array of at most 30 names");
      for (const name of set) if (typeof doc[name] !== "string") problems.push(`dimension ${name} is not a string member of the root`);
    }
    for (const metric of directive.Metrics ?? []) {
      count++;
      if (typeof metric.Name !== "string") problems.push("a metric without a Name");
      if (metric.Unit !== undefined && !UNITS.has(metric.Unit)) problems.push(`metric ${metric.Name}: unknown unit ${metric.Unit}`);
      if (typeof doc[metric.Name] !== "number" || !Number.isFinite(doc[metric.Name])) problems.push(`metric ${metric.Name} has no numeric value at the root`);
    }
  }
  if (count > 100) problems.push("more than 100 metrics");
  return problems;
}

const lines: Record<string, any>[] = [];
let t: TestPlatform;

beforeAll(async () => {
  const capture = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  t = await startTestPlatform([{ name: "metered" }], { logLevel: "info", logDestination: capture });
  await t.upload("metered", "m/photo.jpg", await jpegWithExif({ width: 1600, height: 1200 }));
  await t.upload("metered", "m/broken.jpg", Buffer.from("not an image"));
  await t.drain();
  await t.remove("metered", "m/photo.jpg");
  await t.drain();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const metricLines = (key: string) => lines.filter((l) => l.msg === "metrics" && l.key === key);

describe("EMF metrics", () => {
  it("writes one valid EMF line per outcome, with the values of the object it describes", async () => {
    const [created, deleted] = metricLines("m/photo.jpg");
    expect(emfProblems(created!)).toEqual([]);
    expect(emfProblems(deleted!)).toEqual([]);
    expect(created!._aws.CloudWatchMetrics.every((d: { Namespace: string }) => d.Namespace === METRICS_NAMESPACE)).toBe(true);
    expect(created).toMatchObject({ tenant: "metered", status: "done", Objects: 1 });
    // The item the same object produced has since been tombstoned: compare with the outcome the platform reported.
    const outcome = t.outcomes.find((o) => o.key === "m/photo.jpg" && o.status === "done")!;
    expect(created).toMatchObject({
      ObjectBytes: outcome.size,
      MetadataBytesRead: outcome.metadataBytesRead,
      BytesSavedByRangedReads: outcome.size! - outcome.metadataBytesRead!,
      RenditionsWritten: 2,
      TotalMs: outcome.durationsMs!.total,
      RenderMs: outcome.durationsMs!.render,
      MetadataMs: outcome.durationsMs!.metadata,
    });
    expect(created!.MetadataBytesRead).toBeLessThan(created!.ObjectBytes);
    expect(deleted).toMatchObject({ status: "deleted", Objects: 1 });
  });

  it("counts a failed object under its status, with what was learned about it", async () => {
    const [failed] = metricLines("m/broken.jpg");
    expect(emfProblems(failed!)).toEqual([]);
    const item = (await t.item("metered", "m/broken.jpg"))!;
    expect(failed).toMatchObject({ status: "failed", Objects: 1, ObjectBytes: item.size ?? 12 });
  });

  it("declares only metrics of the platform's list, with their units", () => {
    for (const line of lines.filter((l) => l.msg === "metrics")) {
      for (const directive of line._aws.CloudWatchMetrics) for (const m of directive.Metrics) expect(METRICS[m.Name], m.Name).toBe(m.Unit);
    }
    const sparse = outcomeMetrics({ tenant: "x", status: "retrying" }, 1);
    expect(emfProblems(sparse)).toEqual([]);
    expect(sparse._aws.CloudWatchMetrics[1]!.Metrics).toEqual([]);
  });

  it("the validator catches what EMF forbids", () => {
    const good = outcomeMetrics({ tenant: "x", status: "done", size: 10, metadataBytesRead: 4 }, 1);
    expect(emfProblems({ ...good, ObjectBytes: "10" })).toEqual(["metric ObjectBytes has no numeric value at the root"]);
    expect(emfProblems({ ...good, tenant: undefined })).toEqual([
      "dimension tenant is not a string member of the root",
      "dimension tenant is not a string member of the root",
    ]);
    expect(emfProblems({ ...good, _aws: { ...good._aws, Timestamp: "now" } })).toEqual(["_aws.Timestamp must be epoch milliseconds"]);
  });
});
