/**
 * Amazon Rekognition's image APIs on loopback, for the real Rekognition SDK client: there is no
 * emulator for it. It speaks the JSON 1.1 protocol (POST /, `X-Amz-Target: RekognitionService.<Op>`,
 * SigV4 for the `rekognition` service) for DetectFaces, DetectLabels and DetectModerationLabels,
 * answers shaped as the API reference shows them, and enforces what AWS documents
 * (https://docs.aws.amazon.com/rekognition/latest/dg/limits.html): image bytes at most 5 MB
 * (`ImageTooLargeException`), JPEG or PNG only (`InvalidImageFormatException`), at least 80 pixels
 * on a side (`InvalidParameterException`), MinConfidence 0-100 and MaxLabels >= 0.
 *
 * What it "sees" is a convention of this project's fixtures, so that tests can decide the answer
 * with pixels: skin-toned regions (fixtures/images.ts SUBJECT_RGB) are faces, and the label
 * "Person" comes with them; an image mostly of pure magenta carries the moderation label
 * "Explicit". `failNext` answers with throttling (or any error) and `delayNext` holds answers
 * (timeouts), so both are decided by the test, not the machine's speed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { LOOPBACK } from "./emulators";
import { FakeServiceError } from "./fake-service-error";

const OPERATIONS = ["DetectFaces", "DetectLabels", "DetectModerationLabels"] as const;
type Operation = (typeof OPERATIONS)[number];

const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const MIN_SIDE = 80;
const MAX_SIDE = 10_000;
/** The side the fake looks at: enough to find the fixtures' faces. */
const LOOK_SIDE = 160;

interface FakeRekognitionCall {
  operation: Operation;
  bytes: number;
  width: number;
  height: number;
  /** The answer's status code; undefined while it is held (or was never given: the client left). */
  status?: number;
}

export interface FakeRekognition {
  url: string;
  calls: FakeRekognitionCall[];
  /** The next `count` requests answer with this error (default: ProvisionedThroughputExceededException, 400). */
  failNext(count: number, error?: { name: string; status: number }): void;
  /** The next `count` requests get no answer until `release()` (a timeout, for the client). */
  holdNext(count: number): { release(): void };
  close(): Promise<void>;
}

interface Seen {
  width: number;
  height: number;
  faces: { Left: number; Top: number; Width: number; Height: number }[];
  magentaShare: number;
}

const isSkin = (r: number, g: number, b: number) => Math.hypot(r - 224, g - 172, b - 140) < 60 && r > g && g > b;
const isMagenta = (r: number, g: number, b: number) => r > 220 && g < 40 && b > 220;

/** Faces: connected skin-toned regions of at least 0.5% of the image; their bounding boxes as fractions. */
async function look(image: Buffer): Promise<Seen> {
  const meta = await sharp(image).metadata();
  const { data, info } = await sharp(image).resize(LOOK_SIDE, LOOK_SIDE, { fit: "inside" }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const mask = new Uint8Array(width * height);
  let magenta = 0;
  for (let p = 0; p < width * height; p++) {
    const [r, g, b] = [data[p * 3]!, data[p * 3 + 1]!, data[p * 3 + 2]!];
    if (isSkin(r, g, b)) mask[p] = 1;
    if (isMagenta(r, g, b)) magenta++;
  }
  const faces: Seen["faces"] = [];
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] !== 1) continue;
    let [left, top, right, bottom, count] = [width, height, 0, 0, 0];
    const stack = [start];
    mask[start] = 2;
    while (stack.length) {
      const p = stack.pop()!;
      const [x, y] = [p % width, Math.floor(p / width)];
      [left, top, right, bottom, count] = [Math.min(left, x), Math.min(top, y), Math.max(right, x), Math.max(bottom, y), count + 1];
      for (const q of [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, y > 0 ? p - width : -1, y < height - 1 ? p + width : -1]) {
        if (q >= 0 && mask[q] === 1) {
          mask[q] = 2;
          stack.push(q);
        }
      }
    }
    if (count >= 0.005 * width * height) {
      faces.push({ Left: left / width, Top: top / height, Width: (right + 1 - left) / width, Height: (bottom + 1 - top) / height });
    }
  }
  return { width: meta.width ?? 0, height: meta.height ?? 0, faces, magentaShare: magenta / (width * height) };
}

