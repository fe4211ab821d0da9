/**
 * Every numeric setting of a tenant against what the AWS API it ends up in accepts: the bounds of
 * the schema refuse just outside them (with the field's path), and a dry run of a tenant at every
 * minimum and one at every maximum produce resource settings inside AWS's documented ranges. The
 * table in docs/configuration.md lists the same fields with the same bounds; a numeric field added to the schema
 * without a row here fails the first test.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../contract/environment";
import { parseTenant, TENANT_SCHEMA } from "../../contract/tenant-config";
import { dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";

type Runs = { low: DryRunResult; high: DryRunResult };
/** A value sent to AWS and the range its API accepts. */
type Sent = { what: string; value: number | undefined; min: number; max: number; step?: number };

interface Row {
  field: string;
  min?: number;
  max?: number;
  /** A set of values instead of a range. */
  allowed?: readonly number[];
  /** Not an integer: any value in the range (the minimum itself refused when `exclusiveMin`). */
  fraction?: boolean;
  exclusiveMin?: boolean;
  /** What AWS receives from it, in the dry runs; undefined: not an AWS setting (sharp, a header). */
  sent?: (runs: Runs) => Sent[];
}

const LOG_RETENTION = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const fn = (run: DryRunResult, name: string) => run.one("aws:lambda/function:Function", name).inputs;
const both = (runs: Runs, pick: (run: DryRunResult, tenant: string) => Omit<Sent, "what">, what: string): Sent[] => [
  { what: `${what} (low)`, ...pick(runs.low, "low") },
  { what: `${what} (high)`, ...pick(runs.high, "high") },
];
const queue = (run: DryRunResult, name: string) => run.one("aws:sqs/queue:Queue", name).inputs;
/** The tenant's web ACL's rate-based statement (onDemand.rateLimit). */
const rateRule = (run: DryRunResult, tenant: string) =>
  run.one("aws:wafv2/webAcl:WebAcl", `tip-dev-${tenant}-od-waf`).inputs.rules[0].statement.rateBasedStatement;
const mapping = (run: DryRunResult, name: string) => run.one("aws:lambda/eventSourceMapping:EventSourceMapping", name).inputs;

