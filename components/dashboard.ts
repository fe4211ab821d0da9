import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METRICS_NAMESPACE } from "../contract/naming";

interface DashboardTenant {
  name: string;
  queueName: pulumi.Input<string>;
  deadLetterQueueName: pulumi.Input<string>;
  functionName: pulumi.Input<string>;
}

export interface PlatformDashboardArgs {
  /** Every tenant of the stack, a row of widgets each. */
  tenants: DashboardTenant[];
  /** The stack's region (the widgets' metrics live there). */
  region: pulumi.Input<string>;
  /** Width of a row's widgets in CloudWatch's 24-column grid. Default 4 (six widgets a row). */
  widgetWidth?: number;
}

/** A metric line of a CloudWatch dashboard widget: namespace, name, then dimension name/value pairs, then options. */
type MetricLine = (string | Record<string, string>)[];

interface Widget {
  title: string;
  stat: string;
  metrics: MetricLine[];
}

type TenantNames = { name: string; queueName: string; deadLetterQueueName: string; functionName: string };

/** The widgets of one tenant: what operators look at first. */
function tenantWidgets(t: TenantNames): Widget[] {
  const ours = (metric: string, ...dimensions: string[]): MetricLine => [METRICS_NAMESPACE, metric, "tenant", t.name, ...dimensions];
  return [
    {
      title: `${t.name}: objects / 5 min`,
      stat: "Sum",
      metrics: [ours("Objects", "status", "done"), ours("Objects", "status", "deleted"), ours("Objects", "status", "skipped")],
    },
    {
      title: `${t.name}: failures / 5 min`,
      stat: "Sum",
      metrics: [ours("Objects", "status", "failed"), ours("Objects", "status", "retrying"), ["AWS/Lambda", "Errors", "FunctionName", t.functionName]],
    },
    {
      title: `${t.name}: dead-letter queue depth`,
      stat: "Maximum",
      metrics: [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", t.deadLetterQueueName]],
    },
    { title: `${t.name}: oldest queued event (s)`, stat: "Maximum", metrics: [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", t.queueName]] },
    { title: `${t.name}: p95 duration (ms)`, stat: "p95", metrics: [ours("TotalMs"), ours("MetadataMs"), ours("RenderMs")] },
    { title: `${t.name}: bytes not read thanks to ranged reads`, stat: "Sum", metrics: [ours("BytesSavedByRangedReads"), ours("MetadataBytesRead")] },
  ];
}

/**
 * CloudWatch takes at most 500 widgets and 2,500 metrics on one dashboard
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html): 80 tenants
 * of 6 widgets and 13 metrics fit on a page (480 widgets, 1,040 metrics). A stack of more tenants
 * gets more pages; a tenant added at the end changes only the last one.
 */
export const TENANTS_PER_DASHBOARD = 80;

/** The dashboard bodies of a stack, a page of up to TENANTS_PER_DASHBOARD tenants each. */
export function dashboardBodies(region: string, tenants: readonly TenantNames[], width = 4): string[] {
  const pages: string[] = [];
  for (let first = 0; first < Math.max(1, tenants.length); first += TENANTS_PER_DASHBOARD) {
    const page = tenants.slice(first, first + TENANTS_PER_DASHBOARD);
    const widgets = page.flatMap((tenant, row) =>
      tenantWidgets(tenant).map((w, column) => ({
        type: "metric",
        x: column * width,
        y: row * 6,
        width,
        height: 6,
        properties: { title: w.title, region, stat: w.stat, period: 300, view: "timeSeries", metrics: w.metrics },
      })),
    );
    pages.push(JSON.stringify({ widgets }));
  }
  return pages;
}

/**
 * The stack's CloudWatch dashboards: a row per tenant with throughput, failures, DLQ depth, queue
 * age, p95 duration, bytes saved; `<name>`, then `<name>-2`, ... for every 80 tenants.
 */
export class PlatformDashboard extends pulumi.ComponentResource {
  /** The first page (the only one below 81 tenants). */
  public readonly dashboard: aws.cloudwatch.Dashboard;
  public readonly dashboards: aws.cloudwatch.Dashboard[];
  public readonly dashboardName: pulumi.Output<string>;

  constructor(name: string, args: PlatformDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:PlatformDashboard", name, {}, opts);
    const pageCount = Math.max(1, Math.ceil(args.tenants.length / TENANTS_PER_DASHBOARD));
    const bodies = pulumi
      .all([args.region, pulumi.all(args.tenants.map((t) => pulumi.all([t.name, t.queueName, t.deadLetterQueueName, t.functionName])))])
      .apply(([region, tenants]) =>
        dashboardBodies(
          region,
          tenants.map(([tenantName, queueName, deadLetterQueueName, functionName]) => ({ name: tenantName, queueName, deadLetterQueueName, functionName })),
          args.widgetWidth,
        ),
      );
    this.dashboards = Array.from({ length: pageCount }, (_, page) => {
      const pageName = page === 0 ? name : `${name}-${page + 1}`;
      return new aws.cloudwatch.Dashboard(pageName, { dashboardName: pageName, dashboardBody: bodies.apply((all) => all[page]!) }, { parent: this });
    });
    this.dashboard = this.dashboards[0]!;
    this.dashboardName = this.dashboard.dashboardName;
    this.registerOutputs({ dashboardNames: this.dashboards.map((d) => d.dashboardName) });
  }
}
