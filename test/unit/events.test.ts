import { describe, expect, it } from "vitest";
import {
  compareSequencers,
  decodeS3Key,
  encodeS3Key,
  normalizeSequencer,
  parseInvocation,
  REPROCESS_EVENT_NAME,
  REPROCESS_FIELD,
  s3Notification,
} from "../../runtime/events";

const s3Record = (key: string, eventName = "ObjectCreated:Put", sequencer = "0055AED6DCD90281E5") => ({
  eventVersion: "2.1",
  eventSource: "aws:s3",
  eventName,
  s3: { bucket: { name: "src" }, object: { key, size: 10, eTag: "abc", sequencer } },
});

describe("S3 keys", () => {
  it.each([
    ["my+photo.jpg", "my photo.jpg"],
    ["a%2Bb.jpg", "a+b.jpg"],
    ["100%25+done.png", "100% done.png"],
    ["caf%C3%A9/%E5%86%99%E7%9C%9F.jpg", "café/写真.jpg"],
    ["deep/a/b/c/d/e/f.jpg", "deep/a/b/c/d/e/f.jpg"],
  ])("decodes %s as %s, and encodes it back", (encoded, decoded) => {
    expect(decodeS3Key(encoded)).toBe(decoded);
    expect(decodeS3Key(encodeS3Key(decoded))).toBe(decoded);
  });

  it("rejects malformed escapes as a permanent problem", () => {
    expect(() => decodeS3Key("bad%zz")).toThrow(/not valid URL encoding/);
  });
});

describe("sequencers", () => {
  it("compares after left-padding, as AWS documents", () => {
    expect(compareSequencers("FF", "0100")).toBe(-1);
    expect(compareSequencers("0055AED6DCD90281E5", "55AED6DCD90281E5")).toBe(0);
    expect(compareSequencers("55AED6DCD90281E6", "55AED6DCD90281E5")).toBe(1);
    expect(normalizeSequencer("ab")).toHaveLength(32);
    expect(() => normalizeSequencer("xyz")).toThrow(/invalid S3 sequencer/);
  });
});

describe("invocations", () => {
  it("reads every record of every SQS message", () => {
    const event = {
      Records: [
        { eventSource: "aws:sqs", messageId: "m1", body: JSON.stringify({ Records: [s3Record("a+b.jpg"), s3Record("c.jpg", "ObjectRemoved:Delete")] }) },
        { eventSource: "aws:sqs", messageId: "m2", body: JSON.stringify({ Records: [s3Record("d.jpg")] }) },
      ],
    };
    const envelopes = parseInvocation(event);
    expect(envelopes.map((e) => e.messageId)).toEqual(["m1", "m2"]);
    expect(envelopes[0]!.events.map((e) => [e.kind, e.key])).toEqual([
      ["created", "a b.jpg"],
      ["removed", "c.jpg"],
    ]);
    expect(envelopes[1]!.events[0]!.sequencer).toBe("000000000000000055AED6DCD90281E5");
  });

  it("ignores s3:TestEvent and event types that do not change what is served", () => {
    const test = { Service: "Amazon S3", Event: "s3:TestEvent", Bucket: "src" };
    expect(parseInvocation({ Records: [{ eventSource: "aws:sqs", messageId: "t", body: JSON.stringify(test) }] })[0]!.events).toEqual([]);
    expect(parseInvocation(test)).toEqual([]);
    expect(parseInvocation({ Records: [s3Record("x.jpg", "ObjectRestore:Completed")] })[0]!.events).toEqual([]);
  });

  it("accepts a direct S3 event", () => {
    const [envelope] = parseInvocation({ Records: [s3Record("dir/x%20y.jpg")] });
    expect(envelope!.messageId).toBeUndefined();
    expect(envelope!.events[0]!.key).toBe("dir/x y.jpg");
  });

  it("marks unparseable messages invalid instead of throwing", () => {
    const envelopes = parseInvocation({
      Records: [
        { eventSource: "aws:sqs", messageId: "bad", body: "not json" },
        { eventSource: "aws:sqs", messageId: "nokey", body: JSON.stringify({ Records: [{ eventName: "ObjectCreated:Put", s3: { bucket: { name: "b" } } }] }) },
      ],
    });
    expect(envelopes.map((e) => e.invalid)).toEqual([expect.stringMatching(/not JSON/), expect.stringMatching(/lacks bucket, key or sequencer/)]);
  });
});

describe("reprocess events", () => {
  it("round-trip through s3Notification and parseInvocation with their mark; S3's own records have none", () => {
    const body = s3Notification({
      eventName: REPROCESS_EVENT_NAME,
      bucket: "src",
      key: "a b/ç.jpg",
      sequencer: "0".repeat(32),
      size: 7,
      reprocess: { runId: "run-1", force: true },
    });
    const [envelope] = parseInvocation({ Records: [{ eventSource: "aws:sqs", messageId: "m1", body }] });
    expect(envelope!.events).toEqual([expect.objectContaining({ kind: "created", key: "a b/ç.jpg", size: 7, reprocess: { runId: "run-1", force: true } })]);
    const [plain] = parseInvocation({ Records: [s3Record("x.jpg")] });
    expect(plain!.events[0]!.reprocess).toBeUndefined();
  });

  it("refuses a mark without a usable run id, as an invalid message", () => {
    for (const mark of [{}, { runId: "" }, { runId: "has space" }, { runId: 42 }]) {
      const [envelope] = parseInvocation({ Records: [{ ...s3Record("x.jpg"), [REPROCESS_FIELD]: mark }] });
      expect(envelope!.invalid, JSON.stringify(mark)).toMatch(/run id/);
    }
  });
});