/** Sources: Lambda CreateFunction / PutFunctionConcurrency / CreateEventSourceMapping, SQS SetQueueAttributes, CloudWatch Logs PutRetentionPolicy, CloudFront CachePolicyConfig, S3 lifecycle. */
const ROWS: Row[] = [
  { field: "renditions[].width", min: 1, max: 16_384 },
  { field: "renditions[].height", min: 1, max: 16_384 },
  { field: "renditions[].quality", min: 1, max: 100 },
  { field: "onDemand.presets[].width", min: 1, max: 16_384 },
  { field: "onDemand.presets[].height", min: 1, max: 16_384 },
  { field: "onDemand.presets[].quality", min: 1, max: 100 },
  // Overlays (docs/overlays.md): shares of the rendition, drawn by sharp.
  ...["renditions[]", "onDemand.presets[]"].flatMap((owner): Row[] => [
    { field: `${owner}.overlay.widthRatio`, min: 0, max: 1, fraction: true, exclusiveMin: true },
    { field: `${owner}.overlay.opacity`, min: 0, max: 1, fraction: true },
    { field: `${owner}.overlay.margin`, min: 0, max: 0.5, fraction: true },
  ]),
  { field: "onDemand.widths[]", min: 1, max: 8_192 },
  { field: "onDemand.quality", min: 1, max: 100 },
  {
    field: "onDemand.maxAgeDays",
    min: 1,
    max: 365,
    sent: (runs) => [
      ...both(
        runs,
        (run, t) => ({ value: run.one("aws:cloudfront/cachePolicy:CachePolicy", `tip-dev-${t}-od-cache`).inputs.maxTtl, min: 0, max: 31_536_000 }),
        "cache policy maxTtl",
      ),
      ...both(
        runs,
        (run, t) => ({
          value: run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `tip-dev-${t}-proxy-lifecycle`).inputs.rules.at(-1).expiration
            .days,
          min: 1,
          max: Number.MAX_SAFE_INTEGER,
        }),
        "variants' lifecycle days",
      ),
    ],
  },
  { field: "onDemand.browserMaxAgeSeconds", min: 0, max: 31_536_000 },
  {
    field: "onDemand.memoryMb",
    min: 512,
    max: 10_240,
    sent: (runs) => both(runs, (run, t) => ({ value: fn(run, `tip-dev-${t}-od-renderer`).memorySize, min: 128, max: 10_240 }), "renderer MemorySize"),
  },
  {
    field: "onDemand.timeoutSeconds",
    min: 5,
    max: 60,
    // Beyond CloudFront's origin read timeout (60 s without a quota increase), a render would be cut off at the edge.
    sent: (runs) => [
      ...both(runs, (run, t) => ({ value: fn(run, `tip-dev-${t}-od-renderer`).timeout, min: 1, max: 60 }), "renderer Timeout"),
      // + 15 s: how long an owed purge waits in the queue (SendMessage DelaySeconds, 0-900 s).
      ...both(
        runs,
        (run, t) => ({ value: Number(fn(run, `tip-dev-${t}-processor`).environment.variables[ENV.purgeDelaySeconds]), min: 0, max: 900 }),
        "owed purges' DelaySeconds",
      ),
    ],
  },
  {
    field: "onDemand.reservedConcurrency",
    min: 1,
    max: 1_000,
    // The upper bound AWS applies is the account's concurrency minus 100: `npm run check` compares it.
    sent: (runs) =>
      both(runs, (run, t) => ({ value: fn(run, `tip-dev-${t}-od-renderer`).reservedConcurrentExecutions, min: 0, max: 1_000 }), "ReservedConcurrentExecutions"),
  },
  {
    field: "limits.maxObjectBytes",
    min: 1,
    max: 4_864 * 1024 * 1024,
    sent: (runs) => [
      ...both(runs, (run, t) => ({ value: fn(run, `tip-dev-${t}-processor`).ephemeralStorage.size, min: 512, max: 10_240 }), "processor EphemeralStorage"),
      ...both(runs, (run, t) => ({ value: fn(run, `tip-dev-${t}-od-renderer`).ephemeralStorage.size, min: 512, max: 10_240 }), "renderer EphemeralStorage"),
    ],
  },
  { field: "limits.maxInputPixels", min: 1, max: 2 ** 32 },
  { field: "limits.maxFrames", min: 1, max: 100_000 },
  {
    field: "function.memoryMb",
    min: 256,
    max: 10_240,
    sent: (runs) => both(runs, (run, t) => ({ value: fn(run, `tip-dev-${t}-processor`).memorySize, min: 128, max: 10_240 }), "processor MemorySize"),
  },
  {
    field: "function.timeoutSeconds",
    min: 10,
    max: 900,
    sent: (runs) => [
      ...both(runs, (run, t) => ({ value: fn(run, `tip-dev-${t}-processor`).timeout, min: 1, max: 900 }), "processor Timeout"),
      ...both(runs, (run, t) => ({ value: queue(run, `tip-dev-${t}-events`).visibilityTimeoutSeconds, min: 0, max: 43_200 }), "event queue VisibilityTimeout"),
      ...both(runs, (run, t) => ({ value: queue(run, `tip-dev-${t}-purges`).visibilityTimeoutSeconds, min: 0, max: 43_200 }), "purge queue VisibilityTimeout"),
    ],
  },
  {
    field: "function.maxConcurrency",
    min: 2,
    max: 1_000,
    sent: (runs) =>
      both(
        runs,
        (run, t) => ({ value: mapping(run, `tip-dev-${t}-events-to-processor`).scalingConfig.maximumConcurrency, min: 2, max: 1_000 }),
        "MaximumConcurrency",
      ),
  },
  {
    field: "function.batchSize",
    min: 1,
    max: 10,
    sent: (runs) => [
      ...both(runs, (run, t) => ({ value: mapping(run, `tip-dev-${t}-events-to-processor`).batchSize, min: 1, max: 10_000 }), "BatchSize"),
      // A batch above 10 needs a batching window of at least 1 s; 300 s at most.
      ...both(
        runs,
        (run, t) => ({ value: mapping(run, `tip-dev-${t}-events-to-processor`).maximumBatchingWindowInSeconds, min: 1, max: 300 }),
        "batching window",
      ),
    ],
  },
  {
    field: "function.logRetentionDays",
    allowed: LOG_RETENTION,
    sent: (runs) =>
      both(
        runs,
        (run, t) => ({ value: run.one("aws:cloudwatch/logGroup:LogGroup", `tip-dev-${t}-processor-logs`).inputs.retentionInDays, min: 1, max: 3653 }),
        "retentionInDays",
      ),
  },
  {
    field: "queue.maxReceiveCount",
    min: 1,
    max: 1_000,
    sent: (runs) =>
      both(
        runs,
        (run, t) => ({ value: JSON.parse(queue(run, `tip-dev-${t}-events`).redrivePolicy).maxReceiveCount, min: 1, max: 1_000 }),
        "redrive maxReceiveCount",
      ),
  },
  {
    field: "queue.dlqRetentionDays",
    min: 1,
    max: 14,
    sent: (runs) =>
      both(runs, (run, t) => ({ value: queue(run, `tip-dev-${t}-events-dlq`).messageRetentionSeconds, min: 60, max: 1_209_600 }), "DLQ MessageRetentionPeriod"),
  },
  {
    field: "storage.proxyExpirationDays",
    min: 1,
    max: 36_500,
    sent: (runs) =>
      both(
        runs,
        (run, t) => ({
          value: run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `tip-dev-${t}-proxy-lifecycle`).inputs.rules[0].expiration?.days,
          min: 1,
          max: Number.MAX_SAFE_INTEGER,
        }),
        "lifecycle Expiration Days",
      ),
  },
  { field: "storage.tombstoneTtlDays", min: 19, max: 36_500 },
  {
    field: "onDemand.rateLimit.requestsPerWindow",
    min: 10,
    max: 2_000_000_000,
    sent: (runs) => both(runs, (run, t) => ({ value: rateRule(run, t).limit, min: 10, max: 2_000_000_000 }), "rate-based rule Limit"),
  },
  {
    field: "onDemand.rateLimit.windowSeconds",
    allowed: [60, 120, 300, 600],
    sent: (runs) => both(runs, (run, t) => ({ value: rateRule(run, t).evaluationWindowSec, min: 60, max: 600 }), "EvaluationWindowSec"),
  },
  { field: "onDemand.maxVariantsPerSource", min: 1, max: 1_000 },
  {
    field: "budget.monthlyUsd",
    min: 1,
    max: 1_000_000_000,
    sent: (runs) =>
      both(
        runs,
        (run, t) => ({ value: Number(run.one("aws:budgets/budget:Budget", `tip-dev-${t}-budget`).inputs.limitAmount), min: 0, max: 1_000_000_000 }),
        "budget limit",
      ),
  },
  { field: "analysis.similarDistance", min: 0, max: 16 },
  { field: "analysis.rekognition.moderation.minConfidence", min: 50, max: 100 },
  {
    field: "budget.thresholdsPercent[]",
    min: 1,
    max: 1_000,
    sent: (runs) =>
      both(
        runs,
        (run, t) => ({ value: run.one("aws:budgets/budget:Budget", `tip-dev-${t}-budget`).inputs.notifications.length, min: 1, max: 5 }),
        "notifications per budget",
      ),
  },
];

