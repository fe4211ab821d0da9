/**
 * `npm run sign -- <tenant> <source key> <variant> [--expires-in 3600] [--stack <name> [--outputs file.json]]`
 *
 * Prints, as its last line, a signed on-demand URL: for the running local platform by default
 * (.local/endpoints.json and .local/signing-keys.json), or for a deployed stack with --stack (its
 * outputs from `pulumi stack output --json --show-secrets`, or from a file holding that output).
 * The signature is made by the CloudFront Function's own code, so it is the one the edge checks.
 */
import path from "node:path";
import { edgePolicy, keyValueStore, loadEdgeFunction, offeredVariants, signedUrl } from "../edge/edge";
import type { SigningKeys } from "../local/signing-keys";
import { loadStackTenants } from "../local/stack-config";
import { fail as failWith, readJsonFile, resolveTarget, ROOT, parseCommandLine } from "./targets";

const USAGE = "usage: npm run sign -- <tenant> <source key> <variant> [--expires-in 3600] [--stack <name> [--outputs file.json]]";

function fail(message: string): never {
  return failWith("sign", message);
}

/** The endpoint and keys: the local platform's (endpoints.json, signing-keys.json) or the stack's outputs. */
function signingTarget(tenant: string, options: { stack?: string; outputs?: string; dataDir: string }): { url: string; keys: SigningKeys } {
  let target;
  try {
    target = resolveTarget(tenant, options);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (target.kind === "stack") {
    const onDemand = target.tenant.onDemand;
    if (!onDemand) fail(`stack "${options.stack}" has no on-demand outputs for tenant "${tenant}"`);
    return { url: onDemand.url, keys: { signingKeyId: onDemand.signingKeyId, keys: onDemand.signingKeys } };
  }
  const url = (target.tenant as { onDemandUrl?: string }).onDemandUrl;
  const keys = readJsonFile<Record<string, SigningKeys>>(path.join(options.dataDir, "signing-keys.json"), "is the local platform running (npm start)?")[tenant];
  if (!url || !keys) fail(`tenant "${tenant}" has no on-demand endpoint locally: set onDemand: { enabled: true } for it and restart npm start`);
  return { url, keys };
}

function main(): void {
  const { values, positionals } = parseCommandLine("sign", USAGE, {
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
  if (!tenantName || !sourceKey || !variant) fail(USAGE);
  const expiresIn = Number(values["expires-in"]);
  if (!Number.isInteger(expiresIn) || expiresIn <= 0) fail(`--expires-in must be a positive number of seconds, not "${values["expires-in"]}"`);

  const stack = values.stack ?? process.env.LOCAL_STACK ?? "dev";
  const tenant = loadStackTenants(stack, ROOT).find((t) => t.name === tenantName);
  if (!tenant) fail(`no tenant "${tenantName}" in Pulumi.${stack}.yaml`);
  if (!tenant.onDemand.enabled) fail(`tenant "${tenantName}" does not have on-demand renditions (onDemand.enabled)`);
  const target = signingTarget(tenantName, { stack: values.stack, outputs: values.outputs, dataDir: values["data-dir"] });
  const keyId = values["key-id"] ?? target.keys.signingKeyId;
  const secret = target.keys.keys[keyId];
  if (!secret) fail(`no signing key "${keyId}" (have: ${Object.keys(target.keys.keys).join(", ")})`);

  const policy = edgePolicy(tenant);
  const edge = loadEdgeFunction(policy, keyValueStore({}));
  if (!offeredVariants(policy).includes(variant))
    fail(`tenant "${tenantName}" does not offer variant "${variant}"; it offers: ${offeredVariants(policy).join(", ")}`);
  const { url, expires } = signedUrl(edge, target.url, variant, sourceKey, expiresIn, keyId, secret);
  console.log(`tenant ${tenantName}, key id ${keyId}, expires ${new Date(expires * 1000).toISOString()}`);
  console.log(url);
}

try {
  main();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
