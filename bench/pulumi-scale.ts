/**
 * The Pulumi program itself at scale: a dry run of index.ts under mocks with N generated tenants
 * (one in ten with on-demand renditions), in a process of its own. Prints one JSON line: resources,
 * wall and CPU time, peak RSS and heap after a full GC; `--inputs <file>` also writes every
 * resource's inputs by URN, which the bench group compares between 1,000 and 1,001 tenants (a new
 * tenant must touch nothing but its own). `tsx bench/pulumi-scale.ts --tenants 100`
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { dryRun, fakeLayerZip } from "../fixtures/pulumi-dry-run";

export function scaleTenants(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({ name: `t${String(i).padStart(4, "0")}`, ...(i % 10 === 0 ? { onDemand: { enabled: true } } : {}) }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { tenants: { type: "string", default: "10" }, inputs: { type: "string" } },
  });
  const count = Number(values.tenants);
  const layerZip = await fakeLayerZip();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const run = await dryRun({ stack: "scale", tenants: scaleTenants(count), settings: { layerZip, checkAccountQuotas: false } });
  const ms = Math.round(performance.now() - started);
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  (globalThis as { gc?: () => void }).gc?.();
  const result = {
    tenants: count,
    resources: run.resources.length,
    ms,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    peakRssMb: Math.round(Math.max(peakRss, process.memoryUsage().rss) / 1024 / 1024),
    heapAfterGcMb: Math.round(process.memoryUsage().heapUsed / 1024 / 1024),
  };
  // Every resource's inputs, by URN, to a file: tens of megabytes a pipe would cut at exit.
  if (typeof values.inputs === "string")
    writeFileSync(values.inputs, JSON.stringify(Object.fromEntries(run.resources.map((r) => [r.urn, JSON.stringify(r.inputs)]))));
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

if (require.main === module) void main();

interface ScaleRow {
  tenants: number;
  resources: number;
  ms: number;
  cpuMs: number;
  peakRssMb: number;
  heapAfterGcMb: number;
  inputs?: Record<string, string>;
}

/** One dry run in a process of its own (a fresh module cache, and its own memory to measure). */
function runOnce(tenants: number, keepInputs: boolean): ScaleRow {
  const inputsFile = keepInputs ? path.join(mkdtempSync(path.join(os.tmpdir(), "scale-")), "inputs.json") : undefined;
  const args = [
    "--expose-gc",
    "--max-old-space-size=16384",
    "--import",
    "tsx",
    __filename,
    "--tenants",
    String(tenants),
    ...(inputsFile ? ["--inputs", inputsFile] : []),
  ];
  const child = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`the dry run of ${tenants} tenants failed: ${child.stderr.slice(-2000)}`);
  const row = JSON.parse(child.stdout.trim().split("\n").pop()!) as ScaleRow;
  return inputsFile ? { ...row, inputs: JSON.parse(readFileSync(inputsFile, "utf8")) as Record<string, string> } : row;
}

/** Bench group "scale": 10, 100 and 1,000 tenants; then the 1,001st, compared resource by resource with the 1,000. */
export function pulumiScale(table: (title: string, rows: Record<string, string | number>[]) => void) {
  const sizes = [10, 100, 1_000];
  const rows = sizes.map((tenants) => runOnce(tenants, tenants === 1_000));
  const thousand = rows.at(-1)!;
  const plusOne = runOnce(1_001, true);
  const before = thousand.inputs!;
  const after = plusOne.inputs!;
  const created = Object.keys(after).filter((urn) => !(urn in before));
  const changed = Object.keys(before).filter((urn) => urn in after && after[urn] !== before[urn]);
  const removed = Object.keys(before).filter((urn) => !(urn in after));
  const newcomer = scaleTenants(1_001).at(-1)!.name as string;
  const addOne = {
    created: created.length,
    createdOutsideTheTenant: created.filter((urn) => !urn.endsWith(`::tip-scale-${newcomer}`) && !urn.includes(`::tip-scale-${newcomer}-`)).length,
    changed: changed.map((urn) => urn.split("::").pop()!),
    removed: removed.length,
  };
  const result = rows.map(({ inputs: _inputs, ...row }) => ({
    ...row,
    msPerTenant: Math.round(row.ms / row.tenants),
    mbPerTenant: +(row.peakRssMb / row.tenants).toFixed(1),
  }));
  table(
    "10. The Pulumi program at scale: dry runs under mocks (1 tenant in 10 with on-demand renditions)",
    result.map((r) => ({
      tenants: r.tenants,
      resources: r.resources,
      time: `${(r.ms / 1000).toFixed(1)} s`,
      "CPU time": `${(r.cpuMs / 1000).toFixed(1)} s`,
      "ms per tenant": r.msPerTenant,
      "peak RSS": `${r.peakRssMb} MB`,
      "heap after GC": `${r.heapAfterGcMb} MB`,
    })),
  );
  table("10b. Adding the 1,001st tenant", [
    {
      "resources created": addOne.created,
      "created outside the new tenant": addOne.createdOutsideTheTenant,
      "existing resources changed": addOne.changed.join(", ") || "none",
      removed: addOne.removed,
    },
  ]);
  return { rows: result, growth1000Over100: +(result[2]!.ms / result[1]!.ms).toFixed(2), addOne };
}