function answer(operation: Operation, seen: Seen, request: Record<string, unknown>): unknown {
  switch (operation) {
    case "DetectFaces":
      return {
        FaceDetails: seen.faces.map((box) => ({
          BoundingBox: box,
          Confidence: 99.9,
          Landmarks: [],
          Pose: { Roll: 0, Yaw: 0, Pitch: 0 },
          Quality: { Brightness: 80, Sharpness: 90 },
        })),
      };
    case "DetectLabels": {
      const min = (request.MinConfidence as number | undefined) ?? 55;
      const labels = seen.faces.length ? [{ Name: "Person", Confidence: 98.7, Instances: [], Parents: [], Aliases: [{ Name: "Human" }], Categories: [] }] : [];
      return { Labels: labels.filter((l) => l.Confidence >= min).slice(0, (request.MaxLabels as number | undefined) ?? 1000), LabelModelVersion: "3.0" };
    }
    case "DetectModerationLabels": {
      const min = (request.MinConfidence as number | undefined) ?? 50;
      const labels = seen.magentaShare > 0.5 ? [{ Name: "Explicit", ParentName: "", Confidence: 97.5, TaxonomyLevel: 1 }] : [];
      return { ModerationLabels: labels.filter((l) => l.Confidence >= min), ModerationModelVersion: "7.0", ContentTypes: [] };
    }
  }
}

function validate(request: Record<string, unknown>): Buffer {
  const image = request.Image as { Bytes?: string; S3Object?: unknown } | undefined;
  if (!image?.Bytes) throw new FakeServiceError(400, "InvalidParameterException", "Image.Bytes is required (this fake reads no S3Object)");
  const bytes = Buffer.from(image.Bytes, "base64");
  if (bytes.length > MAX_IMAGE_BYTES)
    throw new FakeServiceError(400, "ImageTooLargeException", `Image size is too large: ${bytes.length} bytes, at most ${MAX_IMAGE_BYTES}`);
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  const png = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  if (!jpeg && !png) throw new FakeServiceError(400, "InvalidImageFormatException", "Request has unsupported image format");
  for (const field of ["MinConfidence"] as const) {
    const value = request[field];
    if (value !== undefined && (typeof value !== "number" || value < 0 || value > 100)) {
      throw new FakeServiceError(400, "InvalidParameterException", `${field} must be between 0 and 100`);
    }
  }
  if (request.MaxLabels !== undefined && (typeof request.MaxLabels !== "number" || request.MaxLabels < 0)) {
    throw new FakeServiceError(400, "InvalidParameterException", "MaxLabels must be at least 0");
  }
  return bytes;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startFakeRekognition(options: { port?: number } = {}): Promise<FakeRekognition> {
  const calls: FakeRekognitionCall[] = [];
  const failures: { name: string; status: number }[] = [];
  let holds = 0;
  const held: (() => void)[] = [];

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": `fake-${calls.length}` });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    void (async () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const operation = target.replace(/^RekognitionService\./, "") as Operation;
      // Recorded as it arrives, answered later: a held call is counted once, whenever it is released.
      const call: FakeRekognitionCall = { operation, bytes: 0, width: 0, height: 0 };
      calls.push(call);
      try {
        const body = await readBody(req);
        if (req.method !== "POST" || !target.startsWith("RekognitionService.") || !OPERATIONS.includes(operation)) {
          throw new FakeServiceError(400, "UnknownOperationException", `this fake speaks ${OPERATIONS.join(", ")}; got ${target || "no X-Amz-Target"}`);
        }
        if (!/^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/rekognition\/aws4_request/.test(String(req.headers.authorization ?? ""))) {
          throw new FakeServiceError(400, "MissingAuthenticationTokenException", "requests must be signed with SigV4 for the rekognition service");
        }
        if (holds > 0) {
          holds--;
          await new Promise<void>((resolve) => held.push(resolve));
        }
        const failure = failures.shift();
        if (failure) throw new FakeServiceError(failure.status, failure.name, "Rate exceeded");
        const request = JSON.parse(body) as Record<string, unknown>;
        const bytes = validate(request);
        let seen: Seen;
        try {
          seen = await look(bytes);
        } catch {
          throw new FakeServiceError(400, "InvalidImageFormatException", "Request has unsupported image format");
        }
        if (Math.min(seen.width, seen.height) < MIN_SIDE) {
          throw new FakeServiceError(400, "InvalidParameterException", `Requested image should have at least ${MIN_SIDE} pixels on each side`);
        }
        if (Math.max(seen.width, seen.height) > MAX_SIDE)
          throw new FakeServiceError(400, "ImageTooLargeException", `Image is larger than ${MAX_SIDE} pixels on a side`);
        Object.assign(call, { status: 200, bytes: bytes.length, width: seen.width, height: seen.height });
        send(res, 200, answer(operation, seen, request));
      } catch (err) {
        const error = err instanceof FakeServiceError ? err : new FakeServiceError(500, "InternalServerError", (err as Error).message);
        call.status = error.status;
        send(res, error.status, { __type: error.code, Message: error.message });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}`,
    calls,
    failNext(count, error = { name: "ProvisionedThroughputExceededException", status: 400 }) {
      for (let i = 0; i < count; i++) failures.push(error);
    },
    holdNext(count) {
      holds += count;
      return { release: () => held.splice(0).forEach((resolve) => resolve()) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        held.splice(0).forEach((resolve) => resolve());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
