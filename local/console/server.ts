/**
 * The local console: a loopback web page over the running platform, with the platform's own SDK
 * clients behind a small JSON API. Reads: tenants, recent objects (live, over server-sent events),
 * one object's item and sidecar, renditions (streamed from the proxy bucket: buckets stay private),
 * dead-lettered messages, the original (streamed from the source bucket), the map around a photo's
 * position (drawn offline). Writes, each a POST the page makes only on an explicit click or drop:
 * upload into a source bucket (so the object takes the same notification path as any client),
 * redrive the dead-letter queue, reprocess one object, sign an on-demand URL.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { Logger } from "pino";
import { isNotFound } from "../../runtime/errors";
import { subscribeOutcomes } from "../outcome-subscription";
import { HttpFailure } from "../../runtime/http-failure";
import { edgePolicy, offeredVariants, signedUrl } from "../../edge/edge";
import { notificationKeys, redriveDeadLetters, type DeadLetter } from "../../ops/dead-letters";
import { reprocessOne } from "../../ops/reprocess";
import { MetadataStore, type ObjectItem } from "../../runtime/store";
import { NearDuplicates } from "../../runtime/analysis/near-duplicates";
import { LOOPBACK } from "../emulators";
import type { LocalPlatform, LocalTenant } from "../platform";
import { uploadStream } from "../upload";
import { TagGroups } from "./tag-groups";
import { mapAround, validCoordinates } from "./world-map";

const STATIC = path.join(__dirname, "static");
const STATIC_FILES: Record<string, string> = {
  "/": "index.html",
  "/app.js": "app.js",
  "/style.css": "style.css",
  "/favicon.svg": "favicon.svg",
  // Browsers ask for /favicon.ico whatever the page links; they accept an SVG served with its type.
  "/favicon.ico": "favicon.svg",
  // ThumbHash's own decoder (an ES module), which the object page loads to draw the placeholder as a tenant's page would.
  "/thumbhash.js": require.resolve("thumbhash"),
};
const STATIC_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The most recent items the list shows. */
const LIST_LIMIT = 200;

export interface ConsoleServer {
  url: string;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
  } catch {
    throw new HttpFailure(400, "the body is not JSON");
  }
}

function tenantSummary(t: LocalTenant) {
  const { config } = t;
  return {
    name: config.name,
    sourceBucket: t.sourceBucket,
    keepGps: config.metadata.keepGps,
    renditions: config.renditions.map((r) => r.name),
    maxObjectBytes: config.limits.maxObjectBytes,
    onDemand: t.onDemand ? { url: t.onDemand.url, variants: offeredVariants(edgePolicy(config)) } : undefined,
  };
}

async function listItems(platform: LocalPlatform, t: LocalTenant): Promise<ObjectItem[]> {
  const items: ObjectItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await platform.clients.dynamo.send(new ScanCommand({ TableName: t.table, ExclusiveStartKey: start }));
    // Items only: the table also holds the similarity index's buckets (keys under _platform/, no status).
    items.push(...((page.Items ?? []) as ObjectItem[]).filter((item) => item.status !== undefined));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, LIST_LIMIT);
}

async function getObject(platform: LocalPlatform, bucket: string, key: string) {
  try {
    return await platform.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if (isNotFound(err)) throw new HttpFailure(404, `no object ${key} in ${bucket}`);
    throw err;
  }
}
const proxyObject = (platform: LocalPlatform, t: LocalTenant, key: string) => getObject(platform, t.proxyBucket, key);

/** An object's bytes as the response, with its type and length; `cacheControl` as the caller knows it can be cached. */
function streamObject(res: ServerResponse, object: Awaited<ReturnType<typeof getObject>>, cacheControl: string, extra: Record<string, string> = {}) {
  res.writeHead(200, {
    "content-type": object.ContentType ?? "application/octet-stream",
    "content-length": String(object.ContentLength ?? ""),
    "cache-control": cacheControl,
    ...extra,
  });
  (object.Body as NodeJS.ReadableStream).pipe(res);
}

function deadLetters(platform: LocalPlatform, t: LocalTenant): DeadLetter[] {
  // fauxqs's inspection reads without receiving, so looking never counts as an attempt.
  const queue = platform.emulators.fauxqs.inspectQueue(t.deadLetterQueueUrl.split("/").pop()!);
  const messages = queue ? [...queue.messages.ready, ...queue.messages.delayed, ...queue.messages.inflight.map((m) => m.message)] : [];
  return messages.map((m) => ({
    messageId: m.messageId,
    keys: notificationKeys(m.body),
    receiveCount: m.approximateReceiveCount,
    sentAt: new Date(m.sentTimestamp).toISOString(),
    body: m.body,
  }));
}

