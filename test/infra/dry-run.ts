/** The Pulumi dry run (fixtures/pulumi-dry-run.ts), run afresh each time within one test process. */
import { readFileSync } from "node:fs";
import { vi } from "vitest";
import { parse } from "yaml";
import { dryRun as dryRunOnce } from "../../fixtures/pulumi-dry-run";
import { TENANTS_KEY } from "../../local/stack-config";

export { ACCOUNT, fakeLayerZip, type DryRunResult, type RecordedResource } from "../../fixtures/pulumi-dry-run";

export const dryRun = (options: Omit<Parameters<typeof dryRunOnce>[0], "resetModules">) => dryRunOnce({ ...options, resetModules: () => vi.resetModules() });

/** The dev stack's tenants as Pulumi.dev.yaml writes them: unparsed, what the program receives. */
export const DEV_TENANTS = (parse(readFileSync("Pulumi.dev.yaml", "utf8")) as { config: Record<string, unknown> }).config[TENANTS_KEY] as ({
  name: string;
} & Record<string, unknown>)[];
