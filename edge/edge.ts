/**
 * The CloudFront Function of a tenant's distribution, as text (for Pulumi) and as running code (for
 * the local endpoint, the signer and the tests): the same file, edge-function.js, either way. Run
 * here in a vm context with Node's crypto and a key-value store standing in for CloudFront's.
 */
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";
import type { OnDemandFormat, TenantConfig } from "../contract/tenant-config";

/** CloudFront Functions' limit on a function's code. */
export const EDGE_CODE_LIMIT_BYTES = 10_240;
/**
 * Longest source key (UTF-8 bytes) served on demand: its stored variant key adds up to ~110 bytes
 * (prefix, hash, variant name) and S3 keys end at 1,024.
 */
const MAX_ON_DEMAND_KEY_BYTES = 900;

/** What the edge needs of a tenant's on-demand settings: variant names, widths, formats. */
export interface EdgePolicy {
  named: Record<string, OnDemandFormat>;
  widths: number[];
  formats: OnDemandFormat[];
  maxKeyBytes: number;
}

export function edgePolicy(tenant: TenantConfig): EdgePolicy {
  const named: Record<string, OnDemandFormat> = {};
  for (const r of [...tenant.renditions, ...tenant.onDemand.presets]) named[r.name] = r.format;
  return { named, widths: [...tenant.onDemand.widths], formats: [...tenant.onDemand.formats], maxKeyBytes: MAX_ON_DEMAND_KEY_BYTES };
}

const SOURCE_FILE = path.join(__dirname, "edge-function.js");
const IMPORTS = /^import cf from ["']cloudfront["'];\nimport crypto from ["']crypto["'];\n/m;

export function edgeFunctionCode(policy: EdgePolicy): string {
  const source = readFileSync(SOURCE_FILE, "utf8");
  if (!source.includes("const POLICY = __POLICY__;")) throw new Error(`${SOURCE_FILE} has no policy placeholder`);
  const code = source.replace("const POLICY = __POLICY__;", () => `const POLICY = ${JSON.stringify(policy)};`);
  const bytes = Buffer.byteLength(code, "utf8");
  if (bytes > EDGE_CODE_LIMIT_BYTES)
    throw new Error(`the CloudFront Function is ${bytes} bytes with this tenant's variants, above CloudFront's ${EDGE_CODE_LIMIT_BYTES}: offer fewer presets`);
  return code;
}

/** CloudFront's KeyValueStore as the function sees it: get() throws for a missing key. */
export interface KeyValueStore {
  get(key: string): Promise<string>;
}

export function keyValueStore(entries: Record<string, string>): KeyValueStore {
  return {
    async get(key) {
      if (!Object.prototype.hasOwnProperty.call(entries, key)) throw new Error(`key not found: ${key}`);
      return entries[key]!;
    },
  };
}

/** The KeyValueStore entry of a signing key. */
export const signingKeyEntry = (keyId: string) => `key:${keyId}`;

export interface CfValue {
  value: string;
  multiValue?: CfValue[];
}
export interface CfRequest {
  method: string;
  uri: string;
  querystring: Record<string, CfValue>;
  headers: Record<string, CfValue>;
  cookies?: Record<string, CfValue>;
}
export interface CfResponse {
  statusCode: number;
  statusDescription?: string;
  headers: Record<string, CfValue>;
  body?: { encoding: "text" | "base64"; data: string };
}
export interface CfEvent {
  version: "1.0";
  context: { eventType: "viewer-request" | "viewer-response" };
  viewer: { ip: string };
  request: CfRequest;
  response?: CfResponse;
}

export interface EdgeFunction {
  handler(event: CfEvent): Promise<CfRequest | CfResponse>;
  sign(variant: string, key: string, expires: string, keyId: string, secret: string): string;
  sameSignature(expected: string, given: string): boolean;
  keyHash(key: string): string;
  encodeKey(key: string): string;
  concreteVariant(variant: string, accept: string): string | undefined;
}

/** Runs the deployed text: only its two import lines are replaced by the bindings they name. */
export function loadEdgeFunction(policy: EdgePolicy, kvs: KeyValueStore): EdgeFunction {
  const code = edgeFunctionCode(policy);
  if (!IMPORTS.test(code)) throw new Error("edge-function.js must start its code with the cloudfront and crypto imports");
  const context = vm.createContext({ cf: { kvs: () => kvs }, crypto });
  new vm.Script(code.replace(IMPORTS, ""), { filename: "edge-function.js" }).runInContext(context);
  return context as unknown as EdgeFunction;
}

/** A CloudFront Function event for a viewer request (lower-case header names, as CloudFront gives them). */
export function viewerRequestEvent(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, ip = "127.0.0.1"): CfEvent {
  const url = new URL(rawUrl, "http://edge.invalid");
  const querystring: Record<string, CfValue> = {};
  for (const name of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(name);
    querystring[name] = values.length > 1 ? { value: values[0]!, multiValue: values.map((value) => ({ value })) } : { value: values[0]! };
  }
  const cfHeaders: Record<string, CfValue> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) cfHeaders[name.toLowerCase()] = { value: [value].flat().join(",") };
  return {
    version: "1.0",
    context: { eventType: "viewer-request" },
    viewer: { ip },
    request: { method, uri: url.pathname, querystring, headers: cfHeaders, cookies: {} },
  };
}

export function isCfResponse(result: CfRequest | CfResponse): result is CfResponse {
  return "statusCode" in result;
}

/** Every variant name a tenant's URLs may use: its renditions and presets, and `w<width>.<format>`. */
export function offeredVariants(policy: EdgePolicy): string[] {
  return [...Object.keys(policy.named), ...policy.widths.flatMap((w) => policy.formats.map((f) => `w${w}.${f}`))];
}

/**
 * A signed URL for `variant` of `key` on the endpoint at `baseUrl`, valid `expiresInSeconds` from
 * now (the signer CLI's and the console's, which first check the variant is in offeredVariants).
 */
export function signedUrl(
  edge: EdgeFunction,
  baseUrl: string,
  variant: string,
  key: string,
  expiresInSeconds: number,
  keyId: string,
  secret: string,
): { url: string; expires: number } {
  const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
  return { url: `${baseUrl.replace(/\/$/, "")}${signedPath(edge, variant, key, expires, keyId, secret)}`, expires };
}

/** A signed URL path and query for a variant of a source key. */
export function signedPath(edge: EdgeFunction, variant: string, key: string, expires: number, keyId: string, secret: string): string {
  const exp = String(expires);
  return `/${variant}/${edge.encodeKey(key)}?exp=${exp}&kid=${encodeURIComponent(keyId)}&sig=${edge.sign(variant, key, exp, keyId, secret)}`;
}
