/**
 * The tenant configuration schema: the one contract shared by the Pulumi program (which validates
 * `Pulumi.<stack>.yaml`), the Lambda runtime (which receives its tenant's settings as JSON in
 * `TENANT_CONFIG`) and the local platform. Parse once, at the edge, into plain typed objects.
 */
import { closestMatch } from "./closest-match";
import { z } from "zod";
import { QUEUE_RETENTION_DAYS } from "./timing";
import { OVERLAY_PREFIX } from "./naming";
import { bucketNameProblem, EPHEMERAL_HEADROOM_MB, ephemeralStorageMb, MAX_EPHEMERAL_MB, OBJECTS_PER_CONTAINER } from "./tenant-runtime";

// The parts the functions need at run time live in tenant-runtime.ts (no zod there); re-exported
// here so that the program, the local platform and the tools find everything in one place.
export { ephemeralStorageMb, OBJECTS_PER_CONTAINER, outputConfigHash } from "./tenant-runtime";

/** S3 bucket names derived from a tenant name must stay valid, so tenant names are a strict subset. */
const TENANT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const RENDITION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const RENDITION_FORMATS = ["jpeg", "webp", "avif", "png"] as const;
/** On-demand variants may also ask for "auto": the best format the viewer's Accept header allows. */
const ON_DEMAND_FORMATS = [...RENDITION_FORMATS, "auto"] as const;
export type OnDemandFormat = (typeof ON_DEMAND_FORMATS)[number];
/** Key ids of on-demand signing keys (they appear in signed URLs and in the CloudFront KeyValueStore). */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const RENDITION_FITS = ["cover", "contain", "fill", "inside", "outside"] as const;
export type RenditionFormat = (typeof RENDITION_FORMATS)[number];
/**
 * Where `fit: cover` crops: "focus" (the default) around the object's stored focus (analysis at
 * upload: faces when Rekognition found any, else saliency), a compass point or the centre as sharp
 * names them, or "attention"/"entropy" computed by libvips at each render.
 */
const GRAVITIES = ["focus", "centre", "north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest", "attention", "entropy"] as const;

const positiveInt = (max: number) => z.number().int().positive().max(max);

/** A century: S3 lifecycle days and DynamoDB TTLs have no documented maximum; a bound catches a typo. */
const MAX_DAYS = 36_500;

/** Where an overlay sits: a compass point or the centre, as sharp names them. */
const OVERLAY_GRAVITIES = ["centre", "north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest"] as const;

/**
 * An image (PNG with alpha, or SVG) drawn over a rendition: a watermark, a logo. Its key is in the
 * tenant's source bucket under OVERLAY_PREFIX, which the pipeline never processes (docs/overlays.md).
 */
const overlaySchema = z
  .object({
    key: z
      .string()
      .max(1024)
      .refine((key) => key.startsWith(OVERLAY_PREFIX) && key.length > OVERLAY_PREFIX.length && !key.endsWith("/"), {
        message: `must be an object key under ${OVERLAY_PREFIX} (the prefix the pipeline never processes), e.g. ${OVERLAY_PREFIX}logo.png`,
      }),
    gravity: z.enum(OVERLAY_GRAVITIES).default("southeast"),
    /** The overlay's width as a share of the rendition's width (its height follows its aspect, within the rendition). */
    widthRatio: z.number().gt(0).max(1).default(0.25),
    /** 1 draws the overlay as it is (its own alpha kept); 0.5 at half its opacity. */
    opacity: z.number().min(0).max(1).default(1),
    /** Distance from the edges its gravity names, as a share of the rendition's shorter side. */
    margin: z.number().min(0).max(0.5).default(0.02),
  })
  .strict();
export type Overlay = z.infer<typeof overlaySchema>;