export async function startConsole(platform: LocalPlatform, options: { port?: number; log: Logger }): Promise<ConsoleServer> {
  const clients = new Set<ServerResponse>();
  const tagGroups = new TagGroups();

  const storeOf = (t: LocalTenant) => new MetadataStore(platform.clients.dynamo, t.table);
  const tenantOf = (name: string): LocalTenant => {
    const t = platform.tenants.get(name);
    if (!t) throw new HttpFailure(404, `no tenant ${name}`);
    return t;
  };

  const routes: [string, RegExp, (req: IncomingMessage, res: ServerResponse, url: URL, t: LocalTenant) => Promise<void>][] = [
    ["GET", /^\/api\/tenants\/([^/]+)\/objects$/, async (_req, res, _url, t) => json(res, 200, await listItems(platform, t))],
    [
      "GET",
      /^\/api\/tenants\/([^/]+)\/object$/,
      async (_req, res, url, t) => {
        const key = url.searchParams.get("key") ?? "";
        const store = storeOf(t);
        const item = await store.get(key);
        if (!item) throw new HttpFailure(404, `no item for ${key}`);
        let sidecar: { tags?: Record<string, unknown> } | null = null;
        if (item.sidecarKey) {
          try {
            sidecar = JSON.parse(await (await proxyObject(platform, t, item.sidecarKey)).Body!.transformToString());
          } catch (err) {
            if (!(err instanceof HttpFailure)) throw err;
          }
        }
        // Without them the page lists the tags in one group: worth a warning, not a failed page.
        const groups = sidecar?.tags
          ? await getObject(platform, t.sourceBucket, key)
              .then((original) => tagGroups.of(original.Body as NodeJS.ReadableStream, key, sidecar.tags!))
              .catch((err) => {
                options.log.warn({ err, key }, "console: could not read the original's tag groups");
                return {};
              })
          : {};
        // Near-duplicates looked up live (earlier and later objects), as `npm run similar` does.
        const similar = item.phash ? await new NearDuplicates(platform.clients.dynamo, store, t.config.analysis.similarDistance).find(key, item.phash) : [];
        json(res, 200, { item, sidecar, groups, similar });
      },
    ],
    [
      "GET",
      /^\/api\/tenants\/([^/]+)\/proxy$/,
      async (_req, res, url, t) => {
        const object = await proxyObject(platform, t, url.searchParams.get("key") ?? "");
        // Versioned by the source's ETag in the URL: cacheable, since a new upload changes the URL.
        streamObject(res, object, url.searchParams.has("v") ? "private, max-age=3600" : "no-store");
      },
    ],
    [
      "GET",
      /^\/api\/tenants\/([^/]+)\/original$/,
      async (_req, res, url, t) => {
        const key = url.searchParams.get("key") ?? "";
        const object = await getObject(platform, t.sourceBucket, key);
        // Shown in the browser's tab (inline), saved under its own name.
        const name = encodeURIComponent(path.basename(key));
        streamObject(res, object, "no-store", { "content-disposition": `inline; filename*=UTF-8''${name}` });
      },
    ],
    [
      "POST",
      /^\/api\/tenants\/([^/]+)\/reprocess$/,
      async (req, res, _url, t) => {
        const key = String((await readJson(req)).key ?? "");
        const item = key ? await storeOf(t).get(key) : undefined;
        if (!item) throw new HttpFailure(404, `no item for ${key}`);
        json(res, 200, await reprocessOne({ sqs: platform.clients.sqs, sourceBucket: t.sourceBucket, queueUrl: t.queueUrl }, item));
      },
    ],
    ["GET", /^\/api\/tenants\/([^/]+)\/dead-letters$/, async (_req, res, _url, t) => json(res, 200, deadLetters(platform, t))],
    [
      "POST",
      /^\/api\/tenants\/([^/]+)\/dead-letters\/redrive$/,
      async (_req, res, _url, t) => json(res, 200, { moved: await redriveDeadLetters(platform.clients.sqs, t.deadLetterQueueUrl, t.queueUrl) }),
    ],
    [
      "POST",
      /^\/api\/tenants\/([^/]+)\/upload$/,
      async (req, res, url, t) => {
        const key = url.searchParams.get("key") ?? "";
        const size = Number(req.headers["content-length"]);
        if (!key || key.startsWith("/")) throw new HttpFailure(400, "a key is required (no leading '/')");
        if (!Number.isFinite(size)) throw new HttpFailure(411, "Content-Length is required");
        const eTag = await uploadStream(platform.clients.s3, t.sourceBucket, key, req, size, req.headers["content-type"] || undefined);
        json(res, 200, { key, eTag, size });
      },
    ],
    [
      "POST",
      /^\/api\/tenants\/([^/]+)\/sign$/,
      async (req, res, _url, t) => {
        if (!t.onDemand) throw new HttpFailure(400, `tenant ${t.config.name} has no on-demand renditions`);
        const body = await readJson(req);
        const [key, variant, expiresIn] = [String(body.key ?? ""), String(body.variant ?? ""), Number(body.expiresIn ?? 3600)];
        if (!offeredVariants(edgePolicy(t.config)).includes(variant)) throw new HttpFailure(400, `variant "${variant}" is not offered by ${t.config.name}`);
        const keyId = t.onDemand.keys.signingKeyId;
        const expiresInSeconds = Math.max(1, Math.min(expiresIn, 7 * 86_400));
        const { url: signed } = signedUrl(t.onDemand.endpoint.edge, t.onDemand.url, variant, key, expiresInSeconds, keyId, t.onDemand.keys.keys[keyId]!);
        // Fetched here once, with the browser's Accept, to show the status and headers: the endpoint
        // is another origin, whose responses a page script may not read (no CORS), though an <img> may.
        const response = await fetch(signed, { headers: { accept: req.headers.accept ?? "*/*" } });
        const payload = Buffer.from(await response.arrayBuffer());
        json(res, 200, {
          url: signed,
          status: response.status,
          headers: Object.fromEntries(
            ["content-type", "content-length", "cache-control", "etag", "vary", "x-origin"].flatMap((name) =>
              response.headers.get(name) ? [[name, response.headers.get(name)]] : [],
            ),
          ),
          bytes: payload.length,
          text: response.headers.get("content-type")?.startsWith("text/") ? payload.toString("utf8").slice(0, 500) : undefined,
        });
      },
    ],
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    if (req.method === "GET" && STATIC_FILES[url.pathname]) {
      const file = STATIC_FILES[url.pathname]!;
      res.writeHead(200, { "content-type": STATIC_TYPES[path.extname(file)]!, "cache-control": "no-store" });
      res.end(readFileSync(path.resolve(STATIC, file)));
      return;
    }
    if (req.method === "GET" && url.pathname === "/api/tenants") return json(res, 200, [...platform.tenants.values()].map(tenantSummary));
    if (req.method === "GET" && url.pathname === "/api/map") {
      const [latitude, longitude] = [Number(url.searchParams.get("lat")), Number(url.searchParams.get("lon"))];
      if (!validCoordinates(latitude, longitude)) throw new HttpFailure(400, "lat and lon are required: degrees, |lat| <= 90, |lon| <= 180");
      return json(res, 200, await mapAround(latitude, longitude));
    }
    if (req.method === "GET" && url.pathname === "/api/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write(": connected\n\n");
      clients.add(res);
      req.on("close", () => clients.delete(res));
      return;
    }
    // Writes need a header no HTML form or simple cross-site request can send (so a page on
    // another origin cannot make the browser post here), and this origin only.
    if (req.method === "POST" && (req.headers["x-console"] !== "1" || (req.headers.origin && req.headers.origin !== `http://${req.headers.host}`))) {
      throw new HttpFailure(403, "writes come from the console page only");
    }
    for (const [method, pattern, route] of routes) {
      const match = pattern.exec(url.pathname);
      if (match && req.method === method) return route(req, res, url, tenantOf(decodeURIComponent(match[1]!)));
    }
    throw new HttpFailure(404, `no route ${req.method} ${url.pathname}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      const status = err instanceof HttpFailure ? err.statusCode : 500;
      if (status === 500) options.log.error({ err }, "console request failed");
      if (res.headersSent) res.end();
      else json(res, status, { error: err instanceof Error ? err.message : String(err) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  // The live list is fed as a tenant's application would be: a subscription to each tenant's outcome topic (docs/events.md).
  const feeds = await Promise.all(
    [...platform.tenants.values()].map((t) => subscribeOutcomes(platform.clients, t.eventsTopicArn, { name: `console-${t.config.name}` })),
  );
  let open = true;
  const following = feeds.map(async (feed) => {
    while (open) {
      const outcomes = await feed.receive(1).catch((err) => {
        if (open) options.log.warn({ err }, "console: could not read outcome events");
        return [];
      });
      for (const outcome of outcomes) {
        const line = `event: outcome\ndata: ${JSON.stringify({ tenant: outcome.tenant, key: outcome.key, status: outcome.status, eTag: outcome.eTag, error: outcome.error })}\n\n`;
        for (const client of clients) client.write(line);
      }
    }
  });
  const unsubscribe = async () => {
    open = false;
    await Promise.all(following);
    await Promise.all(feeds.map((feed) => feed.close()));
  };
  return {
    url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const client of clients) client.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unsubscribe();
      await tagGroups.close();
    },
  };
}
