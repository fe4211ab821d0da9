/**
 * AWS X-Ray, for tenants with `function.tracing: true`: a subsegment per object (annotated with
 * tenant, key and outcome, so traces can be searched by them), one per stage inside it (head,
 * metadata, download, decode, render, upload, purge...), and one per AWS SDK call made in them.
 *
 * On Lambda (tracing mode Active) the function's segment is Lambda's and the SDK sends subsegments
 * to Lambda's X-Ray daemon as they close. Elsewhere (the local platform, tests) each invocation gets
 * a segment of its own, sent the same way to AWS_XRAY_DAEMON_ADDRESS (127.0.0.1:2000 by default,
 * where a local X-Ray daemon may listen; UDP, so nothing waits when none does).
 *
 * Tenants without tracing get NO_TRACING: the SDK is not even loaded.
 */
import type * as XRay from "aws-xray-sdk-core";
import type { Segment, Subsegment } from "aws-xray-sdk-core";

type Annotations = Record<string, string | number | boolean | undefined>;

export interface Tracer {
  /** Instruments an AWS SDK v3 client: each call becomes a subsegment of the work it is made in. */
  client<C extends { middlewareStack: unknown }>(client: C): C;
  /** Runs `work` in a subsegment of the current one; `annotate` adds searchable annotations to it. */
  span<T>(name: string, work: (annotate: (values: Annotations) => void) => Promise<T>): Promise<T>;
  /** One invocation of the handler: Lambda's segment on Lambda, a new one elsewhere. */
  invocation<T>(name: string, work: () => Promise<T>): Promise<T>;
}

export const NO_TRACING: Tracer = {
  client: (client) => client,
  span: (_name, work) => work(() => undefined),
  invocation: (_name, work) => work(),
};

/** X-Ray's limits: annotation keys are letters, digits and '_'; string values at most 1,000 characters. */
function annotateWith(subsegment: Subsegment | Segment, values: Annotations): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    subsegment.addAnnotation(key.replace(/[^A-Za-z0-9_]/g, "_"), typeof value === "string" ? value.slice(0, 1000) : value);
  }
}

export function createTracer(env: NodeJS.ProcessEnv = process.env): Tracer {
  // Loaded only here: with LAMBDA_TASK_ROOT set, loading it sets up Lambda's segment.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const xray = require("aws-xray-sdk-core") as typeof XRay;
  const onLambda = Boolean(env.LAMBDA_TASK_ROOT);
  if (!onLambda) {
    // As on Lambda: every subsegment is sent when it closes, not held until the segment is.
    xray.SegmentUtils.setStreamingThreshold(0);
    if (env.AWS_XRAY_DAEMON_ADDRESS) xray.setDaemonAddress(env.AWS_XRAY_DAEMON_ADDRESS);
    // A call made outside any invocation (none are, but a stray one must not log an error per call).
    xray.setContextMissingStrategy("IGNORE_ERROR");
  }
  xray.setLogger({ error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined });

  return {
    client(client) {
      return xray.captureAWSv3Client(client as never) as unknown as typeof client;
    },
    span(name, work) {
      return xray.captureAsyncFunc(name, async (subsegment) => {
        try {
          const result = await work((values) => subsegment && annotateWith(subsegment, values));
          subsegment?.close();
          return result;
        } catch (err) {
          subsegment?.close(err as Error);
          throw err;
        }
      });
    },
    invocation(name, work) {
      if (onLambda) return work();
      const segment = new xray.Segment(name);
      const namespace = xray.getNamespace();
      return namespace.runAndReturn(async () => {
        xray.setSegment(segment);
        try {
          return await work();
        } catch (err) {
          segment.close(err as Error);
          throw err;
        } finally {
          if (!segment.isClosed()) segment.close();
        }
      });
    },
  };
}
