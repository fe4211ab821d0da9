/**
 * A fault-injecting HTTP proxy on loopback, between the runtime and the emulated S3 / DynamoDB.
 * Rules match requests (method, path, DynamoDB target, body) and inject S3 errors (503 SlowDown,
 * 500), DynamoDB errors (throttling, 500), a connection reset in the middle of a response body, or
 * a response slower than the client's timeout, or a request held until the test lets it go. Everything else is forwarded untouched.
 */
import { createServer, request, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type FaultKind = "s3-slowdown" | "s3-internal" | "ddb-throttle" | "ddb-internal" | "reset-mid-body" | "slow" | "hold";

interface ProxiedRequest {
  method: string;
  /** Decoded path, e.g. /bucket/photos/a b.jpg */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** DynamoDB operation (from X-Amz-Target), e.g. "UpdateItem". */
  operation?: string;
}

export interface FaultRule {
  name: string;
  kind: FaultKind;
  match: (req: ProxiedRequest) => boolean;
  /** How many times to inject (default: always). */
  times?: number;
  /** For "slow": how long to hold the response. */
  delayMs?: number;
  /** Inject with this probability (default 1). */
  rate?: number;
  /** For "hold": forwarded once this settles (the test acts while the request is held). */
  until?: Promise<unknown>;
  /** For "hold": called when the request arrives. */
  onHeld?: (req: ProxiedRequest) => void;
}

export class FaultProxy {
  private server: Server | undefined;
  readonly rules: FaultRule[] = [];
  /** How many faults each rule injected. */
  readonly injected = new Map<string, number>();
  forwarded = 0;
  url = "";

  /** Where requests are forwarded; may be set after start (the emulators' ports are known later). */
  constructor(public upstream = "http://127.0.0.1:1") {}

  add(rule: FaultRule): this {
    this.rules.push(rule);
    return this;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const target = req.headers["x-amz-target"];
        let decodedPath = req.url ?? "/";
        try {
          decodedPath = decodeURIComponent((req.url ?? "/").split("?")[0]!);
        } catch {
          // keep the raw path
        }
        const proxied: ProxiedRequest = {
          method: req.method ?? "GET",
          path: decodedPath,
          headers: req.headers,
          body,
          operation: typeof target === "string" ? target.split(".").pop() : undefined,
        };
        const rule = this.rules.find((r) => {
          const used = this.injected.get(r.name) ?? 0;
          return used < (r.times ?? Infinity) && r.match(proxied) && Math.random() < (r.rate ?? 1);
        });
        if (rule) this.injected.set(rule.name, (this.injected.get(rule.name) ?? 0) + 1);
        if (rule?.kind === "hold") rule.onHeld?.(proxied);
        this.respond(rule, req.method ?? "GET", req.url ?? "/", req.headers, body, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private respond(rule: FaultRule | undefined, method: string, url: string, headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse): void {
    const xml = (code: string, message: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault</RequestId></Error>`;
    const json = (type: string, message: string) => JSON.stringify({ __type: type, message });
    switch (rule?.kind) {
      case "s3-slowdown":
        res.writeHead(503, { "content-type": "application/xml" }).end(xml("SlowDown", "Please reduce your request rate."));
        return;
      case "s3-internal":
        res.writeHead(500, { "content-type": "application/xml" }).end(xml("InternalError", "We encountered an internal error. Please try again."));
        return;
      case "ddb-throttle":
        res
          .writeHead(400, { "content-type": "application/x-amz-json-1.0" })
          .end(json("com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate of requests exceeds the allowed throughput."));
        return;
      case "ddb-internal":
        res
          .writeHead(500, { "content-type": "application/x-amz-json-1.0" })
          .end(json("com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"));
        return;
      case "slow":
        setTimeout(() => this.forward(method, url, headers, body, res, false), rule.delayMs ?? 5_000);
        return;
      case "hold":
        void Promise.resolve(rule.until).finally(() => this.forward(method, url, headers, body, res, false));
        return;
      case "reset-mid-body":
        this.forward(method, url, headers, body, res, true);
        return;
      default:
        this.forwarded++;
        this.forward(method, url, headers, body, res, false);
    }
  }

  private forward(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse, resetMidBody: boolean): void {
    if (res.destroyed) return;
    const target = new URL(url, this.upstream);
    const upstream = request(target, { method, headers: { ...headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (!resetMidBody) {
        answer.pipe(res);
        return;
      }
      const half = Math.max(1, Math.floor(Number(answer.headers["content-length"] ?? 2) / 2));
      let sent = 0;
      answer.on("data", (chunk: Buffer) => {
        if (sent >= half) return;
        const part = chunk.subarray(0, half - sent);
        sent += part.length;
        res.write(part);
        if (sent >= half) {
          answer.destroy();
          res.socket?.destroy(); // the connection drops with the body half sent
        }
      });
    });
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  }
}