/** Every numeric field of the schema, by path (`[]` for array items), walked through zod's definitions. */
function numericFields(schema: unknown, path = ""): string[] {
  const def = (schema as { _zod: { def: Record<string, any> } })._zod.def;
  switch (def.type) {
    case "number":
      return [path];
    case "object":
      return Object.entries(def.shape as Record<string, unknown>).flatMap(([key, child]) => numericFields(child, path ? `${path}.${key}` : key));
    case "array":
      return numericFields(def.element, `${path}[]`);
    case "default":
    case "prefault":
    case "optional":
    case "nullable":
      return numericFields(def.innerType, path);
    case "pipe":
      // A preprocess (a transform first) validates with what follows it.
      return numericFields((def.in as { _zod: { def: { type: string } } })._zod.def.type === "transform" ? def.out : def.in, path);
    default:
      return [];
  }
}

/** Sets `value` at a dotted path (`function.memoryMb`), making the objects on the way. */
function setPath(target: Record<string, any>, field: string, value: number): void {
  const parts = field.split(".");
  let at = target;
  parts.slice(0, -1).forEach((part) => (at = at[part] ??= {}));
  at[parts.at(-1)!] = value;
}

/** A tenant input with `value` at `field` (and what the field needs around it). */
function withValue(field: string, value: number): Record<string, unknown> {
  const tenant: Record<string, any> = { name: "t", onDemand: { enabled: true } };
  const [head] = field.split(".");
  const last = field.split(".").pop()!;
  const variant = (name: string) =>
    field.includes(".overlay.") ? { name, width: 10, overlay: { key: "_platform/overlays/logo.png", [last]: value } } : { name, width: 10, [last]: value };
  if (head === "renditions[]") tenant.renditions = [variant("r")];
  else if (field.startsWith("onDemand.presets[]")) tenant.onDemand.presets = [variant("p")];
  else if (field === "onDemand.widths[]") tenant.onDemand.widths = [value];
  else if (field === "budget.thresholdsPercent[]") tenant.budget = { monthlyUsd: 10, alertEmails: ["ops@example.com"], thresholdsPercent: [value] };
  else if (field.startsWith("budget.")) tenant.budget = { monthlyUsd: 10, alertEmails: ["ops@example.com"], [field.split(".")[1]!]: value };
  else if (field.startsWith("onDemand.rateLimit.")) tenant.onDemand.rateLimit = { requestsPerWindow: 100, [field.split(".")[2]!]: value };
  else setPath(tenant, field, value);
  return tenant;
}

