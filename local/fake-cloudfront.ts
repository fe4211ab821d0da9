/**
 * CloudFront's invalidation API on loopback, for the real CloudFront SDK client: there is no
 * emulator for it, and its limits are what matter. It speaks the 2020-05-31 REST/XML protocol
 * (CreateInvalidation, GetInvalidation, ListInvalidations) and enforces what AWS documents:
 * - per distribution, at most 15 wildcard paths and 3,000 file paths in progress at once, each
 *   limit on its own; beyond them `TooManyInvalidationsInProgress` (400), as AWS answers
 *   (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html);
 * - at most 3,000 paths in one request (`BatchTooLarge`); paths start with "/", and "*" only ends one;
 * - a CallerReference sent again with the same paths returns the first invalidation, with other
 *   paths `InvalidationBatchAlreadyExists` (409);
 * - an unknown distribution is `NoSuchDistribution` (404).
 * Invalidations complete after `completeAfterMs`, or only when `completeAll()` is called ("manual"),
 * so a test decides when CloudFront has finished, not the machine's speed.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { LOOPBACK } from "./emulators";
import { FakeServiceError } from "./fake-service-error";

const API = "2020-05-31";
const XMLNS = `http://cloudfront.amazonaws.com/doc/${API}/`;
const WILDCARD_PATHS_IN_PROGRESS = 15;
const FILE_PATHS_IN_PROGRESS = 3_000;
const PATHS_PER_REQUEST = 3_000;

interface FakeInvalidation {
  id: string;
  distributionId: string;
  paths: string[];
  callerReference: string;
  createdAt: number;
  status: "InProgress" | "Completed";
}

export interface FakeCloudFrontOptions {
  /** When an invalidation completes: after this many ms (default 200), or "manual" (completeAll). */
  completeAfterMs?: number | "manual";
  port?: number;
}

export interface FakeCloudFront {
  url: string;
  addDistribution(id: string): void;
  /** Every invalidation created for the distribution, oldest first. */
  invalidations(distributionId: string): FakeInvalidation[];
  /** Requests refused with TooManyInvalidationsInProgress so far. */
  refused(): number;
  completeAll(): void;
  close(): Promise<void>;
}

const isWildcard = (path: string) => path.endsWith("*");

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const unescapeXml = (text: string) =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

const elements = (xml: string, tag: string) => [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => unescapeXml(m[1]!));

function invalidationXml(invalidation: FakeInvalidation): string {
  const items = invalidation.paths.map((p) => `<Path>${escapeXml(p)}</Path>`).join("");
  return (
    `<Id>${invalidation.id}</Id><Status>${invalidation.status}</Status><CreateTime>${new Date(invalidation.createdAt).toISOString()}</CreateTime>` +
    `<InvalidationBatch><Paths><Quantity>${invalidation.paths.length}</Quantity><Items>${items}</Items></Paths>` +
    `<CallerReference>${escapeXml(invalidation.callerReference)}</CallerReference></InvalidationBatch>`
  );
}

