/**
 * Where the operator CLIs act: the running local platform (.local/endpoints.json) by default, or a
 * deployed stack (`--stack <name>`: `pulumi stack output --json --show-secrets`, or a saved copy of
 * it with `--outputs file.json`) with the user's AWS credentials.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { documentClient } from "../runtime/table-client";
import { closestMatch } from "../contract/closest-match";
import type { localEndpoints } from "../local/endpoints-file";
import { LOCAL_CREDENTIALS } from "../local/local-aws";

export const ROOT = path.resolve(__dirname, "..");

/** One tenant's names, as `.local/endpoints.json` and the stack's `tenantOutputs` both give them. */
export interface TenantTarget {
  sourceBucket: string;
  proxyBucket: string;
  table: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  /** outputConfigHash of the deployed config (stacks deployed before it existed have none). */
  configHash?: string;
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

/** `--since 2026-11-23` (any date Date parses) as an ISO time; undefined when not given. */
export function parseSince(command: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) fail(command, `--since is not a date: "${value}"`);
  return date.toISOString();
}

export function readJsonFile<T>(file: string, hint: string): T {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    throw new Error(`cannot read ${file}: ${hint}`);
  }
}

type LocalEndpoints = ReturnType<typeof localEndpoints>;

export interface TargetOptions {
  stack?: string;
  /** A saved `pulumi stack output --json --show-secrets`. */
  outputs?: string;
  dataDir?: string;
  /** Names given as flags: with all of a command's, `pulumi` is not asked; any of them overrides the outputs'. */
  names?: Partial<TenantTarget>;
  /** The names a command needs (all given as flags: no `pulumi stack output`). */
  needs?: (keyof TenantTarget)[];
}

export function resolveTarget(tenantName: string, options: TargetOptions): Target {
  const flags = Object.fromEntries(Object.entries(options.names ?? {}).filter(([, v]) => v !== undefined)) as Partial<TenantTarget>;
  if (options.stack) {
    const allFlagged = options.needs !== undefined && options.needs.every((name) => flags[name] !== undefined);
    const text = allFlagged
      ? "{}"
      : options.outputs
        ? readFileSync(options.outputs, "utf8")
        : execFileSync("pulumi", ["stack", "output", "--stack", options.stack, "--json", "--show-secrets"], { cwd: ROOT, encoding: "utf8" });
    const outputs = (JSON.parse(text) as { tenantOutputs?: Record<string, TenantTarget> }).tenantOutputs?.[tenantName];
    if (!outputs && !allFlagged) throw new Error(`stack "${options.stack}" has no outputs for tenant "${tenantName}"`);
    const tenant = { ...outputs, ...flags } as TenantTarget;
    // The user's own credentials and region (AWS_PROFILE, AWS_REGION, ...), as the AWS CLI uses them.
    return { kind: "stack", tenant, clients: { s3: new S3Client({}), dynamo: documentClient(new DynamoDBClient({})), sqs: new SQSClient({}) } };
  }
  const dataDir = options.dataDir ?? path.join(ROOT, ".local");
  const endpoints = readJsonFile<LocalEndpoints>(path.join(dataDir, "endpoints.json"), "is the local platform running (npm start)?");
  const local = endpoints.tenants[tenantName];
  if (!local) throw new Error(`the local platform has no tenant "${tenantName}" (have: ${Object.keys(endpoints.tenants).join(", ")})`);
  const tenant = { ...local, ...flags };
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

/**
 * parseArgs with what every command owes its user: `--help` (or `-h`) prints the usage and exits 0;
 * a malformed command line is one line and the usage, exit 2; `--expires-in -5` reads -5 as the
 * option's value (Node's parser calls it ambiguous), so that the option's own check can say what is
 * allowed; and a command with a `--tenant` option takes the tenant first too (`failures -- acme`), as
 * upload, sign and similar do.
 */
export function parseCommandLine<T extends Omit<ParseArgsConfig, "args">>(command: string, usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  const given = process.argv.slice(2);
  if (given.includes("--help") || given.includes("-h")) {
    console.log(usage);
    process.exit(0);
  }
  const args: string[] = [];
  const tenantFirst = config.options?.tenant && !config.allowPositionals && given[0] !== undefined && !given[0].startsWith("-");
  if (tenantFirst && !given.some((arg) => arg === "--tenant" || arg.startsWith("--tenant="))) args.push("--tenant");
  for (const arg of given) {
    const previous = args.at(-1);
    if (previous?.startsWith("--") && !previous.includes("=") && /^-\d/.test(arg)) args[args.length - 1] = `${previous}=${arg}`;
    else args.push(arg);
  }
  try {
    return parseArgs({ ...config, args } as T) as ReturnType<typeof parseArgs<T>>;
  } catch (err) {
    let message = (err as Error).message.split("\n")[0]!;
    const unknown = /^Unknown option '--([^']+)'/.exec(message)?.[1];
    if (unknown) {
      // Node's advice on positionals starting with '-' is no help for a mistyped option: name the option meant.
      const meant = closestMatch(unknown, Object.keys(config.options ?? {}));
      message = `unknown option --${unknown}${meant ? ` (did you mean --${meant}?)` : ""}`;
    }
    return fail(command, `${message}\n${usage}`);
  }
}
