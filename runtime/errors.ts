/**
 * Every failure is either permanent (recorded on the item, never retried) or transient (the record
 * goes back to the queue through `batchItemFailures`, and to the dead-letter queue once the redrive
 * policy's receive count is spent).
 */
export type PermanentCode =
  | "EMPTY_OBJECT"
  | "TOO_LARGE"
  | "TOO_MANY_PIXELS"
  | "TOO_MANY_FRAMES"
  | "UNSUPPORTED_FORMAT"
  | "CORRUPT_IMAGE"
  | "OBJECT_GONE"
  | "INVALID_EVENT"
  | "METADATA_FAILED"
  | "ACCESS_DENIED"
  | "OBJECT_ARCHIVED"
  | "ITEM_TOO_LARGE"
  | "OVER_MEMORY_BUDGET"
  | "ANALYSIS_FAILED"
  | "OVERLAY_MISSING"
  | "OVERLAY_INVALID";

export class PermanentError extends Error {
  readonly permanent = true;
  constructor(
    readonly code: PermanentCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PermanentError";
  }
}

export class TransientError extends Error {
  readonly permanent = false;
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TransientError";
  }
}

/** Another worker holds a live claim on the same key: retry later, in order. */
export class KeyBusyError extends TransientError {
  constructor(key: string) {
    super("KEY_BUSY", `another event for "${key}" is being processed`);
  }
}

interface AwsLikeError {
  name?: string;
  code?: string;
  $fault?: "client" | "server";
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const TRANSIENT_NAMES = new Set([
  "SlowDown",
  "ThrottlingException",
  "Throttling",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "InternalError",
  "InternalServerError",
  "ServiceUnavailable",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "AbortError",
  "TransactionConflictException",
]);
const TRANSIENT_NODE_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "UND_ERR_SOCKET"]);

/** True for AWS/network failures worth retrying: 5xx, throttling, timeouts, dropped connections. */
function isTransientAwsError(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  if (!err || typeof err !== "object") return false;
  const e = err as AwsLikeError;
  const status = e.$metadata?.httpStatusCode;
  if (e.$retryable || e.$fault === "server" || (status !== undefined && (status >= 500 || status === 429))) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && TRANSIENT_NODE_CODES.has(e.code)) return true;
  return false;
}

export function isPreconditionFailed(err: unknown): boolean {
  const e = err as AwsLikeError | undefined;
  return e?.name === "PreconditionFailed" || e?.$metadata?.httpStatusCode === 412;
}

/** DynamoDB's answer to a write whose condition did not hold. */
export function isConditionalCheckFailed(err: unknown): boolean {
  return (err as AwsLikeError | undefined)?.name === "ConditionalCheckFailedException";
}

export function isNotFound(err: unknown): boolean {
  const e = err as AwsLikeError | undefined;
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/**
 * AWS answers that no retry of this object can change: the object itself is unreadable to this
 * function, or the record we would write is too big. (Throttling and timeouts, 4xx too, are in
 * TRANSIENT_NAMES; a 412 is handled where the read is made.)
 */
function permanentAwsError(err: AwsLikeError, message: string): PermanentError | undefined {
  if (err.name === "AccessDenied" || (err.$metadata?.httpStatusCode === 403 && err.name !== "InvalidObjectState")) {
    return new PermanentError("ACCESS_DENIED", `the function may not read this object (encrypted with a KMS key its role cannot use?): ${message}`, {
      cause: err,
    });
  }
  if (err.name === "InvalidObjectState") {
    return new PermanentError(
      "OBJECT_ARCHIVED",
      `the object is in an archive storage class (Glacier, Deep Archive): restore it, then reprocess it: ${message}`,
      { cause: err },
    );
  }
  if (err.name === "ValidationException" && /item size/i.test(message)) {
    return new PermanentError("ITEM_TOO_LARGE", `the table item would exceed DynamoDB's 400 KB: ${message}`, { cause: err });
  }
  return undefined;
}

/** Normalises anything thrown into the two kinds; unknown errors are treated as transient (retry, then DLQ). */
export function classify(err: unknown): PermanentError | TransientError {
  if (err instanceof PermanentError || err instanceof TransientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const aws = err as AwsLikeError | undefined;
  const permanent = aws && permanentAwsError(aws, message);
  if (permanent) return permanent;
  // A HEAD has no body to name its error: fall back to the status code.
  const status = aws?.$metadata?.httpStatusCode;
  const name = aws?.name && !/^Unknown(Error)?$/.test(aws.name) ? aws.name : status ? `HTTP_${status}` : "Error";
  return new TransientError(isTransientAwsError(err) ? name : `UNEXPECTED_${name}`, message, { cause: err });
}