/** A rendition's shape; on-demand presets share it, with "auto" among their formats. */
function variantSchema<const F extends readonly [string, ...string[]]>(formats: F, defaultFormat: F[number]) {
  return z
    .object({
      name: z.string().regex(RENDITION_NAME, "must be lower-case letters, digits, '-' or '_' (max 63)"),
      width: positiveInt(16384).optional(),
      height: positiveInt(16384).optional(),
      fit: z.enum(RENDITION_FITS).default("inside"),
      format: z.enum(formats).default(defaultFormat),
      quality: z.number().int().min(1).max(100).default(80),
      /** Where `fit: cover` crops (GRAVITIES). Unset: around the object's focus. */
      gravity: z.enum(GRAVITIES).optional(),
      /** An image drawn over the rendition (a watermark). Default: none. */
      overlay: overlaySchema.optional(),
    })
    .strict()
    .refine((r) => r.width !== undefined || r.height !== undefined, {
      message: "needs a width, a height or both",
    });
}

const renditionSchema = variantSchema(RENDITION_FORMATS, "webp");
export type Rendition = z.infer<typeof renditionSchema>;

/** A named on-demand variant: a rendition whose format may also be "auto". */
const presetSchema = variantSchema(ON_DEMAND_FORMATS, "auto");

/**
 * The only retention periods CloudWatch Logs accepts (PutRetentionPolicy's retentionInDays):
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
 */
const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const onDemandSchema = z
  .object({
    /** Serve renditions on request over HTTPS (CloudFront + a rendering function). Default false. */
    enabled: z.boolean().default(false),
    /** Named variants beside the tenant's own renditions (which are valid variants too). */
    presets: z.array(presetSchema).max(20).default([]),
    /** Widths a URL may ask for as `w<width>.<format>` (fit inside, never enlarged). */
    widths: z.array(positiveInt(8192)).max(20).default([320, 640, 1024, 1600, 2048]),
    /** Formats `w<width>.<format>` may name; "auto" negotiates AVIF / WebP / JPEG from Accept. */
    formats: z.array(z.enum(ON_DEMAND_FORMATS)).min(1).default(["auto", "jpeg", "webp"]),
    /** Quality of width variants. */
    quality: z.number().int().min(1).max(100).default(80),
    /** Days a generated variant lives in the proxy bucket and at most in CloudFront's cache (the classic design's 14). */
    maxAgeDays: z.number().int().min(1).max(365).default(14),
    /** Browsers' cache time (seconds): shorter than the CDN's, since a browser copy cannot be invalidated. */
    browserMaxAgeSeconds: z.number().int().min(0).max(31_536_000).default(86_400),
    /** Signing key ids, oldest first: at most two are active (rotation); the last one signs new URLs. */
    signingKeyIds: z.array(z.string().regex(KEY_ID, "must be 1-32 letters, digits, '-' or '_'")).min(1).max(2).default(["k1"]),
    /** The rendering function: memory, timeout and the most instances that may run at once (the cost bound). */
    memoryMb: z.number().int().min(512).max(10240).default(2048),
    timeoutSeconds: z.number().int().min(5).max(60).default(30),
    /**
     * Renders at once, reserved from the region's concurrency pool: off by default. Lambda refuses a
     * reservation that leaves fewer than 100 unreserved executions in the account (PutFunctionConcurrency),
     * and new accounts often have 10 to 50 in all, so a default here would fail `pulumi up` there.
     */
    reservedConcurrency: z.number().int().min(1).max(1000).optional(),
    /**
     * A custom domain for the tenant's URLs, with its ACM certificate, which CloudFront reads from
     * us-east-1 only. Only with one does the distribution enforce TLS 1.2 (TLSv1.2_2021): on the
     * default *.cloudfront.net certificate CloudFront allows TLSv1 whatever is set.
     */
    domain: z
      .object({
        name: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "must be a lower-case DNS name such as img.example.com"),
        certificateArn: z
          .string()
          .regex(
            /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]+$/,
            "must be an ACM certificate ARN in us-east-1 (CloudFront reads certificates only there)",
          ),
      })
      .strict()
      .optional(),
    /** CloudFront price class of the tenant's distribution. */
    priceClass: z.enum(["PriceClass_100", "PriceClass_200", "PriceClass_All"]).default("PriceClass_100"),
    /**
     * Requests one viewer IP may make in a window before AWS WAF blocks it (a web ACL with a
     * rate-based rule on the distribution). Unset: no web ACL. AWS WAF: limit 10 to 2,000,000,000,
     * window 60, 120, 300 or 600 s.
     * https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html
     */
    rateLimit: z
      .object({
        requestsPerWindow: z.number().int().min(10).max(2_000_000_000),
        windowSeconds: z
          .number()
          .int()
          .refine((s) => [60, 120, 300, 600].includes(s), { message: "must be 60, 120, 300 or 600 (AWS WAF's evaluation windows)" })
          .default(300),
      })
      .strict()
      .optional(),
    /**
     * The most distinct variants one source may have stored: a miss beyond it answers 429 instead of
     * rendering (the variant lists bound it already; this bounds it lower). Unset: the lists' bound.
     */
    maxVariantsPerSource: z.number().int().min(1).max(1_000).optional(),
  })
  .strict()
  .prefault({});