export async function startFakeCloudFront(options: FakeCloudFrontOptions = {}): Promise<FakeCloudFront> {
  const completeAfterMs = options.completeAfterMs ?? 200;
  const distributions = new Map<string, FakeInvalidation[]>();
  let refused = 0;

  const settle = (invalidation: FakeInvalidation) => {
    if (invalidation.status === "InProgress" && completeAfterMs !== "manual" && Date.now() - invalidation.createdAt >= completeAfterMs) {
      invalidation.status = "Completed";
    }
    return invalidation;
  };
  const listOf = (distributionId: string) => {
    const list = distributions.get(distributionId);
    if (!list) throw new FakeServiceError(404, "NoSuchDistribution", `The specified distribution does not exist: ${distributionId}`);
    list.forEach(settle);
    return list;
  };

  function create(distributionId: string, body: string): { status: number; invalidation: FakeInvalidation } {
    const list = listOf(distributionId);
    const paths = elements(body, "Path");
    const [quantity] = elements(body, "Quantity");
    const [callerReference] = elements(body, "CallerReference");
    if (!callerReference) throw new FakeServiceError(400, "MissingBody", "CallerReference is required");
    if (Number(quantity) !== paths.length) throw new FakeServiceError(400, "InconsistentQuantities", `Quantity ${quantity} but ${paths.length} paths`);
    if (!paths.length) throw new FakeServiceError(400, "InvalidArgument", "at least one path is required");
    if (paths.length > PATHS_PER_REQUEST)
      throw new FakeServiceError(413, "BatchTooLarge", `${paths.length} paths in one invalidation, above ${PATHS_PER_REQUEST}`);
    const malformed = paths.find((p) => !p.startsWith("/") || p.slice(0, -1).includes("*"));
    if (malformed) throw new FakeServiceError(400, "InvalidArgument", `invalid path ${malformed}`);
    const same = list.find((i) => i.callerReference === callerReference);
    if (same) {
      if (same.paths.join("\n") !== paths.join("\n")) {
        throw new FakeServiceError(409, "InvalidationBatchAlreadyExists", `CallerReference ${callerReference} was used for other paths`);
      }
      return { status: 201, invalidation: same };
    }
    const inProgress = list.filter((i) => i.status === "InProgress").flatMap((i) => i.paths);
    const wildcards = inProgress.filter(isWildcard).length + paths.filter(isWildcard).length;
    const files = inProgress.filter((p) => !isWildcard(p)).length + paths.filter((p) => !isWildcard(p)).length;
    if (wildcards > WILDCARD_PATHS_IN_PROGRESS || files > FILE_PATHS_IN_PROGRESS) {
      refused++;
      throw new FakeServiceError(
        400,
        "TooManyInvalidationsInProgress",
        `Processing your request would cause the maximum number of in-progress wildcard invalidations (${WILDCARD_PATHS_IN_PROGRESS}) or file invalidations (${FILE_PATHS_IN_PROGRESS}) to be exceeded.`,
      );
    }
    const invalidation: FakeInvalidation = {
      id: `I${randomBytes(7).toString("hex").toUpperCase()}`,
      distributionId,
      paths,
      callerReference,
      createdAt: Date.now(),
      status: "InProgress",
    };
    list.push(invalidation);
    return { status: 201, invalidation };
  }

  const send = (res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "text/xml", "x-amz-request-id": randomBytes(8).toString("hex"), ...headers });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const match = new RegExp(`^/${API}/distribution/([^/]+)/invalidation(?:/([^/]+))?$`).exec(url.pathname);
    try {
      if (!req.headers.authorization) throw new FakeServiceError(403, "MissingAuthenticationToken", "the request is not signed");
      if (!match) throw new FakeServiceError(404, "UnknownOperation", `${req.method} ${url.pathname}`);
      const distributionId = decodeURIComponent(match[1]!);
      const invalidationId = match[2] && decodeURIComponent(match[2]);
      if (req.method === "POST" && !invalidationId) {
        const { status, invalidation } = create(distributionId, body);
        send(res, status, `<Invalidation xmlns="${XMLNS}">${invalidationXml(invalidation)}</Invalidation>`, {
          location: `https://cloudfront.amazonaws.com/${API}/distribution/${distributionId}/invalidation/${invalidation.id}`,
        });
      } else if (req.method === "GET" && invalidationId) {
        const invalidation = listOf(distributionId).find((i) => i.id === invalidationId);
        if (!invalidation) throw new FakeServiceError(404, "NoSuchInvalidation", `The specified invalidation does not exist: ${invalidationId}`);
        send(res, 200, `<Invalidation xmlns="${XMLNS}">${invalidationXml(invalidation)}</Invalidation>`);
      } else if (req.method === "GET") {
        const list = [...listOf(distributionId)].reverse();
        const items = list
          .map(
            (i) =>
              `<InvalidationSummary><Id>${i.id}</Id><CreateTime>${new Date(i.createdAt).toISOString()}</CreateTime><Status>${i.status}</Status></InvalidationSummary>`,
          )
          .join("");
        send(
          res,
          200,
          `<InvalidationList xmlns="${XMLNS}"><Marker></Marker><MaxItems>${list.length}</MaxItems><IsTruncated>false</IsTruncated><Quantity>${list.length}</Quantity><Items>${items}</Items></InvalidationList>`,
        );
      } else {
        throw new FakeServiceError(405, "UnknownOperation", `${req.method} ${url.pathname}`);
      }
    } catch (err) {
      const apiError = err instanceof FakeServiceError ? err : new FakeServiceError(500, "InternalError", String(err));
      send(
        res,
        apiError.status,
        `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${apiError.code}</Code><Message>${escapeXml(apiError.message)}</Message></Error><RequestId>${randomBytes(8).toString("hex")}</RequestId></ErrorResponse>`,
      );
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}`,
    addDistribution: (id) => void distributions.set(id, distributions.get(id) ?? []),
    invalidations: (id) => listOf(id).map((i) => ({ ...i, paths: [...i.paths] })),
    refused: () => refused,
    completeAll() {
      for (const list of distributions.values()) for (const i of list) i.status = "Completed";
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
