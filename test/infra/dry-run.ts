/** The Pulumi dry run (fixtures/pulumi-dry-run.ts), run afresh each time within one test process. */
import { vi } from "vitest";
import { dryRun as dryRunOnce } from "../../fixtures/pulumi-dry-run";

export { ACCOUNT, fakeLayerZip, type DryRunResult, type RecordedResource } from "../../fixtures/pulumi-dry-run";

export const dryRun = (options: Omit<Parameters<typeof dryRunOnce>[0], "resetModules">) => dryRunOnce({ ...options, resetModules: () => vi.resetModules() });
