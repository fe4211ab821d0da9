/**
 * Where the operator CLIs act: the running local platform (.local/endpoints.json) by default, or a
 * deployed stack (`--stack <name>`: `pulumi stack output --json --show-secrets`, or a saved copy of
 * it with `--outputs file.json`) with the user's AWS credentials.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { documentClient } from "../runtime/dependencies";
import type { localEndpoints } from "../runtime/local/endpoints-file";
import { LOCAL_CREDENTIALS } from "../runtime/local/platform";

export const ROOT = path.resolve(__dirname, "..");

/** One tenant's names, as `.local/endpoints.json` and the stack's `tenantOutputs` both give them. */
export interface TenantTarget {
  sourceBucket: string;
  proxyBucket: string;
  table: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  onDemand?: { url: string; signingKeyId: string; signingKeys: Record<string, string> };
}

export interface Target {
  kind: "local" | "stack";
  tenant: TenantTarget;
  clients: { s3: S3Client; dynamo: ReturnType<typeof documentClient>; sqs: SQSClient };
}

export function fail(command: string, message: string): never {
  console.error(`${command}: ${message}`);
  process.exit(2);
}

export function readJsonFile<T>(file: string, hint: string): T {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    throw new Error(`cannot read ${file}: ${hint}`);
  }
}

type LocalEndpoints = ReturnType<typeof localEndpoints>;

export function resolveTarget(tenantName: string, options: { stack?: string; outputs?: string; dataDir?: string }): Target {
  if (options.stack) {
    const text = options.outputs
      ? readFileSync(options.outputs, "utf8")
      : execFileSync("pulumi", ["stack", "output", "--stack", options.stack, "--json", "--show-secrets"], { cwd: ROOT, encoding: "utf8" });
    const tenant = (JSON.parse(text) as { tenantOutputs?: Record<string, TenantTarget & { table: string }> }).tenantOutputs?.[tenantName];
    if (!tenant) throw new Error(`stack "${options.stack}" has no outputs for tenant "${tenantName}"`);
    // The user's own credentials and region (AWS_PROFILE, AWS_REGION, ...), as the AWS CLI uses them.
    return { kind: "stack", tenant, clients: { s3: new S3Client({}), dynamo: documentClient(new DynamoDBClient({})), sqs: new SQSClient({}) } };
  }
  const dataDir = options.dataDir ?? path.join(ROOT, ".local");
  const endpoints = readJsonFile<LocalEndpoints>(path.join(dataDir, "endpoints.json"), "is the local platform running (npm start)?");
  const tenant = endpoints.tenants[tenantName];
  if (!tenant) throw new Error(`the local platform has no tenant "${tenantName}" (have: ${Object.keys(endpoints.tenants).join(", ")})`);
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  return {
    kind: "local",
    tenant,
    clients: {
      s3: new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true }),
      dynamo: documentClient(new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb })),
      sqs: new SQSClient({ ...common, endpoint: endpoints.sqs }),
    },
  };
}
