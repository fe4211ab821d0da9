/**
 * What the functions read of a tenant's configuration at run time, without the schema library:
 * the deployment validates `Pulumi.<stack>.yaml` with the schema (tenant-config.ts) and writes the
 * result, defaults filled, into each function's TENANT_CONFIG (environment.ts). Loading zod and
 * building the schema costs a cold start about 85 ms on this machine (bench `cold`), for a value
 * the deployment has already checked; the rules both sides need live here.
 */
import { createHash } from "node:crypto";

/** Top-level fields every validated tenant configuration has (the schema fills their defaults). */
const CONFIG_FIELDS = ["name", "renditions", "metadata", "limits", "function", "queue", "storage", "onDemand", "analysis"] as const;

/**
 * A function's tenant, from the JSON the deployment wrote into `variable` (`Config`: the schema's
 * TenantConfig, which this module does not import: the schema imports these rules). A value that is
 * not one (edited by hand, or from a deployment older than the function's code) fails with what is missing.
 */
export function readTenantConfig<Config>(json: string, variable: string): Config {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`${variable} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const missing = CONFIG_FIELDS.filter((field) => !(value && typeof value === "object" && field in value));
  if (missing.length)
    throw new Error(`${variable} is not a tenant configuration written by the deployment (missing ${missing.join(", ")}): deploy the stack again`);
  return value as Config;
}

/** S3 bucket naming rules (general purpose buckets), checked here so a bad name fails at config time. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return "must be 3 to 63 characters long";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return "may hold only lower-case letters, digits, '.' and '-', and must start and end with a letter or digit";
  }
  if (name.includes("..")) return "must not contain two adjacent periods";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "must not be formatted as an IP address";
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return "must not start with a reserved prefix";
  if (/(-s3alias|--ol-s3|--x-s3|--table-s3|\.mrap)$/.test(name)) return "must not end with a reserved suffix";
  return undefined;
}

/** Objects one function container processes at once (records of a batch in parallel). */
export const OBJECTS_PER_CONTAINER = 2;

/** Lambda's largest /tmp, and what the runtime keeps free beside the spooled objects. */
export const MAX_EPHEMERAL_MB = 10_240;
export const EPHEMERAL_HEADROOM_MB = 512;

/** /tmp a function needs: one spooled copy of the largest allowed object per object in flight, plus headroom. */
export function ephemeralStorageMb(maxObjectBytes: number): number {
  return Math.max(512, OBJECTS_PER_CONTAINER * Math.ceil(maxObjectBytes / 1024 / 1024) + EPHEMERAL_HEADROOM_MB);
}

/**
 * Bump when the pipeline's code changes what it writes for the same config (a new sidecar field, a
 * fix to the renditions): every item then differs from the current output config, and
 * `npm run reprocess` redoes them.
 */
const OUTPUT_VERSION = 2; // 2: analysis at upload (issue 20)

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What an item's outputs were made with: the renditions, what they and the item keep of the
 * metadata, what the analysis computes, and the pipeline's OUTPUT_VERSION. Stored on every item the pipeline writes;
 * `npm run reprocess` skips items that carry the current one. 16 hex digits of a SHA-256.
 */
export function outputConfigHash(tenant: { renditions: readonly object[]; metadata: object; analysis: object }): string {
  const identity = { version: OUTPUT_VERSION, renditions: tenant.renditions, metadata: tenant.metadata, analysis: tenant.analysis };
  return createHash("sha256").update(canonicalJson(identity)).digest("hex").slice(0, 16);
}

/** The Rekognition APIs a tenant asks for, as its function calls them and its role allows them. */
export interface ReviewSettings {
  faces: boolean;
  labels: boolean;
  /** DetectModerationLabels' MinConfidence; undefined: moderation not asked. */
  moderationMinConfidence?: number;
  /** Moderation labels withhold the renditions. */
  quarantine: boolean;
}

/** What the schema leaves of `moderation` (`true` becomes the defaults, `false` nothing). */
type ModerationSetting = { quarantine: boolean; minConfidence: number } | undefined;

/** A tenant's `analysis.rekognition`, or undefined when it asks for no Rekognition API. */
export function reviewSettings(analysis: {
  rekognition?: { faces: boolean; labels: boolean; moderation?: ModerationSetting } | undefined;
}): ReviewSettings | undefined {
  const asked = analysis.rekognition;
  if (!asked || (!asked.faces && !asked.labels && !asked.moderation)) return undefined;
  const moderation = asked.moderation;
  return { faces: asked.faces, labels: asked.labels, moderationMinConfidence: moderation?.minConfidence, quarantine: moderation?.quarantine ?? false };
}
