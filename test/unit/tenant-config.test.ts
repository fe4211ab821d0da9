import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackTenants, TENANTS_KEY } from "../../local/stack-config";
import { DEFAULT_RENDITIONS, outputConfigHash, parseTenants, TenantConfigError, type TenantConfig } from "../../contract/tenant-config";
import { readTenantConfig } from "../../contract/tenant-runtime";
import { DEV_TENANTS } from "../infra/dry-run";

function problemsOf(raw: unknown): string[] {
  try {
    parseTenants(raw);
  } catch (err) {
    if (err instanceof TenantConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the config to be rejected");
}

describe("tenant config", () => {
  it("makes a one-line tenant useful with defaults", () => {
    const [acme] = parseTenants([{ name: "acme" }]);
    expect(acme!.renditions).toEqual(DEFAULT_RENDITIONS);
    expect(acme!.metadata).toEqual({ keepGps: false, renditionProfile: "none" });
    expect(acme!.limits.maxInputPixels).toBe(268_402_689);
    expect(acme!.function.architecture).toBe("arm64");
    expect(acme!.queue.maxReceiveCount).toBe(5);
  });

  it("keeps explicit settings and fills the rest", () => {
    const [t] = parseTenants([{ name: "globex", renditions: [{ name: "thumb", width: 128, format: "avif" }], function: { memoryMb: 2048 } }]);
    expect(t!.renditions).toEqual([{ name: "thumb", width: 128, fit: "inside", format: "avif", quality: 80 }]);
    expect(t!.function.memoryMb).toBe(2048);
    expect(t!.function.timeoutSeconds).toBe(120);
  });

  it("names the tenant and the field for each problem", () => {
    const problems = problemsOf([
      { name: "acme", renditions: [{ name: "thumb", width: -5, format: "gif" }] },
      { name: "Bad_Name" },
      { name: "ok", limits: { maxObjectBytes: -1 } },
    ]);
    expect(problems).toContainEqual(expect.stringMatching(/^tenant "acme": renditions\[0\]\.width: /));
    expect(problems).toContainEqual(expect.stringMatching(/^tenant "acme": renditions\[0\]\.format: .*jpeg/));
    expect(problems).toContainEqual(expect.stringMatching(/^tenant "Bad_Name": name: /));
    expect(problems).toContainEqual(expect.stringMatching(/^tenant "ok": limits\.maxObjectBytes: /));
  });

  it("rejects duplicate tenants, duplicate renditions and unknown fields", () => {
    expect(problemsOf([{ name: "acme" }, { name: "acme" }])).toContainEqual(expect.stringContaining('tenant "acme": name: duplicate tenant name'));
    expect(
      problemsOf([
        {
          name: "a1",
          renditions: [
            { name: "x", width: 10 },
            { name: "x", width: 20 },
          ],
        },
      ]),
    ).toContainEqual(expect.stringContaining('renditions[1].name: duplicate rendition name "x"'));
    expect(problemsOf([{ name: "a1", colour: "blue" }])[0]).toMatch(/tenant "a1".*colour/);
    expect(problemsOf([{ name: "a1", renditions: [{ name: "x" }] }])[0]).toMatch(/renditions\[0\].*width, a height or both/);
  });

  it("validates explicit bucket names against S3's rules and across tenants", () => {
    expect(problemsOf([{ name: "a1", storage: { sourceBucketName: "Has_Upper" } }])[0]).toMatch(
      /tenant "a1": storage\.sourceBucketName: invalid S3 bucket name/,
    );
    expect(problemsOf([{ name: "a1", storage: { proxyBucketName: "192.168.1.1" } }])[0]).toMatch(/IP address/);
    expect(
      problemsOf([
        { name: "a1", storage: { sourceBucketName: "shared-bucket" } },
        { name: "b2", storage: { proxyBucketName: "shared-bucket" } },
      ]),
    ).toContainEqual(expect.stringContaining('tenant "b2": storage: bucket "shared-bucket" is already used by tenant "a1"'));
  });

  it("refuses a tombstone TTL that an event redriven from the dead-letter queue could outlive", () => {
    expect(problemsOf([{ name: "a1", storage: { tombstoneTtlDays: 18 } }])[0]).toMatch(
      /tenant "a1": storage\.tombstoneTtlDays: must be more than the 18 days an event can live \(queue 4 \+ dead-letter queue 14\)/,
    );
    expect(() => parseTenants([{ name: "a1", storage: { tombstoneTtlDays: 10 }, queue: { dlqRetentionDays: 5 } }])).not.toThrow();
    expect(() => parseTenants([{ name: "a1" }])).not.toThrow();
  });

  it("bounds the object size by what /tmp can hold for the objects a container processes at once", () => {
    expect(problemsOf([{ name: "a1", limits: { maxObjectBytes: 5 * 1024 ** 3 } }])[0]).toMatch(
      /tenant "a1": limits\.maxObjectBytes: 2 objects of this size processed at once need 10752 MB of \/tmp, above Lambda's 10240 MB: at most 4864 MiB/,
    );
    expect(() => parseTenants([{ name: "a1", limits: { maxObjectBytes: 4864 * 1024 ** 2 } }])).not.toThrow();
  });

  it("refuses an empty or missing tenant list", () => {
    expect(problemsOf([])[0]).toMatch(/non-empty list/);
    expect(problemsOf(undefined)[0]).toMatch(/non-empty list/);
  });
});

describe("outputConfigHash", () => {
  const [tenant] = parseTenants([{ name: "h", renditions: [{ name: "thumb", width: 64, format: "webp" }], metadata: { keepGps: false } }]);

  it("changes with what shapes the outputs, not with anything else", () => {
    const hash = outputConfigHash(tenant!);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    // Key order and operational settings do not matter.
    const reordered = JSON.parse(
      JSON.stringify({
        analysis: tenant!.analysis,
        metadata: tenant!.metadata,
        renditions: tenant!.renditions.map((r) => Object.fromEntries(Object.entries(r).reverse())),
      }),
    );
    expect(outputConfigHash(reordered)).toBe(hash);
    const operational = { ...tenant!, function: { ...tenant!.function, memoryMb: 4096 }, limits: { ...tenant!.limits, maxObjectBytes: 1 } };
    expect(outputConfigHash(operational)).toBe(hash);
    expect(outputConfigHash({ ...tenant!, renditions: [{ ...tenant!.renditions[0]!, width: 65 }] })).not.toBe(hash);
    expect(outputConfigHash({ ...tenant!, renditions: [{ ...tenant!.renditions[0]!, quality: 50 }] })).not.toBe(hash);
    expect(outputConfigHash({ ...tenant!, metadata: { ...tenant!.metadata, keepGps: true } })).not.toBe(hash);
    // What the analysis computes is an output too (reprocess backfills it).
    expect(outputConfigHash({ ...tenant!, analysis: { ...tenant!.analysis, blurhash: true } })).not.toBe(hash);
    expect(outputConfigHash({ ...tenant!, analysis: { ...tenant!.analysis, similarDistance: 8 } })).not.toBe(hash);
    expect(outputConfigHash({ ...tenant!, analysis: { ...tenant!.analysis, rekognition: { faces: true, labels: false, moderation: false } } })).not.toBe(hash);
  });

  it("accepts only the log retention periods CloudWatch Logs accepts", () => {
    for (const days of [1, 30, 365, 3653]) expect(parseTenants([{ name: "t", function: { logRetentionDays: days } }])[0]!.function.logRetentionDays).toBe(days);
    for (const days of [0, 2, 31, 366, 10_000]) {
      expect(() => parseTenants([{ name: "t", function: { logRetentionDays: days } }])).toThrow(
        /function\.logRetentionDays: must be one of CloudWatch Logs' retention periods: 1, 3, 5/,
      );
    }
  });

  it("reserves no renderer concurrency by default; a tenant may reserve 1 to 1,000", () => {
    expect(parseTenants([{ name: "t", onDemand: { enabled: true } }])[0]!.onDemand.reservedConcurrency).toBeUndefined();
    expect(parseTenants([{ name: "t", onDemand: { enabled: true, reservedConcurrency: 5 } }])[0]!.onDemand.reservedConcurrency).toBe(5);
    expect(() => parseTenants([{ name: "t", onDemand: { enabled: true, reservedConcurrency: 0 } }])).toThrow(/onDemand\.reservedConcurrency/);
  });

  it("defaults tracing off; a tenant opts in with function.tracing", () => {
    expect(tenant!.function.tracing).toBe(false);
    expect(parseTenants([{ name: "t", function: { tracing: true } }])[0]!.function.tracing).toBe(true);
  });
});

describe("a value outside an enum", () => {
  const problem = (rendition: Record<string, unknown>) => {
    try {
      parseTenants([{ name: "acme", renditions: [{ name: "r", width: 10, ...rendition }] }]);
    } catch (err) {
      if (err instanceof TenantConfigError) return err.problems[0]!;
      throw err;
    }
    throw new Error("expected the rendition to be rejected");
  };

  it("suggests the allowed value it most likely meant", () => {
    expect(problem({ format: "jpg" })).toMatch(/renditions\[0\]\.format: Invalid option: .* \(did you mean "jpeg"\?\)$/);
    expect(problem({ fit: "contian" })).toMatch(/\(did you mean "contain"\?\)$/);
    expect(problem({ gravity: "center" })).toMatch(/\(did you mean "centre"\?\)$/);
  });

  it("suggests nothing when no allowed value is close", () => {
    expect(problem({ format: "gif" })).toMatch(/expected one of "jpeg"\|"webp"\|"avif"\|"png"$/);
  });
});

describe("a stack's config file, as npm start reads it", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "stack-config-"));
  const problemsOfStack = (stack: string) => {
    try {
      loadStackTenants(stack, root);
    } catch (err) {
      if (err instanceof TenantConfigError) return err.problems;
      throw err;
    }
    throw new Error("expected the stack to be rejected");
  };

  it("is a config error naming the file when it is missing or lists no tenants", () => {
    expect(problemsOfStack("staging")).toEqual([`there is no ${path.join(root, "Pulumi.staging.yaml")} for stack "staging"`]);
    writeFileSync(path.join(root, "Pulumi.empty.yaml"), "config:\n  aws:region: eu-west-1\n");
    expect(problemsOfStack("empty")).toEqual([`${path.join(root, "Pulumi.empty.yaml")} has no "${TENANTS_KEY}" config key`]);
    writeFileSync(path.join(root, "Pulumi.ok.yaml"), `config:\n  ${TENANTS_KEY}:\n    - name: acme\n`);
    expect(loadStackTenants("ok", root).map((t) => t.name)).toEqual(["acme"]);
  });

  it("names the file, line and column of a YAML syntax error, with the parser's message only", () => {
    writeFileSync(
      path.join(root, "Pulumi.typo.yaml"),
      `config:\n  ${TENANTS_KEY}:\n    - name: acme\n      renditions: [ { name: a, width: 3 }\n    - name: b\n`,
    );
    const [problem, ...more] = problemsOfStack("typo");
    expect(more).toEqual([]);
    expect(problem).toMatch(/Pulumi\.typo\.yaml:5:5: Flow sequence in block collection must be sufficiently indented and end with a \]$/);
  });
});

describe("the functions' reading of TENANT_CONFIG (no schema library at cold start)", () => {
  it("gives back exactly what the schema validated, for every tenant of the dev stack", () => {
    for (const tenant of parseTenants(DEV_TENANTS)) {
      expect(readTenantConfig<TenantConfig>(JSON.stringify(tenant), "TENANT_CONFIG")).toEqual(tenant);
    }
  });

  it("refuses what the deployment did not write, naming the variable and what is missing", () => {
    expect(() => readTenantConfig("{oops", "TENANT_CONFIG")).toThrow(/^TENANT_CONFIG is not JSON/);
    expect(() => readTenantConfig(JSON.stringify({ name: "acme" }), "TENANT_CONFIG")).toThrow(
      "TENANT_CONFIG is not a tenant configuration written by the deployment (missing renditions, metadata, limits, function, queue, storage, onDemand, analysis): deploy the stack again",
    );
  });
});
