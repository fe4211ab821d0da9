/**
 * `npm run sign -- <tenant> <source key> <variant> [--expires-in 3600] [--stack <name> [--outputs file.json]]`
 *
 * Prints, as its last line, a signed on-demand URL: for the running local platform by default
 * (.local/endpoints.json and .local/signing-keys.json), or for a deployed stack with --stack (its
 * outputs from `pulumi stack output --json --show-secrets`, or from a file holding that output).
 * The signature is made by the CloudFront Function's own code, so it is the one the edge checks.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { edgePolicy, keyValueStore, loadEdgeFunction, signedPath } from "../runtime/on-demand/edge";
import { loadStackTenants } from "../runtime/local/stack-config";
import type { SigningKeys } from "../runtime/local/signing-keys";

const ROOT = path.resolve(__dirname, "..");

interface Target {
  url: string;
  keys: SigningKeys;
}

/** The deployed stack's `tenantOutputs.<tenant>.onDemand` (index.ts). */
interface StackOnDemandOutput {
  url: string;
  signingKeyId: string;
  signingKeys: Record<string, string>;
}

function fail(message: string): never {
  console.error(`sign: ${message}`);
  process.exit(2);
}

function localTarget(tenant: string, dataDir: string): Target {
  const read = (file: string) => {
    try {
      return JSON.parse(readFileSync(path.join(dataDir, file), "utf8")) as Record<string, any>;
    } catch {
      return fail(`cannot read ${path.join(dataDir, file)}: is the local platform running (npm start)?`);
    }
  };
  const url = read("endpoints.json").tenants?.[tenant]?.onDemandUrl as string | undefined;
  const keys = read("signing-keys.json")[tenant] as SigningKeys | undefined;
  if (!url || !keys) fail(`tenant "${tenant}" has no on-demand endpoint locally: set onDemand: { enabled: true } for it and restart npm start`);
  return { url, keys };
}

function stackTarget(tenant: string, stack: string, outputsFile?: string): Target {
  const text = outputsFile
    ? readFileSync(outputsFile, "utf8")
    : execFileSync("pulumi", ["stack", "output", "--stack", stack, "--json", "--show-secrets"], { cwd: ROOT, encoding: "utf8" });
  const outputs = JSON.parse(text) as { tenantOutputs?: Record<string, { onDemand?: StackOnDemandOutput }> };
  const onDemand = outputs.tenantOutputs?.[tenant]?.onDemand;
  if (!onDemand) fail(`stack "${stack}" has no on-demand outputs for tenant "${tenant}"`);
  return { url: onDemand.url, keys: { signingKeyId: onDemand.signingKeyId, keys: onDemand.signingKeys } };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      "expires-in": { type: "string", default: "3600" },
      stack: { type: "string" },
      outputs: { type: "string" },
      "key-id": { type: "string" },
      "data-dir": { type: "string", default: path.join(ROOT, ".local") },
    },
  });
  const [tenantName, sourceKey, variant] = positionals;
  if (!tenantName || !sourceKey || !variant) fail("usage: npm run sign -- <tenant> <source key> <variant> [--expires-in 3600] [--stack <name> [--outputs file.json]]");
  const expiresIn = Number(values["expires-in"]);
  if (!Number.isInteger(expiresIn) || expiresIn <= 0) fail(`--expires-in must be a positive number of seconds, not "${values["expires-in"]}"`);

  const stack = values.stack ?? process.env.LOCAL_STACK ?? "dev";
  const tenant = loadStackTenants(stack, ROOT).find((t) => t.name === tenantName);
  if (!tenant) fail(`no tenant "${tenantName}" in Pulumi.${stack}.yaml`);
  if (!tenant.onDemand.enabled) fail(`tenant "${tenantName}" does not have on-demand renditions (onDemand.enabled)`);
  const target = values.stack ? stackTarget(tenantName, values.stack, values.outputs) : localTarget(tenantName, values["data-dir"]);
  const keyId = values["key-id"] ?? target.keys.signingKeyId;
  const secret = target.keys.keys[keyId];
  if (!secret) fail(`no signing key "${keyId}" (have: ${Object.keys(target.keys.keys).join(", ")})`);

  const edge = loadEdgeFunction(edgePolicy(tenant), keyValueStore({}));
  if (!edge.concreteVariant(variant, "image/avif,image/webp")) {
    const policy = edgePolicy(tenant);
    const offered = [...Object.keys(policy.named), ...policy.widths.flatMap((w) => policy.formats.map((f) => `w${w}.${f}`))];
    fail(`tenant "${tenantName}" does not offer variant "${variant}"; it offers: ${offered.join(", ")}`);
  }
  const expires = Math.floor(Date.now() / 1000) + expiresIn;
  console.log(`tenant ${tenantName}, key id ${keyId}, expires ${new Date(expires * 1000).toISOString()}`);
  console.log(`${target.url.replace(/\/$/, "")}${signedPath(edge, variant, sourceKey, expires, keyId, secret)}`);
}

main();
