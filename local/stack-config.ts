/** Reads a stack's tenants from `Pulumi.<stack>.yaml`, validated by the same schema Pulumi uses. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { parseTenants, TenantConfigError, type TenantConfig } from "../contract/tenant-config";

const PROJECT = "tenant-image-platform";
export const TENANTS_KEY = `${PROJECT}:tenants`;

export function loadStackTenants(stack = "dev", root = path.resolve(__dirname, "..")): TenantConfig[] {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new TenantConfigError([`there is no ${file} for stack "${stack}"`]);
  const doc = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const raw = doc?.config?.[TENANTS_KEY];
  if (raw === undefined) throw new TenantConfigError([`${file} has no "${TENANTS_KEY}" config key`]);
  return parseTenants(raw);
}
