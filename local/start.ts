/**
 * `npm start`: the whole platform on this machine, no AWS account. Tenants come from
 * Pulumi.<stack>.yaml (LOCAL_STACK, default dev); state lives under .local/ and survives restarts.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { startConsole } from "./console/server";
import { writeEndpointsFile } from "./endpoints-file";
import { startLocalPlatform } from "./platform";
import { formatOutcome } from "./outcome-line";
import { removeLeftSubscriptions } from "./outcome-subscription";
import { loadOrCreateSigningKeys } from "./signing-keys";
import { TenantConfigError } from "../contract/tenant-config";
import { loadStackTenants } from "./stack-config";
import { seedMissingOverlays } from "./sample-overlays";

const ROOT = path.resolve(__dirname, "..");

async function main(): Promise<void> {
  // Before any port opens: whatever subscribed before this moment belongs to an earlier run.
  const startedAt = new Date();
  const stack = process.env.LOCAL_STACK ?? "dev";
  const tenants = loadStackTenants(stack, ROOT);
  const dataDir = path.join(ROOT, ".local");
  mkdirSync(dataDir, { recursive: true });
  // Ready before anything can fail: an exit while pino's file is still opening would crash a second time.
  const logDestination = pino.destination({ dest: path.join(dataDir, "platform.log"), append: true, sync: false });
  await once(logDestination, "ready");
  const ownUploads = new Set<string>();
  const platform = await startLocalPlatform({
    tenants,
    dataDir,
    awsPort: Number(process.env.LOCAL_AWS_PORT ?? 4566),
    dynamoPort: Number(process.env.LOCAL_DYNAMODB_PORT ?? 8000),
    onOutcome: (outcome) => {
      // The sample overlays this start puts in place are skipped as every platform key is: not news.
      if (outcome.status === "skipped" && ownUploads.has(`${outcome.tenant}/${outcome.key}`)) return;
      console.log(formatOutcome(outcome));
    },
    onDemandPort: Number(process.env.LOCAL_ON_DEMAND_PORT ?? 4570),
    // The handlers' JSON lines, as Lambda would send them to CloudWatch Logs, EMF metrics included.
    logLevel: process.env.LOG_LEVEL ?? "info",
    logDestination,
    signingKeys: loadOrCreateSigningKeys(dataDir, tenants),
  });
  const leftBehind = await removeLeftSubscriptions(
    platform.clients,
    [...platform.tenants.values()].map((t) => t.eventsTopicArn),
    startedAt,
  );
  const seededOverlays = await seedMissingOverlays(platform, (tenant, key) => ownUploads.add(`${tenant}/${key}`));
  const consoleServer = await startConsole(platform, { port: Number(process.env.LOCAL_CONSOLE_PORT ?? 4580), log: pino({ level: "warn" }) }).catch(
    async (err: unknown) => {
      await platform.stop();
      throw err;
    },
  );
  const endpoints = writeEndpointsFile(dataDir, platform, consoleServer.url);

  const first = [...platform.tenants.keys()][0]!;
  console.log(`tenant-image-platform running locally (stack ${stack}, data in .local/)`);
  console.log(`  Console   ${consoleServer.url}   <- open this in a browser`);
  console.log(`  AWS       ${endpoints.s3}   (S3, SQS and SNS)`);
  console.log(`  DynamoDB  ${endpoints.dynamodb}`);
  for (const [name, t] of platform.tenants) {
    console.log(`  ${name.padEnd(10)} source s3://${t.sourceBucket}  proxy s3://${t.proxyBucket}  table ${t.table}`);
    if (t.onDemand) console.log(`  ${"".padEnd(10)} on demand ${t.onDemand.url}  (signed URLs: npm run sign -- ${name} <key> <variant>)`);
  }
  if (leftBehind) console.log(`  Removed   ${leftBehind} outcome subscription(s) an earlier run left behind (it was not stopped with Ctrl-C)`);
  for (const where of seededOverlays) console.log(`  Overlay   ${where} was missing: the sample logo is there now (replace it with yours: docs/overlays.md)`);
  console.log("Upload (in another terminal):");
  console.log(`  npm run upload -- ${first} path/to/photo.jpg`);
  console.log(
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --region ${endpoints.region} --endpoint-url ${endpoints.s3} s3 cp photo.jpg s3://${platform.tenants.get(first)!.sourceBucket}/photo.jpg`,
  );
  console.log("Endpoints for scripts: .local/endpoints.json. The handlers' JSON log, metrics (EMF) included: .local/platform.log. Ctrl-C stops.");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping...`);
    await consoleServer.close();
    await platform.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGHUP", () => void stop("SIGHUP")); // the terminal closed
}

/** Each port `npm start` listens on, and the variable that moves it. */
const PORT_VARIABLES: [string, number][] = [
  ["LOCAL_AWS_PORT", 4566],
  ["LOCAL_DYNAMODB_PORT", 8000],
  ["LOCAL_CONSOLE_PORT", 4580],
  ["LOCAL_ON_DEMAND_PORT", 4570],
];

/** Who listens on a port, when this machine can tell (ss, with the right to see it); undefined otherwise. */
function holderOf(port: number): string | undefined {
  try {
    const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    return match ? `${match[1]} (pid ${match[2]})` : undefined;
  } catch {
    return undefined;
  }
}

/** A port in use: one line naming it, who holds it if known, and the variable that picks another. */
function busyPortMessage(err: NodeJS.ErrnoException & { port?: number }): string {
  const port = err.port ?? Number(/:(\d+)$/.exec(err.message)?.[1]);
  const values = PORT_VARIABLES.map(([name, fallback]) => [name, Number(process.env[name] ?? fallback)] as const);
  // The on-demand endpoints take consecutive ports from LOCAL_ON_DEMAND_PORT.
  const variable = values.find(([, value]) => value === port)?.[0] ?? (port > values[3]![1] && port < values[3]![1] + 100 ? "LOCAL_ON_DEMAND_PORT" : undefined);
  const holder = holderOf(port);
  return `npm start: port ${port} is already in use${holder ? ` by ${holder}` : ""}${variable ? `; pick another with ${variable}=<port> npm start` : ""} (is another npm start running?)`;
}

main().catch((err: NodeJS.ErrnoException) => {
  // A user's mistake (config, a busy port) is one line; anything else needs its stack to be found.
  console.error(err instanceof TenantConfigError ? err.message : err?.code === "EADDRINUSE" ? busyPortMessage(err) : err);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 2_000).unref();
});
