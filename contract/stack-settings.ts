/**
 * Stack-wide settings (`tenant-image-platform:*` besides `tenants`), validated once: by the Pulumi
 * program and by `npm run check`.
 */
import { z } from "zod";
import { QUOTAS, type QuotaKey } from "./quotas";

const QUOTA_KEYS = QUOTAS.map((q) => q.key) as [QuotaKey, ...QuotaKey[]];

const stackSettingsSchema = z
  .object({
    /** Short prefix of every resource name: `<prefix>-<stack>-<tenant>-...`. */
    namePrefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,11}$/)
      .default("tip"),
    /**
     * Protect tenant data from accidental deletion: source buckets and tables are retained in AWS
     * (released from the stack) when a tenant is removed, and tables get deletion protection.
     */
    protectData: z.boolean().default(true),
    /** Versioning on source buckets. */
    sourceVersioning: z.boolean().default(true),
    /** SNS topic notified by every alarm (optional). */
    alarmTopicArn: z.string().startsWith("arn:").optional(),
    /** Override of the layer zip built by `npm run build:layer`. */
    layerZip: z.string().optional(),
    /** Queue age (seconds) that raises the "falling behind" alarm. */
    queueAgeAlarmSeconds: z.number().int().positive().default(900),
    /**
     * Tags for every taggable resource of the stack, beside `stack` and `tenant` (which the stack
     * sets itself). AWS: keys 1-128 characters, values up to 256, at most 50 tags a resource, and
     * the `aws:` prefix is AWS's own.
     * https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html
     */
    tags: z
      .record(z.string(), z.string())
      .superRefine((tags, ctx) => {
        const keys = Object.keys(tags);
        if (keys.length > 48) ctx.addIssue({ code: "custom", message: "at most 48 tags: AWS allows 50 a resource, and stack and tenant are two" });
        for (const key of keys) {
          const problem =
            key.length < 1 || key.length > 128
              ? "a tag key has 1 to 128 characters"
              : key.toLowerCase().startsWith("aws:")
                ? "the aws: prefix is reserved for AWS's own tags"
                : key === "stack" || key === "tenant"
                  ? "stack and tenant are set by the stack itself"
                  : tags[key]!.length > 256
                    ? "a tag value has at most 256 characters"
                    : undefined;
          if (problem) ctx.addIssue({ code: "custom", path: [key], message: problem });
        }
      })
      .default({}),
    /**
     * Quotas the account has raised above AWS's defaults (contract/quotas.ts), for `npm run check`;
     * `pulumi preview` reads the account's own values where Service Quotas has them.
     */
    quotas: z.partialRecord(z.enum(QUOTA_KEYS), z.number().int().positive()).default({}),
    /** Read the account's quotas through Service Quotas at preview and fail when the stack does not fit. Default true. */
    checkAccountQuotas: z.boolean().default(true),
  })
  .strict();

export type StackSettings = z.infer<typeof stackSettingsSchema>;

/** Reads the stack settings through a getter (pulumi.Config#getObject), reporting every problem. */
export function parseStackSettings(get: (key: string) => unknown): StackSettings {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(stackSettingsSchema.shape)) {
    const value = get(key);
    if (value !== undefined) raw[key] = value;
  }
  const result = stackSettingsSchema.safeParse(raw);
  if (!result.success) {
    throw new Error(`invalid stack settings:\n  - ${result.error.issues.map((i) => `tenant-image-platform:${i.path.join(".")}: ${i.message}`).join("\n  - ")}`);
  }
  return result.data;
}
