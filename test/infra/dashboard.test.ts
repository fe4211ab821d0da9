/**
 * The stack's dashboard under Pulumi's mocks: a row per tenant, and every metric it names is one the
 * platform emits (runtime/metrics.ts, with the dimensions it emits them with) or one AWS publishes
 * for that tenant's own queue, dead-letter queue or function.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { METRICS_NAMESPACE } from "../../contract/naming";
import { METRICS, outcomeMetrics } from "../../runtime/metrics";
import { dashboardBodies, TENANTS_PER_DASHBOARD } from "../../components/dashboard";
import { DEV_TENANTS, dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";

let run: DryRunResult;

beforeAll(async () => {
  run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip: await fakeLayerZip() } });
});

/** What AWS publishes, by namespace, for the resources a tenant has. */
const AWS_METRICS: Record<string, { metrics: string[]; dimension: string }> = {
  "AWS/SQS": { metrics: ["ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent"], dimension: "QueueName" },
  "AWS/Lambda": { metrics: ["Errors", "Invocations", "Duration", "Throttles"], dimension: "FunctionName" },
};
/** The dimension sets our EMF lines declare. */
const OUR_DIMENSION_SETS = outcomeMetrics({ tenant: "t", status: "done", size: 1, metadataBytesRead: 1 }, 0)._aws.CloudWatchMetrics.map((d) =>
  JSON.stringify(d.Dimensions[0]),
);
const STATUSES = ["done", "failed", "deleted", "skipped", "retrying"];

describe("the stack's dashboard", () => {
  const body = () =>
    JSON.parse(run.one("aws:cloudwatch/dashboard:Dashboard", "tip-dev").inputs.dashboardBody) as {
      widgets: { properties: { title: string; stat: string; metrics: (string | object)[][] } }[];
    };

  it("has a row of throughput, failures, DLQ depth, queue age, p95 duration and bytes saved per tenant", () => {
    const titles = body().widgets.map((w) => w.properties.title);
    for (const { name } of DEV_TENANTS) {
      for (const what of ["objects", "failures", "dead-letter queue depth", "oldest queued event", "p95 duration", "bytes not read"]) {
        expect(
          titles.filter((t) => t.startsWith(`${name}:`) && t.includes(what)),
          `${name} ${what}`,
        ).toHaveLength(1);
      }
    }
    expect(body().widgets.find((w) => w.properties.title.includes("p95"))!.properties.stat).toBe("p95");
  });

  it("names only metrics that exist, with the dimensions they are published with, of the tenant's own resources", () => {
    for (const widget of body().widgets) {
      const tenant = widget.properties.title.split(":")[0]!;
      for (const line of widget.properties.metrics) {
        const [namespace, name, ...rest] = line.filter((part): part is string => typeof part === "string");
        const dimensions = Object.fromEntries(Array.from({ length: rest.length / 2 }, (_, i) => [rest[2 * i]!, rest[2 * i + 1]!]));
        if (namespace === METRICS_NAMESPACE) {
          expect(Object.keys(METRICS), name).toContain(name);
          expect(OUR_DIMENSION_SETS, `${name} ${JSON.stringify(Object.keys(dimensions))}`).toContain(JSON.stringify(Object.keys(dimensions)));
          expect(dimensions.tenant).toBe(tenant);
          if (dimensions.status) expect(STATUSES).toContain(dimensions.status);
          if (dimensions.status) expect(name).toBe("Objects");
        } else {
          const known = AWS_METRICS[namespace!];
          expect(known, namespace).toBeDefined();
          expect(known!.metrics).toContain(name);
          expect(Object.keys(dimensions)).toEqual([known!.dimension]);
          expect(dimensions[known!.dimension]).toMatch(new RegExp(`^tip-dev-${tenant}-(events|events-dlq|processor)`));
        }
      }
    }
  });
});

describe("a stack of many tenants", () => {
  const tenants = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ name: `t${i}`, queueName: `q${i}`, deadLetterQueueName: `d${i}`, functionName: `f${i}` }));
  const parsed = (bodies: string[]) => bodies.map((b) => JSON.parse(b) as { widgets: { properties: { title: string; metrics: unknown[] } }[] });

  it("spreads its tenants over pages CloudWatch accepts: at most 500 widgets and 2,500 metrics each, every tenant on one", () => {
    const pages = parsed(dashboardBodies("eu-west-1", tenants(1_000)));
    expect(pages).toHaveLength(Math.ceil(1_000 / TENANTS_PER_DASHBOARD));
    for (const page of pages) {
      expect(page.widgets.length).toBeLessThanOrEqual(500);
      expect(page.widgets.reduce((sum, w) => sum + w.properties.metrics.length, 0)).toBeLessThanOrEqual(2_500);
    }
    const owners = pages.flatMap((page) => [...new Set(page.widgets.map((w) => w.properties.title.split(":")[0]))]);
    expect(owners).toEqual(tenants(1_000).map((t) => t.name));
  });

  it("changes only the last page when a tenant is added at the end", () => {
    const before = dashboardBodies("eu-west-1", tenants(1_000));
    const after = dashboardBodies("eu-west-1", tenants(1_001));
    expect(after.slice(0, -1)).toEqual(before.slice(0, -1));
    expect(after.at(-1)).not.toEqual(before.at(-1));
  });

  it("keeps the first page's name, so a deployed dashboard stays the same resource", () => {
    expect(run.byType("aws:cloudwatch/dashboard:Dashboard").map((d) => d.inputs.dashboardName)).toEqual(["tip-dev"]);
  });
});