/**
 * What is computed once at upload from the decoded pixels (docs/metadata.md): the placeholder, the
 * colours, the perceptual hash and its near-duplicates, the focus; Amazon Rekognition's opinions
 * when the tenant opts in (one call per asked API and object, on a small JPEG).
 */
const analysisSchema = z
  .object({
    /** A BlurHash beside the ThumbHash (many front-end libraries expect it). Default false. */
    blurhash: z.boolean().default(false),
    /**
     * Objects whose perceptual hashes differ in at most this many of 64 bits are listed as similar.
     * Default 12: edited copies of the measured photos mostly at 0-2 bits, crops at 6-36, distinct
     * photos at 20 and more (docs/metadata.md). The index finds every pair up to 7 bits, most beyond.
     */
    similarDistance: z.number().int().min(0).max(16).default(12),
    rekognition: z
      .object({
        /** DetectFaces: the union of the faces becomes the focus. */
        faces: z.boolean().default(false),
        /** DetectLabels: the top 10 labels (name and confidence). */
        labels: z.boolean().default(false),
        /**
         * DetectModerationLabels (`true`, or the settings below; `false` or unset: not asked); with
         * `quarantine`, an object with a label at `minConfidence` or more gets no renditions.
         */
        moderation: z.preprocess(
          (value) => (value === true ? {} : value === false ? undefined : value),
          z
            .object({
              quarantine: z.boolean().default(false),
              /** Rekognition's MinConfidence for moderation labels (percent). */
              minConfidence: z.number().int().min(50).max(100).default(80),
            })
            .strict()
            .optional(),
        ),
      })
      .strict()
      .optional(),
  })
  .strict()
  .prefault({});

export const DEFAULT_RENDITIONS: readonly Rendition[] = [
  { name: "thumb", width: 256, height: 256, fit: "cover", format: "webp", quality: 75 },
  { name: "preview", width: 1024, height: 1024, fit: "inside", format: "jpeg", quality: 82 },
];

const bucketName = z.string().superRefine((name, ctx) => {
  const problem = bucketNameProblem(name);
  if (problem) ctx.addIssue({ code: "custom", message: `invalid S3 bucket name "${name}": ${problem}` });
});