const extreme = (name: string, pick: "min" | "max"): Record<string, unknown> => {
  const tenant: Record<string, any> = { name, onDemand: { enabled: true, reservedConcurrency: 1 } };
  for (const row of ROWS.filter((r) => !r.field.includes("[]"))) {
    setPath(tenant, row.field, row.allowed ? (pick === "min" ? row.allowed[0]! : row.allowed.at(-1)!) : row[pick]!);
  }
  tenant.budget.alertEmails = ["ops@example.com"];
  // The tombstone must outlive the events: at the DLQ's minimum retention, 19 days is its minimum (4 + 14 + 1).
  if (pick === "min") tenant.storage.tombstoneTtlDays = 4 + 1 + 1;
  return tenant;
};

let runs: Runs;
beforeAll(async () => {
  const layerZip = await fakeLayerZip();
  // One after the other: Pulumi's mocks are process-wide.
  const low = await dryRun({ stack: "dev", tenants: [extreme("low", "min")], settings: { layerZip } });
  const high = await dryRun({ stack: "dev", tenants: [extreme("high", "max")], settings: { layerZip } });
  runs = { low, high };
}, 120_000);

/** docs/configuration.md's table of numeric settings: the rows after its header, to the first line that is not a row. */
const documentedRows = (() => {
  const lines = readFileSync("docs/configuration.md", "utf8").split("\n");
  const header = lines.findIndex((line) => line.startsWith("| setting | accepted here |"));
  const end = lines.findIndex((line, i) => i > header && !line.startsWith("|"));
  return lines.slice(header + 2, end);
})();

