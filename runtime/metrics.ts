/**
 * One CloudWatch Embedded Metric Format document per object outcome, written as a log line: on
 * Lambda, CloudWatch Logs turns it into metrics (no API call, no extra latency); locally the same
 * line is in the platform's log. Dimension: tenant (and status, for the object count).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { METRICS_NAMESPACE } from "../contract/naming";
import type { Outcome } from "./outcome";

type Unit = "Count" | "Bytes" | "Milliseconds";

/** Stages whose duration becomes a metric `<Stage>Ms` (process-object.ts's Timer marks). */
const STAGES = ["head", "metadata", "download", "decode", "render", "preview", "upload", "purge", "cleanup", "total"] as const;

const stageMetric = (stage: string) => `${stage[0]!.toUpperCase()}${stage.slice(1)}Ms`;

/** Every metric the platform emits, with its unit: the dashboard may name only these. */
export const METRICS: Record<string, Unit> = {
  Objects: "Count",
  ObjectBytes: "Bytes",
  MetadataBytesRead: "Bytes",
  BytesSavedByRangedReads: "Bytes",
  RenditionsWritten: "Count",
  PurgesSent: "Count",
  PurgePathsSent: "Count",
  PurgesDeferred: "Count",
  ...Object.fromEntries(STAGES.map((stage) => [stageMetric(stage), "Milliseconds" as const])),
};

export type ObjectStatus = Outcome["status"] | "retrying";

/** The EMF document of one outcome; only the measurements the outcome has are metrics. */
export function outcomeMetrics(
  outcome: Pick<Outcome, "tenant" | "size" | "metadataBytesRead" | "renditions" | "durationsMs"> & { status: ObjectStatus },
  timestamp = Date.now(),
) {
  const values: Record<string, number> = {};
  if (outcome.size !== undefined) values.ObjectBytes = outcome.size;
  if (outcome.metadataBytesRead !== undefined) {
    values.MetadataBytesRead = outcome.metadataBytesRead;
    if (outcome.size !== undefined) values.BytesSavedByRangedReads = Math.max(0, outcome.size - outcome.metadataBytesRead);
  }
  if (outcome.renditions !== undefined) values.RenditionsWritten = outcome.renditions;
  for (const [stage, ms] of Object.entries(outcome.durationsMs ?? {})) {
    const name = stageMetric(stage);
    if (METRICS[name]) values[name] = ms;
  }
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        { Namespace: METRICS_NAMESPACE, Dimensions: [["tenant", "status"]], Metrics: [{ Name: "Objects", Unit: METRICS.Objects }] },
        { Namespace: METRICS_NAMESPACE, Dimensions: [["tenant"]], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: METRICS[Name] })) },
      ],
    },
    tenant: outcome.tenant,
    status: outcome.status,
    Objects: 1,
    ...values,
  };
}

/**
 * The EMF document of one purge batch (runtime/on-demand/purge-drain.ts): owed purges handed to
 * CloudFront, the paths they cost, and purges CloudFront refused for now (they wait in the queue).
 */
export function purgeMetrics(batch: { tenant: string; sent: number; paths: number; deferred: number }, timestamp = Date.now()) {
  const values = { PurgesSent: batch.sent, PurgePathsSent: batch.paths, PurgesDeferred: batch.deferred };
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        { Namespace: METRICS_NAMESPACE, Dimensions: [["tenant"]], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: METRICS[Name] })) },
      ],
    },
    tenant: batch.tenant,
    ...values,
  };
}
