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

/** The widgets of one tenant: what operators look at first. */
function tenantWidgets(t: { name: string; queueName: string; deadLetterQueueName: string; functionName: string }): Widget[] {
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

/** One CloudWatch dashboard per stack: a row per tenant with throughput, failures, DLQ depth, queue age, p95 duration, bytes saved. */
export class PlatformDashboard extends pulumi.ComponentResource {
  public readonly dashboard: aws.cloudwatch.Dashboard;
  public readonly dashboardName: pulumi.Output<string>;

  constructor(name: string, args: PlatformDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:PlatformDashboard", name, {}, opts);
    const width = args.widgetWidth ?? 4;
    const body = pulumi
      .all([args.region, pulumi.all(args.tenants.map((t) => pulumi.all([t.name, t.queueName, t.deadLetterQueueName, t.functionName])))])
      .apply(([region, tenants]) =>
        JSON.stringify({
          widgets: tenants.flatMap(([tenantName, queueName, deadLetterQueueName, functionName], row) =>
            tenantWidgets({ name: tenantName, queueName, deadLetterQueueName, functionName }).map((w, column) => ({
              type: "metric",
              x: column * width,
              y: row * 6,
              width,
              height: 6,
              properties: { title: w.title, region, stat: w.stat, period: 300, view: "timeSeries", metrics: w.metrics },
            })),
          ),
        }),
      );
    this.dashboard = new aws.cloudwatch.Dashboard(name, { dashboardName: name, dashboardBody: body }, { parent: this });
    this.dashboardName = this.dashboard.dashboardName;
    this.registerOutputs({ dashboardName: this.dashboardName });
  }
}
