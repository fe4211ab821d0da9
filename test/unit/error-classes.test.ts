/** Errors in the class that matches what a retry can change. */
import { describe, expect, it } from "vitest";
import { classify, PermanentError, TransientError } from "../../runtime/errors";
import { renderRenditions } from "../../runtime/renditions";

const aws = (name: string, status: number, message = name) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, $fault: status >= 500 ? "server" : "client" });

describe("AWS errors, by what a retry can change", () => {
  it.each([
    ["AccessDenied", 403, "ACCESS_DENIED"],
    ["Forbidden", 403, "ACCESS_DENIED"], // a HEAD has no body to name its error
    ["InvalidObjectState", 403, "OBJECT_ARCHIVED"],
  ])("%s (%i) is permanent: %s", (name, status, code) => {
    const failure = classify(aws(name, status));
    expect(failure).toBeInstanceOf(PermanentError);
    expect(failure.code).toBe(code);
  });

  it("a DynamoDB item above 400 KB is permanent", () => {
    const failure = classify(aws("ValidationException", 400, "Item size has exceeded the maximum allowed size"));
    expect([failure.constructor, failure.code]).toEqual([PermanentError, "ITEM_TOO_LARGE"]);
  });

  it.each([
    ["SlowDown", 503],
    ["ThrottlingException", 400],
    ["ProvisionedThroughputExceededException", 400],
    ["RequestTimeout", 400],
    ["InternalError", 500],
  ])("%s (%i) is transient", (name, status) => {
    expect(classify(aws(name, status))).toBeInstanceOf(TransientError);
  });
});

describe("decode errors, by what a retry can change", () => {
  it("a decode that ran out of memory or lost its spool file is retried, not marked corrupt", async () => {
    const missing = await renderRenditions("/tmp/no-such-spool-file", [{ name: "w-jpeg", width: 1024, fit: "inside", format: "jpeg", quality: 70 }], {
      maxInputPixels: 1e8,
      profile: "none",
    }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TransientError);
    expect((missing as TransientError).code).toBe("SPOOL_FILE_MISSING");
  });
});
