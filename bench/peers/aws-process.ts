/**
 * Everything of the peers bench that is not the renderer, in a process of its own so that its work
 * is not counted as the renderer's: S3 (fauxqs, with S3's conditional writes in front), a proxy that
 * adds a real S3 round trip's latency and writes down every request (to count the sequential round
 * trips before a response's first byte), and CloudFront (the local on-demand endpoint: the viewer
 * function, the proxy bucket, then the renderer's function URL on a miss). Talks over IPC.
 */
import { Agent, request } from "node:http";
import pino from "pino";
import { startConditionalWriteProxy } from "../../local/conditional-writes";
import { startEmulators } from "../../local/emulators";
import { startOnDemandEndpoint, type OnDemandEndpoint } from "../../local/on-demand-endpoint";
import { localClients } from "../../local/platform";
import { signingKeysFor, type SigningKeys } from "../../local/signing-keys";
import { signedPath } from "../../edge/edge";
import type { VariantResponse } from "../../runtime/on-demand/render-variant";
import { parseTenant } from "../../contract/tenant-config";
import { FaultProxy, type JournalEntry } from "../../fixtures/fault-proxy";

export interface AwsProcessReady {
  /** S3 with conditional writes, no added latency. */
  direct: string;
  /** The same, every request answered `S3_LATENCY_MS` later. */
  delayed: string;
}

export type AwsProcessRequest =
  | { type: "journal" }
  | { type: "cpu" }
  | { type: "endpoint"; tenant: string; proxyBucket: string; rendererUrl: string; s3: string }
  | { type: "sign"; variant: string; keys: string[] };
export type AwsProcessAnswer =
  | { type: "journal"; entries: JournalEntry[] }
  | { type: "cpu"; usage: NodeJS.CpuUsage }
  | { type: "endpoint"; url: string }
  | { type: "sign"; paths: string[] };

/** The renderer's function URL, as CloudFront's failover origin calls it. */
function functionUrlOrigin(rendererUrl: string) {
  const agent = new Agent({ keepAlive: true });
  const hopByHop = new Set(["connection", "keep-alive", "date", "transfer-encoding"]);
  return {
    serve: (rawPath: string, method = "GET") =>
      new Promise<VariantResponse>((resolve, reject) => {
        const out = request(`${rendererUrl}${rawPath}`, { method, agent }, (answer) => {
          const chunks: Buffer[] = [];
          answer.on("data", (c: Buffer) => chunks.push(c));
          answer.on("end", () => {
            const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !hopByHop.has(k))) as Record<string, string>;
            resolve({ statusCode: answer.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
          });
          answer.on("error", reject);
        });
        out.on("error", reject);
        out.end();
      }),
  };
}

async function main(): Promise<void> {
  const latencyMs = Number(process.env.S3_LATENCY_MS ?? 15);
  const emulators = await startEmulators();
  const conditional = await startConditionalWriteProxy(emulators.awsEndpoint);
  const delayed = new FaultProxy(conditional.url).add({ name: "s3-latency", kind: "slow", delayMs: latencyMs, match: () => true });
  delayed.journal = [];
  await delayed.start();
  let endpoint: { cdn: OnDemandEndpoint; keys: SigningKeys } | undefined;
  const answer = async (message: AwsProcessRequest): Promise<AwsProcessAnswer> => {
    switch (message.type) {
      case "cpu":
        return { type: "cpu", usage: process.cpuUsage() };
      case "journal":
        return { type: "journal", entries: delayed.journal!.splice(0) };
      case "endpoint": {
        await endpoint?.cdn.close();
        const tenant = parseTenant(JSON.parse(message.tenant));
        const keys = signingKeysFor(tenant);
        const { s3 } = localClients(message.s3, message.s3);
        const service = functionUrlOrigin(message.rendererUrl);
        const cdn = await startOnDemandEndpoint({ tenant, proxyBucket: message.proxyBucket, s3, service, keys, log: pino({ level: "silent" }) });
        endpoint = { cdn, keys };
        return { type: "endpoint", url: cdn.url };
      }
      case "sign": {
        const { cdn, keys } = endpoint!;
        const expires = Math.floor(Date.now() / 1000) + 86_400;
        const secret = keys.keys[keys.signingKeyId]!;
        return { type: "sign", paths: message.keys.map((key) => signedPath(cdn.edge, message.variant, key, expires, keys.signingKeyId, secret)) };
      }
    }
  };
  process.on("message", (message: AwsProcessRequest) => void answer(message).then((a) => process.send!(a)));
  process.on("disconnect", () => {
    void Promise.all([endpoint?.cdn.close(), delayed.stop(), conditional.close(), emulators.stop()]).finally(() => process.exit(0));
  });
  process.send!({ direct: conditional.url, delayed: delayed.url } satisfies AwsProcessReady);
}

void main();