const tenantSchema = z
  .object({
    name: z.string().regex(TENANT_NAME, "must be 1-32 lower-case letters, digits or '-', not starting or ending with '-'"),
    renditions: z
      .array(renditionSchema)
      .max(10)
      .default(() => DEFAULT_RENDITIONS.map((r) => ({ ...r })))
      .superRefine((renditions, ctx) => {
        const seen = new Set<string>();
        renditions.forEach((r, i) => {
          if (seen.has(r.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate rendition name "${r.name}"` });
          seen.add(r.name);
        });
      }),
    metadata: z
      .object({
        /** Keep GPS coordinates in the table item (the sidecar always has the full exiftool output). */
        keepGps: z.boolean().default(false),
        /**
         * Renditions never carry EXIF/XMP (so never GPS); "icc" embeds the sRGB profile the renditions
         * were converted to, "none" strips everything.
         */
        renditionProfile: z.enum(["none", "icc"]).default("none"),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxObjectBytes: positiveInt(5 * 1024 ** 4).default(500 * 1024 * 1024),
        /** sharp's decompression-bomb guard; never disabled (0 would turn it off, so it is not allowed). */
        maxInputPixels: positiveInt(2 ** 32).default(268_402_689),
        /**
         * Frames of an animated GIF or WebP: more is refused (TOO_MANY_FRAMES), as a decompression
         * bomb is. maxInputPixels and the decode memory count every frame too.
         */
        maxFrames: positiveInt(100_000).default(1_000),
      })
      .strict()
      .prefault({}),
    function: z
      .object({
        memoryMb: z.number().int().min(256).max(10240).default(1024),
        timeoutSeconds: z.number().int().min(10).max(900).default(120),
        /** SQS event source mapping's maximum concurrency (2..1000). */
        maxConcurrency: z.number().int().min(2).max(1000).default(10),
        batchSize: z.number().int().min(1).max(10).default(5),
        architecture: z.enum(["arm64", "x86_64"]).default("arm64"),
        logRetentionDays: z
          .number()
          .int()
          .refine((days) => LOG_RETENTION_DAYS.includes(days), {
            message: `must be one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(", ")}`,
          })
          .default(30),
        /** AWS X-Ray: a trace per invocation, with a subsegment per object, stage and AWS call. Default false. */
        tracing: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    queue: z
      .object({
        maxReceiveCount: z.number().int().min(1).max(1000).default(5),
        dlqRetentionDays: z.number().int().min(1).max(14).default(14),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        sourceBucketName: bucketName.optional(),
        proxyBucketName: bucketName.optional(),
        /** Days after which renditions expire from the proxy bucket; unset keeps them. */
        proxyExpirationDays: z.number().int().positive().max(MAX_DAYS).optional(),
        tombstoneTtlDays: z.number().int().positive().max(MAX_DAYS).default(30),
        cacheControl: z.string().min(1).default("public, max-age=86400"),
      })
      .strict()
      .prefault({}),
    onDemand: onDemandSchema,
    analysis: analysisSchema,
    /** The tenant's outcome topic (docs/events.md): an event for every final state of an object. */
    events: z
      .object({
        /** Accounts (12-digit ids) whose principals may subscribe; default: the stack's own account. SNS takes up to 12.5M subscriptions a topic. */
        subscriberAccountIds: z
          .array(z.string().regex(/^\d{12}$/, { message: "must be a 12-digit AWS account id" }))
          .max(20)
          .default([]),
      })
      .strict()
      .prefault({}),
    /**
     * A monthly AWS Budget on the tenant's cost (the `tenant` cost allocation tag every resource
     * carries, once activated in Billing): e-mail alerts at each threshold of actual spend. AWS
     * Budgets: at most 5 notifications a budget, 10 e-mail subscribers each.
     */
    budget: z
      .object({
        monthlyUsd: z.number().int().min(1).max(1_000_000_000),
        alertEmails: z.array(z.email()).min(1).max(10),
        thresholdsPercent: z.array(z.number().int().min(1).max(1_000)).min(1).max(5).default([80, 100]),
      })
      .strict()
      .optional(),
  })
  .strict();

export type TenantConfig = z.infer<typeof tenantSchema>;

/** The schema itself, for tools that walk its fields (the numeric-limits table). */
export const TENANT_SCHEMA = tenantSchema;

/**
 * Rules across fields. A tombstone must outlive every event that can still arrive for its key: an
 * older event redriven from the dead-letter queue after the tombstone expired would find no item,
 * claim the key and leave a junk item behind.
 */
function crossFieldProblems(tenant: TenantConfig): { path: (string | number)[]; message: string }[] {
  const problems = [];
  const eventLifetimeDays = QUEUE_RETENTION_DAYS + tenant.queue.dlqRetentionDays;
  if (tenant.storage.tombstoneTtlDays <= eventLifetimeDays) {
    problems.push({
      path: ["storage", "tombstoneTtlDays"],
      message: `must be more than the ${eventLifetimeDays} days an event can live (queue ${QUEUE_RETENTION_DAYS} + dead-letter queue ${tenant.queue.dlqRetentionDays}), or a redriven old event leaves a junk item`,
    });
  }
  const storageMb = ephemeralStorageMb(tenant.limits.maxObjectBytes);
  if (storageMb > MAX_EPHEMERAL_MB) {
    problems.push({
      path: ["limits", "maxObjectBytes"],
      message: `${OBJECTS_PER_CONTAINER} objects of this size processed at once need ${storageMb} MB of /tmp, above Lambda's ${MAX_EPHEMERAL_MB} MB: at most ${Math.floor((MAX_EPHEMERAL_MB - EPHEMERAL_HEADROOM_MB) / OBJECTS_PER_CONTAINER)} MiB`,
    });
  }
  const variantNames = new Map(tenant.renditions.map((r) => [r.name, "renditions"]));
  tenant.onDemand.presets.forEach((preset, i) => {
    const owner = variantNames.get(preset.name);
    if (owner)
      problems.push({
        path: ["onDemand", "presets", i, "name"],
        message: `"${preset.name}" is already a variant name (in ${owner}): names must be unique across renditions and presets`,
      });
    else if (/^w\d+$/.test(preset.name))
      problems.push({ path: ["onDemand", "presets", i, "name"], message: `"${preset.name}" looks like a width variant (w<width>): choose another name` });
    variantNames.set(preset.name, "presets");
  });
  if (new Set(tenant.onDemand.signingKeyIds).size !== tenant.onDemand.signingKeyIds.length) {
    problems.push({ path: ["onDemand", "signingKeyIds"], message: "must not list a key id twice" });
  }
  return problems;
}
export type TenantInput = z.input<typeof tenantSchema>;

export class TenantConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid tenant configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "TenantConfigError";
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), "");
}

