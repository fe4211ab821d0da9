/**
 * Real HEVC-coded HEIC files, made by Debian's `heif-enc` (libheif with x265), plus the one thing it
 * cannot write: an `irot` rotation property, as phones store their orientation. `addIrot` edits the
 * boxes (ISO/IEC 23008-12): a new property in `ipco`, associated with the primary item in `ipma`,
 * and every `iloc` offset moved by the bytes added before the image data.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Why HEIC tests cannot run here, or undefined when `heif-enc` can make HEVC files. */
export function heifEncUnavailable(): string | undefined {
  const probe = spawnSync("heif-enc", ["--list-encoders"], { encoding: "utf8" });
  if (probe.error) return "heif-enc is not installed (Debian package libheif-examples)";
  if (!/x265/.test(probe.stdout)) return "heif-enc has no HEVC (x265) encoder";
  return undefined;
}

/** Encodes PNG/JPEG inputs (several: one file with several images, the first primary) as HEVC HEIC. */
export function heifEncode(inputs: Buffer[], quality = 80): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), "heif-"));
  const files = inputs.map((data, i) => {
    const file = path.join(dir, `in-${i}.${data[0] === 0x89 ? "png" : "jpg"}`);
    writeFileSync(file, data);
    return file;
  });
  const out = path.join(dir, "out.heic");
  execFileSync("heif-enc", ["-q", String(quality), "-o", out, ...files], { stdio: "pipe" });
  return readFileSync(out);
}

interface Box {
  type: string;
  start: number;
  end: number;
  /** Where the payload starts (after size, type and, for full boxes, version and flags). */
  body: number;
}

function boxes(data: Buffer, start: number, end: number, fullBoxes: readonly string[] = []): Box[] {
  const out: Box[] = [];
  for (let at = start; at + 8 <= end; ) {
    const size = data.readUInt32BE(at);
    const type = data.toString("latin1", at + 4, at + 8);
    if (size < 8) throw new Error(`unsupported box size ${size} for ${type}`);
    out.push({ type, start: at, end: at + size, body: at + 8 + (fullBoxes.includes(type) ? 4 : 0) });
    at += size;
  }
  return out;
}

const find = (list: Box[], type: string): Box => {
  const box = list.find((b) => b.type === type);
  if (!box) throw new Error(`no ${type} box`);
  return box;
};

const readN = (data: Buffer, at: number, n: number): number => (n === 0 ? 0 : n === 2 ? data.readUInt16BE(at) : n === 4 ? data.readUInt32BE(at) : Number(data.readBigUInt64BE(at)));
const writeN = (data: Buffer, at: number, n: number, value: number) =>
  n === 2 ? data.writeUInt16BE(value, at) : n === 4 ? data.writeUInt32BE(value, at) : data.writeBigUInt64BE(BigInt(value), at);

/** Rotates the primary image by `quarterTurnsCcw` x 90 degrees counter-clockwise, as an `irot` property. */
export function addIrot(heic: Buffer, quarterTurnsCcw: 1 | 2 | 3): Buffer {
  const top = boxes(heic, 0, heic.length);
  const meta = find(top, "meta");
  const metaBody = meta.start + 12;
  const inMeta = boxes(heic, metaBody, meta.end, ["pitm", "iloc", "ipma"]);
  const pitm = find(inMeta, "pitm");
  const primary = heic.readUInt8(pitm.start + 8) === 0 ? heic.readUInt16BE(pitm.body) : heic.readUInt32BE(pitm.body);
  const iprp = find(inMeta, "iprp");
  const inIprp = boxes(heic, iprp.start + 8, iprp.end, ["ipma"]);
  const ipco = find(inIprp, "ipco");
  const ipma = find(inIprp, "ipma");
  const propertyIndex = boxes(heic, ipco.start + 8, ipco.end).length + 1;

  const irot = Buffer.from([0, 0, 0, 9, ...Buffer.from("irot"), quarterTurnsCcw & 3]);
  const newIpco = Buffer.concat([heic.subarray(ipco.start, ipco.end), irot]);
  newIpco.writeUInt32BE(newIpco.length, 0);

  // ipma: version 0 has 16-bit item ids; flags bit 0 means 16-bit associations (essential bit + index).
  const version = heic.readUInt8(ipma.start + 8);
  const wide = (heic.readUInt32BE(ipma.start + 8) & 1) === 1;
  const parts: Buffer[] = [heic.subarray(ipma.start, ipma.body + 4)];
  let at = ipma.body + 4;
  for (let entries = heic.readUInt32BE(ipma.body); entries > 0; entries--) {
    const idBytes = version < 1 ? 2 : 4;
    const item = readN(heic, at, idBytes);
    const count = heic.readUInt8(at + idBytes);
    const assocEnd = at + idBytes + 1 + count * (wide ? 2 : 1);
    if (item !== primary) {
      parts.push(heic.subarray(at, assocEnd));
    } else {
      const head = Buffer.from(heic.subarray(at, at + idBytes + 1));
      head.writeUInt8(count + 1, idBytes);
      const association = wide ? Buffer.from([0x80 | (propertyIndex >> 8), propertyIndex & 0xff]) : Buffer.from([0x80 | propertyIndex]);
      parts.push(head, heic.subarray(at + idBytes + 1, assocEnd), association);
    }
    at = assocEnd;
  }
  const newIpma = Buffer.concat(parts);
  newIpma.writeUInt32BE(newIpma.length, 0);

  const newIprp = Buffer.concat([heic.subarray(iprp.start, iprp.start + 8), ...inIprp.map((b) => (b === ipco ? newIpco : b === ipma ? newIpma : heic.subarray(b.start, b.end)))]);
  newIprp.writeUInt32BE(newIprp.length, 0);
  const newMeta = Buffer.concat([heic.subarray(meta.start, metaBody), ...inMeta.map((b) => (b === iprp ? newIprp : Buffer.from(heic.subarray(b.start, b.end))))]);
  newMeta.writeUInt32BE(newMeta.length, 0);
  const added = newMeta.length - (meta.end - meta.start);

  // iloc sits inside the new meta at the same place as before: move its absolute offsets by `added`.
  const iloc = find(boxes(newMeta, 12, newMeta.length, ["pitm", "iloc", "ipma"]), "iloc");
  const v = newMeta.readUInt8(iloc.start + 8);
  let p = iloc.body;
  const sizes = newMeta.readUInt16BE(p);
  const [offsetSize, lengthSize, baseSize, indexSize] = [sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15, v >= 1 ? sizes & 15 : 0];
  p += 2;
  const itemCount = v < 2 ? newMeta.readUInt16BE(p) : newMeta.readUInt32BE(p);
  p += v < 2 ? 2 : 4;
  for (let i = 0; i < itemCount; i++) {
    p += v < 2 ? 2 : 4;
    const method = v >= 1 ? newMeta.readUInt16BE(p) & 15 : 0;
    if (v >= 1) p += 2;
    p += 2; // data_reference_index
    const baseAt = p;
    p += baseSize;
    const extents = newMeta.readUInt16BE(p);
    p += 2;
    if (method === 0 && baseSize > 0) writeN(newMeta, baseAt, baseSize, readN(newMeta, baseAt, baseSize) + added);
    for (let e = 0; e < extents; e++) {
      p += indexSize;
      if (method === 0 && baseSize === 0) writeN(newMeta, p, offsetSize, readN(newMeta, p, offsetSize) + added);
      p += offsetSize + lengthSize;
    }
  }
  return Buffer.concat([heic.subarray(0, meta.start), newMeta, heic.subarray(meta.end)]);
}
