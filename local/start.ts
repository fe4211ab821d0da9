/**
 * `npm start`: the whole platform on this machine, no AWS account. Tenants come from
 * Pulumi.<stack>.yaml (LOCAL_STACK, default dev); state lives under .local/ and survives restarts.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { startConsole } from "./console/server";
import { writeEndpointsFile } from "./endpoints-file";
import { startLocalPlatform } from "./platform";
import { formatOutcome } from "./outcome-line";
import { loadOrCreateSigningKeys } from "./signing-keys";
import { TenantConfigError } from "../contract/tenant-config";
import { loadStackTenants } from "./stack-config";

const ROOT = path.resolve(__dirname, "..");

async function main(): Promise<void> {
  const stack = process.env.LOCAL_STACK ?? "dev";
  const tenants = loadStackTenants(stack, ROOT);
  const dataDir = path.join(ROOT, ".local");
  mkdirSync(dataDir, { recursive: true });
  const platform = await startLocalPlatform({
    tenants,
    dataDir,
    awsPort: Number(process.env.LOCAL_AWS_PORT ?? 4566),
    dynamoPort: Number(process.env.LOCAL_DYNAMODB_PORT ?? 8000),
    onOutcome: (outcome) => console.log(formatOutcome(outcome)),
    onDemandPort: Number(process.env.LOCAL_ON_DEMAND_PORT ?? 4570),
    // The handlers' JSON lines, as Lambda would send them to CloudWatch Logs, EMF metrics included.
    logLevel: process.env.LOG_LEVEL ?? "info",
    logDestination: pino.destination({ dest: path.join(dataDir, "platform.log"), append: true, sync: false }),
    signingKeys: loadOrCreateSigningKeys(dataDir, tenants),
  });
  const consoleServer = await startConsole(platform, { port: Number(process.env.LOCAL_CONSOLE_PORT ?? 4580), log: pino({ level: "warn" }) });
  const endpoints = writeEndpointsFile(dataDir, platform, consoleServer.url);

  const first = [...platform.tenants.keys()][0]!;
  console.log(`tenant-image-platform running locally (stack ${stack}, data in .local/)`);
  console.log(`  Console   ${consoleServer.url}   <- open this in a browser`);
  console.log(`  S3 + SQS + SNS  ${endpoints.s3}`);
  console.log(`  DynamoDB  ${endpoints.dynamodb}`);
  for (const [name, t] of platform.tenants) {
    console.log(`  ${name.padEnd(10)} source s3://${t.sourceBucket}  proxy s3://${t.proxyBucket}  table ${t.table}`);
    if (t.onDemand) console.log(`  ${"".padEnd(10)} on demand ${t.onDemand.url}  (signed URLs: npm run sign -- ${name} <key> <variant>)`);
  }
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
}

main().catch((err) => {
  // A config mistake is the user's to fix and says so; anything else needs its stack to be found.
  console.error(err instanceof TenantConfigError ? err.message : err);
  process.exit(1);
});
