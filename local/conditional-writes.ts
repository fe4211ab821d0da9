/**
 * S3's conditional writes (PUT with If-None-Match: *, answered 412 when the key exists) in front of
 * fauxqs, which ignores the header: a loopback proxy that serialises conditional PUTs per key and
 * refuses one whose key exists, and forwards everything else untouched. The on-demand renderers'
 * S3 client goes through it, so "the first writer is kept" holds locally as it does on S3.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { LOOPBACK } from "./emulators";

const PRECONDITION_FAILED = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>`;

export interface ConditionalWriteProxy {
  url: string;
  close(): Promise<void>;
}

export async function startConditionalWriteProxy(upstream: string): Promise<ConditionalWriteProxy> {
  const target = new URL(upstream);
  const locks = new Map<string, Promise<void>>();

  const forward = (req: IncomingMessage, res: ServerResponse, body?: Buffer) =>
    new Promise<void>((resolve) => {
      // The body is already here when buffered: no 100-continue handshake upstream.
      const headers = { ...req.headers };
      if (body) delete headers.expect;
      const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on("end", resolve);
        answer.on("error", resolve);
      });
      out.on("error", (err) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
        resolve();
      });
      if (body) out.end(body);
      else req.pipe(out);
    });

  const exists = (path: string, headers: IncomingMessage["headers"]) =>
    new Promise<boolean>((resolve, reject) => {
      // Unsigned HEAD: fauxqs does not check signatures, and the key is all that matters here.
      const head = request({ host: target.hostname, port: target.port, method: "HEAD", path, headers: { host: headers.host } }, (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200);
      });
      head.on("error", reject);
      head.end();
    });

  const server: Server = createServer((req, res) => {
    if (req.method !== "PUT" || req.headers["if-none-match"] !== "*") {
      void forward(req, res);
      return;
    }
    const path = (req.url ?? "/").split("?")[0]!;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const previous = locks.get(path) ?? Promise.resolve();
      const turn = previous.then(async () => {
        if (await exists(path, req.headers)) {
          res.writeHead(412, { "content-type": "application/xml" });
          res.end(PRECONDITION_FAILED);
          return;
        }
        await forward(req, res, Buffer.concat(chunks));
      });
      const settled = turn.catch((err) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
      });
      locks.set(path, settled);
      void settled.finally(() => {
        if (locks.get(path) === settled) locks.delete(path);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
