/**
 * The processing function's entry point (its archive's `index.handler`). Thin: parse the invocation, run each object event through processEvent, and
 * report the SQS messages that should come back (`ReportBatchItemFailures`). An on-demand tenant's
 * purge queue invokes the same function: its batches go to the purge drain.
 */
import "./metadata/early-helper"; // first: see the file
import type { Logger } from "pino";
import { mapLimit } from "./concurrency";
import { classify } from "./errors";
import { parseInvocation, type EventEnvelope } from "./events";
import { createDependencies, type HandlerDeps } from "./dependencies";
import { outcomeMetrics } from "./metrics";
import type { Outcome } from "./outcome";
import { processEvent } from "./process-object";
import type { PurgeRecord } from "./on-demand/purge-drain";
import { NO_TRACING } from "./tracing";

export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

interface LambdaContextLike {
  awsRequestId?: string;
  /** Lambda's: milliseconds until the function is stopped. */
  getRemainingTimeInMillis?: () => number;
}

export interface HandlerHooks {
  /** Called once per object outcome (the local platform prints a readable line from it). */
  onOutcome?: (outcome: Outcome) => void;
}

function receiveCountOf(event: unknown, messageId: string | undefined): number {
  if (!messageId) return 1;
  const records = (event as { Records?: { messageId?: string; attributes?: { ApproximateReceiveCount?: string } }[] }).Records ?? [];
  return Number(records.find((r) => r.messageId === messageId)?.attributes?.ApproximateReceiveCount ?? 1);
}

async function processEnvelope(
  deps: HandlerDeps,
  envelope: EventEnvelope,
  receiveCount: number,
  deadline: number | undefined,
  log: Logger,
  hooks: HandlerHooks,
): Promise<boolean> {
  if (envelope.invalid) {
    // Nothing to retry and no key to record it under: say so loudly and let it go.
    log.error({ messageId: envelope.messageId, reason: envelope.invalid }, "dropping a message that is not an S3 notification");
    return true;
  }
  for (const event of envelope.events) {
    const eventLog = log.child({ key: event.key, event: event.eventName, sequencer: event.sequencer, messageId: envelope.messageId });
    try {
      const tracer = deps.tracer ?? NO_TRACING;
      const outcome = await tracer.span("object", async (annotate) => {
        annotate({ tenant: deps.tenant.name, key: event.key, event: event.eventName });
        const result = await processEvent(deps, event, { receiveCount, maxReceiveCount: deps.maxReceiveCount, deadline }, eventLog);
        annotate({ status: result.status, code: result.code });
        return result;
      });
      eventLog.info({ ...outcome, tenant: undefined, key: undefined, event: undefined }, "object processed");
      eventLog.info(outcomeMetrics(outcome), "metrics");
      hooks.onOutcome?.(outcome);
    } catch (err) {
      const failure = classify(err);
      eventLog.warn({ code: failure.code, err: failure.message, receiveCount }, "object will be retried");
      eventLog.info(outcomeMetrics({ tenant: deps.tenant.name, status: "retrying" }), "metrics");
      hooks.onOutcome?.({
        tenant: deps.tenant.name,
        key: event.key,
        event: event.eventName,
        status: "failed",
        code: failure.code,
        reason: `retrying (attempt ${receiveCount}): ${failure.message}`,
      });
      // One SQS message is the unit of retry: its remaining records are retried with it.
      return false;
    }
  }
  return true;
}

/** An invocation by the tenant's purge queue's event source mapping (not its event queue's). */
function purgeRecords(deps: HandlerDeps, event: unknown): PurgeRecord[] | undefined {
  const records = (event as { Records?: (PurgeRecord & { eventSourceARN?: string })[] } | undefined)?.Records;
  return deps.purges && records?.length && records.every((r) => deps.purges!.isFrom(r.eventSourceARN)) ? records : undefined;
}

export function createHandler(deps: HandlerDeps, hooks: HandlerHooks = {}) {
  return async function handler(event: unknown, context?: LambdaContextLike): Promise<BatchResponse> {
    const log = deps.log.child({ requestId: context?.awsRequestId });
    const purges = purgeRecords(deps, event);
    if (purges) return deps.purges!.drain(purges, log);
    const envelopes = parseInvocation(event);
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline = remaining === undefined ? undefined : Date.now() + remaining;
    const failures: { itemIdentifier: string }[] = [];
    let directFailure: unknown;
    await (deps.tracer ?? NO_TRACING).invocation(`${deps.tenant.name}-processor`, () =>
      mapLimit(envelopes, deps.concurrency, async (envelope) => {
        const ok = await processEnvelope(deps, envelope, receiveCountOf(event, envelope.messageId), deadline, log, hooks);
        if (ok) return;
        if (envelope.messageId) failures.push({ itemIdentifier: envelope.messageId });
        else directFailure = new Error("processing failed; S3 retries asynchronous invocations");
      }),
    );
    // A direct S3 invocation has no batch to report into: throwing makes Lambda retry it.
    if (directFailure) throw directFailure;
    return { batchItemFailures: failures };
  };
}

let containerHandler: ReturnType<typeof createHandler> | undefined;

/**
 * In a Lambda container (Lambda sets AWS_LAMBDA_FUNCTION_NAME), the dependencies are built during
 * INIT rather than by the first object, and adopt the exiftool helper early-helper.ts started
 * there: perl loads ExifTool while Node loads, instead of the first object waiting for both in turn.
 */
if (process.env.AWS_LAMBDA_FUNCTION_NAME) {
  const deps = createDependencies();
  deps.extractor.helper.prestart();
  containerHandler = createHandler(deps);
}

/** The function's handler: dependencies (clients, exiftool process) live as long as the container. */
export const handler = (event: unknown, context?: LambdaContextLike): Promise<BatchResponse> => {
  containerHandler ??= createHandler(createDependencies());
  return containerHandler(event, context);
};
