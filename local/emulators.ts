/**
 * The embedded AWS stand-ins, in-process and on loopback only: fauxqs for S3 + SQS, dynalite for
 * DynamoDB. With a data directory, state survives a restart (fauxqs: SQLite; dynalite: LevelDB).
 */
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { AddressInfo } from "node:net";
import dynalite from "dynalite";
import type { FauxqsServer } from "fauxqs" with { "resolution-mode": "import" };

export const LOOPBACK = "127.0.0.1";

export interface EmulatorOptions {
  /** Persist state under this directory; in memory when unset. */
  dataDir?: string;
  /** 0 picks a free port. */
  awsPort?: number;
  dynamoPort?: number;
  /** How long a table stays CREATING or DELETING after the call (default 0; DynamoDB takes seconds). */
  tableChangeMs?: number;
}

export interface Emulators {
  /** S3 and SQS share one endpoint (fauxqs). */
  awsEndpoint: string;
  dynamoEndpoint: string;
  fauxqs: FauxqsServer;
  stop(): Promise<void>;
}

/**
 * fauxqs always listens on 0.0.0.0, which would expose every tenant's buckets to the network.
 * Rewrite that one listen call to loopback; the tests check the resulting socket address.
 */
async function onLoopback<T>(start: () => Promise<T>): Promise<T> {
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function patchedListen(this: net.Server, ...args: unknown[]) {
    const first = args[0] as { host?: string } | undefined;
    if (first && typeof first === "object" && (first.host === "0.0.0.0" || first.host === "::" || first.host === undefined)) {
      args[0] = { ...first, host: LOOPBACK };
    }
    return (original as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof original;
  try {
    return await start();
  } finally {
    net.Server.prototype.listen = original;
  }
}

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const { startFauxqs } = await import("fauxqs");
  let fauxqsDir: string | undefined;
  let dynamoDir: string | undefined;
  if (options.dataDir) {
    fauxqsDir = path.join(options.dataDir, "fauxqs");
    dynamoDir = path.join(options.dataDir, "dynamodb");
    mkdirSync(fauxqsDir, { recursive: true });
    mkdirSync(dynamoDir, { recursive: true });
  }
  const fauxqs = await onLoopback(() =>
    startFauxqs({ port: options.awsPort ?? 0, logger: false, messageSpies: { bufferSize: 50 }, dataDir: fauxqsDir, host: LOOPBACK }),
  );
  const tableChangeMs = options.tableChangeMs ?? 0;
  const dynamo = dynalite({ path: dynamoDir, createTableMs: tableChangeMs, deleteTableMs: tableChangeMs, updateTableMs: tableChangeMs });
  try {
    await new Promise<void>((resolve, reject) => {
      dynamo.once("error", reject);
      dynamo.listen(options.dynamoPort ?? 0, LOOPBACK, () => resolve());
    });
  } catch (err) {
    await fauxqs.stop();
    throw err;
  }
  const dynamoPort = (dynamo.address() as AddressInfo).port;
  return {
    awsEndpoint: `http://${LOOPBACK}:${fauxqs.port}`,
    dynamoEndpoint: `http://${LOOPBACK}:${dynamoPort}`,
    fauxqs,
    async stop() {
      await fauxqs.stop();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}
