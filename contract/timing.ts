/**
 * The timing rules the deployed stack and the runtime must agree on: what the components set on
 * the queue and the function, what the runtime assumes of them, and what the local platform plays.
 */

/**
 * The queue's visibility timeout as a multiple of the function timeout: Lambda's recommendation for
 * an SQS event source ("at least six times the timeout that you configure on your function").
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** How long the event queue keeps a message (the component sets it; redrive keeps the original age). */
export const QUEUE_RETENTION_DAYS = 4;

/**
 * How long a claim keeps other events of its key waiting: beyond the function's timeout, so a live
 * attempt is never overtaken, and well inside the visibility timeout, so a crashed attempt's
 * retry finds the lease expired.
 */
export function leaseSeconds(timeoutSeconds: number): number {
  return timeoutSeconds + 30;
}

/**
 * A third of the function's time for exiftool and for any one AWS call (at least 5 s), so a hang
 * is cut off with time left to retry it or record the outcome.
 */
export function callTimeoutMs(timeoutSeconds: number): number {
  return Math.max(5_000, Math.floor((timeoutSeconds * 1000) / 3));
}

/** Sources above this are spooled to /tmp for sharp instead of held in memory (both functions). */
export const SPOOL_ABOVE_BYTES = 16 * 1024 * 1024;

/**
 * The purge queue (on-demand tenants): CloudFront allows 15 wildcard invalidation paths in progress
 * per distribution (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html),
 * and an invalidation takes minutes. A purge CloudFront refuses waits in the queue, coming back
 * after a delay that doubles from 1/30 of this maximum (30 s, 60 s, ... 900 s deployed).
 * ChangeMessageVisibility accepts up to 12 hours.
 */
export const PURGE_RETRY_MAX_SECONDS = 900;

export function purgeRetryDelaySeconds(receiveCount: number, maxSeconds: number): number {
  const first = Math.max(1, Math.ceil(maxSeconds / 30));
  return Math.min(maxSeconds, first * 2 ** Math.min(20, Math.max(0, receiveCount - 1)));
}

/**
 * Receives before an owed purge is dead-lettered (SQS's largest maxReceiveCount is 1,000): at
 * 900 s apart, about ten days of CloudFront refusing; the queue keeps messages 14 days (its
 * maximum), so a purge is only ever lost by being dead-lettered, which is alarmed.
 */
export const PURGE_MAX_RECEIVE_COUNT = 1000;

/**
 * How long an owed purge waits in the queue before the drain may take it: past the longest render
 * the tenant's renderer can be in (its function timeout, at most 60 s by the schema) with a margin.
 * A render that read the old bytes before the source changed has then stored its variant, and the
 * drain removes it before CloudFront forgets the old ones. SQS's DelaySeconds is 0 to 900
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
 */
export function purgeDelaySeconds(rendererTimeoutSeconds: number): number {
  return Math.min(900, rendererTimeoutSeconds + 15);
}
export const PURGE_QUEUE_RETENTION_DAYS = 14;
