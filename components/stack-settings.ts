/** Stack-wide settings (`tenant-image-platform:*` besides `tenants`), validated once. */
import { z } from "zod";

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
