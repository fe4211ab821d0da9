/**
 * X-Ray tracing end to end: the real pipeline on the local platform, a real photo, and the segment
 * documents the X-Ray SDK sends to its daemon address, received here on a UDP socket. The trace
 * must show the object, its stages and every AWS call inside the stage that made it; a tenant that
 * did not opt in sends nothing.
 */
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EXIFTOOL_CORPUS } from "../../fixtures/corpus";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

interface TraceDocument {
  id: string;
  name: string;
  trace_id: string;
  parent_id?: string;
  type?: string;
  start_time: number;
  end_time?: number;
  in_progress?: boolean;
  annotations?: Record<string, string | number | boolean>;
  aws?: { operation?: string };
  subsegments?: TraceDocument[];
  fault?: boolean;
  error?: boolean;
}

const received: TraceDocument[] = [];
const daemon = dgram.createSocket("udp4");
let t: TestPlatform;

/** Every document, with the subsegments nested in them flattened out (the SDK streams most of them). */
function flatten(doc: TraceDocument, parent?: string): TraceDocument[] {
  const self = parent && !doc.parent_id ? { ...doc, parent_id: parent } : doc;
  return [self, ...(doc.subsegments ?? []).flatMap((s) => flatten({ ...s, trace_id: doc.trace_id }, doc.id))];
}

const documents = () => received.flatMap((d) => flatten(d));
const childrenOf = (id: string) => documents().filter((d) => d.parent_id === id && !d.in_progress);

/** A readable tree of one subsegment: the trace diagram, as text. */
function diagram(doc: TraceDocument, depth = 0): string[] {
  const label = doc.aws?.operation ? `${doc.name} ${doc.aws.operation}` : doc.name;
  const ms = doc.end_time ? ` ${Math.round((doc.end_time - doc.start_time) * 1000)} ms` : "";
  return [
    `${"  ".repeat(depth)}${label}${ms}`,
    ...childrenOf(doc.id)
      .sort((a, b) => a.start_time - b.start_time)
      .flatMap((c) => diagram(c, depth + 1)),
  ];
}

beforeAll(async () => {
  daemon.on("message", (message) => {
    // "{"format":"json","version":1}\n{...document...}"
    const text = message.toString("utf8");
    received.push(JSON.parse(text.slice(text.indexOf("\n") + 1)) as TraceDocument);
  });
  await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
  t = await startTestPlatform([{ name: "traced", function: { tracing: true } }, { name: "plain" }], {
    extraEnv: { AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}` },
  });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  daemon.close();
});

it("traces an object through its stages, with every AWS call under the stage that made it", async () => {
  const key = "trips/IMG_0042.jpg";
  await t.upload("traced", key, await jpegWithExif({ width: 1600, height: 1200 }));
  await t.upload("plain", key, await jpegWithExif({ width: 1600, height: 1200 }));
  await t.drain();
  const item = (await t.item("traced", key))!;
  expect(item).toMatchObject({ status: "done" });

  // The invocation's segment is sent when the handler returns: wait for it (no deadline but the test's).
  let object: TraceDocument | undefined;
  while (!(object = documents().find((d) => d.name === "object" && d.annotations?.key === key && d.end_time))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(object.annotations).toMatchObject({ tenant: "traced", key, event: "ObjectCreated:Put", status: "done" });
  const root = documents().find((d) => d.id === object!.parent_id)!;
  expect(root).toMatchObject({ name: "traced-processor", trace_id: object.trace_id });

  const stages = childrenOf(object.id);
  const stage = (name: string) => {
    const found = stages.find((s) => s.name === name);
    if (!found) throw new Error(`no "${name}" subsegment in:\n${diagram(object!).join("\n")}`);
    return found;
  };
  const calls = (parent: TraceDocument) => childrenOf(parent.id).map((c) => `${c.name} ${c.aws?.operation}`);
  for (const name of ["head", "metadata", "download", "render", "upload"]) expect(stage(name).end_time).toBeGreaterThanOrEqual(stage(name).start_time);
  expect(calls(stage("head"))).toEqual(["S3 HeadObject"]);
  // exiftool's ranged reads: one GetObject per request the item counts.
  expect(calls(stage("metadata"))).toEqual(Array(item.metadataRequests).fill("S3 GetObject"));
  expect(calls(stage("download"))).toEqual(["S3 GetObject"]);
  expect(calls(stage("render"))).toEqual([]);
  expect(calls(stage("upload")).sort()).toEqual(Array(item.renditions!.length + 1).fill("S3 PutObject"));
  // The claim and the final write, made by the object's own step.
  expect(stages.filter((s) => s.name === "DynamoDB").map((s) => s.aws?.operation)).toEqual(["UpdateItem", "PutItem"]);
  // Then the outcome event (docs/events.md): published, and cleared from the item.
  expect(calls(stage("announce"))).toEqual(["SNS Publish", "DynamoDB UpdateItem"]);
  expect(stages.every((s) => !s.fault && !s.error)).toBe(true);
  console.log(`trace of ${key}:\n${diagram(root).join("\n")}`);

  // A file nobody here made: exiftool's Canon CR3 sample. sharp cannot decode it, nor the preview
  // exiftool extracts from it (the "preview" stage): the trace ends the way the item does, failed.
  const raw = "camera/CanonRaw.cr3";
  await t.upload("traced", raw, readFileSync(path.join(EXIFTOOL_CORPUS, "CanonRaw.cr3")));
  await t.drain();
  const rawItem = (await t.item("traced", raw))!;
  let rawObject: TraceDocument | undefined;
  while (!(rawObject = documents().find((d) => d.name === "object" && d.annotations?.key === raw && d.end_time))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log(`trace of ${raw}:\n${diagram(rawObject).join("\n")}`);
  expect(rawItem).toMatchObject({ status: "failed", error: { code: "UNSUPPORTED_FORMAT" } });
  expect(rawObject.annotations).toMatchObject({ status: "failed", code: "UNSUPPORTED_FORMAT" });
  const rawStages = childrenOf(rawObject.id);
  const named = (name: string) => rawStages.filter((s) => s.name === name);
  expect(named("preview")).toHaveLength(1);
  const rangedReads = [...named("metadata"), ...named("preview")].flatMap((s) => childrenOf(s.id).map((c) => `${c.name} ${c.aws?.operation}`));
  expect(rangedReads.every((c) => c === "S3 GetObject")).toBe(true);
  expect(rangedReads.length).toBeGreaterThanOrEqual(rawItem.metadataRequests!);

  // The tenant that did not opt in is in no trace.
  expect(documents().filter((d) => JSON.stringify(d.annotations ?? {}).includes("plain"))).toEqual([]);
  expect(documents().filter((d) => d.name === "plain-processor")).toEqual([]);
}, 120_000);
