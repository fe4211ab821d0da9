/** Reads a stack's config from `Pulumi.<stack>.yaml`, validated by the same schemas the Pulumi program uses. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse, YAMLParseError } from "yaml";
import { parseTenants, TenantConfigError, type TenantConfig } from "../contract/tenant-config";
import { parseStackSettings, type StackSettings } from "../contract/stack-settings";

const PROJECT = "tenant-image-platform";
export const TENANTS_KEY = `${PROJECT}:tenants`;

/** A stack file's YAML; a syntax error is one line: the file, its line and column, and the parser's message. */
function readStackYaml(file: string): { config?: Record<string, unknown> } | null {
  try {
    return parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  } catch (err) {
    if (!(err instanceof YAMLParseError)) throw err;
    const at = err.linePos?.[0];
    const message = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new TenantConfigError([`${path.relative(process.cwd(), file) || file}${at ? `:${at.line}:${at.col}` : ""}: ${message}`]);
  }
}

export function loadStackTenants(stack = "dev", root = path.resolve(__dirname, "..")): TenantConfig[] {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new TenantConfigError([`there is no ${file} for stack "${stack}"`]);
  const doc = readStackYaml(file);
  const raw = doc?.config?.[TENANTS_KEY];
  if (raw === undefined) throw new TenantConfigError([`${file} has no "${TENANTS_KEY}" config key`]);
  return parseTenants(raw);
}

export interface StackConfig {
  file: string;
  region: string | undefined;
  tenants: TenantConfig[];
  settings: StackSettings;
}

/** The whole stack config of a `Pulumi.<stack>.yaml` file: tenants, stack settings and region, each validated. */
export function loadStackConfigFile(file: string): StackConfig {
  if (!existsSync(file)) throw new TenantConfigError([`there is no ${file}`]);
  const doc = readStackYaml(file);
  const config = doc?.config ?? {};
  const raw = config[TENANTS_KEY];
  if (raw === undefined) throw new TenantConfigError([`${file} has no "${TENANTS_KEY}" config key`]);
  const tenants = parseTenants(raw);
  let settings: StackSettings;
  try {
    settings = parseStackSettings((key) => config[`${PROJECT}:${key}`]);
  } catch (err) {
    throw new TenantConfigError([(err as Error).message]);
  }
  return { file, region: config["aws:region"] as string | undefined, tenants, settings };
}

/** `Pulumi.<stack>.yaml` in the project's folder. */
export function stackConfigFile(stack: string, root = path.resolve(__dirname, "..")): string {
  return path.join(root, `Pulumi.${stack}.yaml`);
}
