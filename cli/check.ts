/**
 * `npm run check -- --stack <name> [--config Pulumi.x.yaml] [--quota key=value ...] [--json]`: what
 * `pulumi up` would check of the stack's config, without AWS or the Pulumi CLI (tenants, stack
 * settings, every physical name), then what the stack needs of each AWS quota against AWS's defaults
 * or the raised values the stack states (`tenant-image-platform:quotas`, or `--quota`). Exits 0 when
 * everything fits, 1 naming each quota that does not and the tenants it allows, 2 on a config or
 * usage error (one line).
 */
import { tenantResourceNames } from "../contract/naming";
import { TenantConfigError } from "../contract/tenant-config";
import { exceededMessage, QUOTAS, stackQuotaUse, type QuotaKey, type QuotaUse } from "../contract/quotas";
import { loadStackConfigFile, stackConfigFile, type StackConfig } from "../local/stack-config";
import { fail, parseCommandLine } from "./targets";

const USAGE = "usage: npm run check -- --stack <name> [--config <Pulumi.x.yaml>] [--quota <key>=<value> ...] [--json]";

function parseQuotaFlags(flags: string[]): Partial<Record<QuotaKey, number>> {
  const keys = new Set<string>(QUOTAS.map((q) => q.key));
  return Object.fromEntries(
    flags.map((flag) => {
      const [key, value] = flag.split("=");
      if (!key || !keys.has(key)) fail("check", `--quota ${flag}: the key must be one of ${[...keys].join(", ")}`);
      const number = Number(value);
      if (!Number.isInteger(number) || number <= 0) fail("check", `--quota ${flag}: the value must be a positive whole number`);
      return [key, number];
    }),
  );
}

function load(stack: string, file: string): StackConfig {
  try {
    const config = loadStackConfigFile(file);
    if (!config.region) throw new Error(`${file} sets no aws:region (pulumi up needs one)`);
    // The physical names AWS would refuse, as the program derives them.
    for (const tenant of config.tenants) tenantResourceNames(stack, tenant, config.settings.namePrefix);
    return config;
  } catch (err) {
    const problems = err instanceof TenantConfigError ? err.problems : [(err as Error).message];
    return fail("check", problems.map((p) => p.replace(/:?\n\s*-?\s*/g, ": ")).join("; "));
  }
}

const format = (n: number) => (Number.isFinite(n) ? n.toLocaleString("en-US") : "any");

function printTable(uses: QuotaUse[]): void {
  const rows = uses.map((u) => [
    u.exceeded ? "✗" : "✓",
    u.quota.name,
    format(u.needs),
    `${format(u.limit)}${u.limitSource === "stated" ? " (stated)" : ""}`,
    format(u.tenantsThatFit),
  ]);
  const header = ["", "quota", "needs", "limit", "tenants that fit"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

function main(): void {
  const { values } = parseCommandLine("check", USAGE, {
    options: { stack: { type: "string" }, config: { type: "string" }, quota: { type: "string", multiple: true }, json: { type: "boolean", default: false } },
  });
  if (!values.stack) return fail("check", USAGE);
  const config = load(values.stack, values.config ?? stackConfigFile(values.stack));
  const stated = { ...config.settings.quotas, ...parseQuotaFlags(values.quota ?? []) };
  const uses = stackQuotaUse(config.tenants, stated);
  const exceeded = uses.filter((u) => u.exceeded);
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          stack: values.stack,
          tenants: config.tenants.length,
          quotas: uses.map((u) => ({
            key: u.quota.key,
            name: u.quota.name,
            needs: u.needs,
            limit: u.limit,
            limitSource: u.limitSource,
            tenantsThatFit: u.tenantsThatFit,
          })),
          exceeded: exceeded.map((u) => exceededMessage(u, values.stack!, config.tenants.length)),
        },
        null,
        2,
      ),
    );
  } else {
    const onDemand = config.tenants.filter((t) => t.onDemand.enabled).length;
    console.log(`stack "${values.stack}" (${config.file}): ${config.tenants.length} tenants, ${onDemand} with on-demand renditions; the config is valid.\n`);
    printTable(uses);
    if (exceeded.length) {
      console.log("");
      for (const use of exceeded) console.error(`check: ${exceededMessage(use, values.stack, config.tenants.length)}`);
    } else {
      console.log(
        `\nEvery quota fits (AWS's defaults${Object.keys(stated).length ? " and the stated values" : ""}); pulumi preview reads the account's own values.`,
      );
    }
  }
  process.exitCode = exceeded.length ? 1 : 0;
}

main();