function tenantLabel(raw: unknown, index: number): string {
  const name = (raw as { name?: unknown } | undefined)?.name;
  return typeof name === "string" && name ? `tenant "${name}"` : `tenant #${index + 1}`;
}

/** For a value outside an enum: the allowed value it most likely meant (`jpg` → `jpeg`), if one is close. */
function didYouMean(value: unknown, allowed: readonly unknown[]): string {
  if (typeof value !== "string") return "";
  const meant = closestMatch(
    value,
    allowed.filter((a): a is string => typeof a === "string"),
  );
  return meant ? ` (did you mean "${meant}"?)` : "";
}

/** The value at an issue's path in the raw input (what the user wrote). */
function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((at, part) => (at && typeof at === "object" ? (at as Record<PropertyKey, unknown>)[part] : undefined), raw);
}

/** Validates one tenant; errors name the tenant and the field, and suggest the nearest allowed value of an enum. */
export function parseTenant(raw: unknown, index = 0): TenantConfig {
  const result = tenantSchema.safeParse(raw);
  const label = tenantLabel(raw, index);
  const issues = result.success ? crossFieldProblems(result.data) : result.error.issues;
  if (result.success && issues.length === 0) return result.data;
  throw new TenantConfigError(
    issues.map((issue) => {
      const allowed = (issue as { code?: string; values?: readonly unknown[] }).code === "invalid_value" ? (issue as { values: unknown[] }).values : undefined;
      const hint = allowed ? didYouMean(valueAt(raw, issue.path), allowed) : "";
      return `${label}: ${formatPath(issue.path) || "(tenant)"}: ${issue.message}${hint}`;
    }),
  );
}

/** Validates the whole tenant list of a stack: every tenant, then uniqueness of names and buckets. */
export function parseTenants(raw: unknown): TenantConfig[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new TenantConfigError(["tenants: must be a non-empty list of tenants (config key tenant-image-platform:tenants)"]);
  }
  const problems: string[] = [];
  const tenants: TenantConfig[] = [];
  raw.forEach((entry, i) => {
    try {
      tenants.push(parseTenant(entry, i));
    } catch (err) {
      if (err instanceof TenantConfigError) problems.push(...err.problems);
      else throw err;
    }
  });
  const names = new Map<string, number>();
  const buckets = new Map<string, string>();
  for (const tenant of tenants) {
    names.set(tenant.name, (names.get(tenant.name) ?? 0) + 1);
    for (const bucket of [tenant.storage.sourceBucketName, tenant.storage.proxyBucketName]) {
      if (!bucket) continue;
      const owner = buckets.get(bucket);
      if (owner) problems.push(`tenant "${tenant.name}": storage: bucket "${bucket}" is already used by tenant "${owner}"`);
      buckets.set(bucket, tenant.name);
    }
  }
  for (const [name, count] of names) {
    if (count > 1) problems.push(`tenant "${name}": name: duplicate tenant name (listed ${count} times)`);
  }
  if (problems.length) throw new TenantConfigError(problems);
  return tenants;
}