it("has a row for every numeric field of the tenant schema, and docs/configuration.md's table lists the same fields", () => {
  expect(ROWS.map((r) => r.field).sort()).toEqual(numericFields(TENANT_SCHEMA).sort());
  expect(documentedRows.map((line) => /^\| `([^`]+)`/.exec(line)![1]).sort()).toEqual(ROWS.map((r) => r.field).sort());
});

describe.each(ROWS)("$field", (row) => {
  it("refuses values outside its bounds, accepts its bounds, and sends AWS only what AWS accepts", () => {
    const accepts = (value: number) => {
      try {
        parseTenant(withValue(row.field, value));
        return true;
      } catch (err) {
        const message = (err as Error).message;
        const fieldPath = row.field
          .replace("renditions[]", "renditions[0]")
          .replace("presets[]", "presets[0]")
          .replace("widths[]", "widths[0]")
          .replace("thresholdsPercent[]", "thresholdsPercent[0]");
        // tombstoneTtlDays at its minimum is refused by the cross-field rule only with a longer DLQ retention.
        if (!message.includes(fieldPath)) throw err;
        return false;
      }
    };
    if (row.allowed) {
      for (const value of row.allowed) expect(accepts(value), String(value)).toBe(true);
      for (const value of [0, 2, 4, 1000, 3654]) expect(accepts(value), String(value)).toBe(false);
    } else if (row.fraction) {
      const inside = (row.min! + row.max!) / 2;
      expect([accepts(row.min!), accepts(row.max!), accepts(row.min! - 0.01), accepts(row.max! + 0.01), accepts(inside)]).toEqual([
        !row.exclusiveMin,
        true,
        false,
        false,
        true,
      ]);
    } else if (row.field !== "storage.tombstoneTtlDays") {
      expect([accepts(row.min!), accepts(row.max!), accepts(row.min! - 1), accepts(row.max! + 1), accepts(row.min! + 0.5)]).toEqual([
        true,
        true,
        false,
        false,
        false,
      ]);
    } else {
      // Bounded below by the events' lifetime (queue 4 + dead-letter retention days), above by nothing AWS needs.
      expect([accepts(row.min!), accepts(row.min! - 1), accepts(row.max!)]).toEqual([true, false, true]);
    }
    const documented = documentedRows.find((line) => line.startsWith(`| \`${row.field}\` |`))?.replace(/[,_ ]/g, "");
    expect(documented, "docs/configuration.md row").toBeDefined();
    const bounds = row.allowed ? [row.allowed[0]!, row.allowed.at(-1)!] : [row.min!, row.max!];
    for (const bound of bounds)
      expect(documented!.includes(String(bound)) || documented!.includes(`${bound / 1024 / 1024}MiB`), `documented row shows ${bound}`).toBe(true);
    for (const sent of row.sent?.(runs) ?? []) {
      expect(sent.value, sent.what).toBeDefined();
      expect(Number.isInteger(sent.value), sent.what).toBe(true);
      expect(sent.value!, sent.what).toBeGreaterThanOrEqual(sent.min);
      expect(sent.value!, sent.what).toBeLessThanOrEqual(sent.max);
    }
    if (row.field === "function.logRetentionDays")
      expect(LOG_RETENTION).toContain(runs.high.one("aws:cloudwatch/logGroup:LogGroup", "tip-dev-high-processor-logs").inputs.retentionInDays);
  });
});

describe("settings the stack derives, at both extremes", () => {
  it("gives every alarm a period CloudWatch accepts (10, 30 or a multiple of 60) and evaluates at most one day", () => {
    for (const run of [runs.low, runs.high]) {
      for (const alarm of run.byType("aws:cloudwatch/metricAlarm:MetricAlarm")) {
        const { period, evaluationPeriods } = alarm.inputs;
        expect([10, 30].includes(period) || period % 60 === 0, alarm.name).toBe(true);
        expect(period * evaluationPeriods, alarm.name).toBeLessThanOrEqual(86_400);
      }
    }
  });

  it("keeps every queue's retention within SQS's 60 s to 14 days, and every mapping's batch within Lambda's rules", () => {
    for (const run of [runs.low, runs.high]) {
      for (const q of run.byType("aws:sqs/queue:Queue")) {
        expect(q.inputs.messageRetentionSeconds, q.name).toBeGreaterThanOrEqual(60);
        expect(q.inputs.messageRetentionSeconds, q.name).toBeLessThanOrEqual(1_209_600);
      }
      for (const m of run.byType("aws:lambda/eventSourceMapping:EventSourceMapping")) {
        expect(m.inputs.maximumBatchingWindowInSeconds, m.name).toBeGreaterThanOrEqual(m.inputs.batchSize > 10 ? 1 : 0);
        expect(m.inputs.scalingConfig.maximumConcurrency, m.name).toBeGreaterThanOrEqual(2);
      }
    }
  });
});
