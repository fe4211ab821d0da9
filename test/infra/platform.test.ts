/**
 * index.ts under Pulumi's mocks with Pulumi.dev.yaml's config: the resource set, names, wiring,
 * hardening and outputs of every tenant pipeline.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../contract/environment";
import { OBJECTS_PER_CONTAINER, parseTenant, parseTenants } from "../../contract/tenant-config";
import { DEV_TENANTS, dryRun, fakeLayerZip, type DryRunResult, type RecordedResource } from "./dry-run";

const devTenants = parseTenants(DEV_TENANTS);
let layerZip: string;
let dev: DryRunResult;

beforeAll(async () => {
  layerZip = await fakeLayerZip();
  dev = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip } });
});

const PER_TENANT_TYPES: Record<string, number> = {
  "platform:index:TenantPipeline": 1,
  "platform:index:TenantBuckets": 1,
  "platform:index:MetadataTable": 1,
  "platform:index:EventQueue": 1,
  "platform:index:ProcessorFunction": 1,
  "platform:index:OutcomeTopic": 1,
  "aws:sns/topic:Topic": 1,
  "aws:sns/topicPolicy:TopicPolicy": 1,
  "aws:s3/bucket:Bucket": 2,
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 2,
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 2,
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 2,
  "aws:s3/bucketPolicy:BucketPolicy": 2,
  "aws:s3/bucketVersioning:BucketVersioning": 1,
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 2,
  "aws:s3/bucketNotification:BucketNotification": 1,
  "aws:dynamodb/table:Table": 1,
  "aws:sqs/queue:Queue": 2,
  "aws:sqs/queuePolicy:QueuePolicy": 1,
  "aws:iam/role:Role": 1,
  "aws:iam/rolePolicy:RolePolicy": 1,
  "aws:cloudwatch/logGroup:LogGroup": 1,
  "aws:lambda/function:Function": 1,
  "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
  "aws:cloudwatch/metricAlarm:MetricAlarm": 3,
};

/** What a tenant with onDemand.enabled adds (components/on-demand.ts, components/purge-queue.ts), with one signing key id. */
const ON_DEMAND_TYPES: Record<string, number> = {
  "platform:index:OnDemandRenditions": 1,
  "platform:index:PurgeQueue": 1,
  "aws:sqs/queue:Queue": 2,
  "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
  "aws:cloudwatch/metricAlarm:MetricAlarm": 2,
  "aws:iam/role:Role": 1,
  "aws:iam/rolePolicy:RolePolicy": 1,
  "aws:cloudwatch/logGroup:LogGroup": 1,
  "aws:lambda/function:Function": 1,
  "aws:lambda/functionUrl:FunctionUrl": 1,
  "aws:lambda/permission:Permission": 2,
  "aws:cloudfront/keyValueStore:KeyValueStore": 1,
  "aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey": 1,
  "random:index/randomBytes:RandomBytes": 1,
  "aws:cloudfront/function:Function": 1,
  "aws:cloudfront/cachePolicy:CachePolicy": 1,
  "aws:cloudfront/originAccessControl:OriginAccessControl": 2,
  "aws:cloudfront/distribution:Distribution": 1,
};
const expectedTypes = (tenant: { onDemand: { enabled: boolean; rateLimit?: unknown }; budget?: unknown }) => {
  const types: Record<string, number> = { ...PER_TENANT_TYPES };
  const add = (more: Record<string, number>) => Object.entries(more).forEach(([type, n]) => (types[type] = (types[type] ?? 0) + n));
  if (tenant.onDemand.enabled) add(ON_DEMAND_TYPES);
  if (tenant.onDemand.enabled && tenant.onDemand.rateLimit) add({ "aws:wafv2/webAcl:WebAcl": 1 });
  if (tenant.budget) add({ "aws:budgets/budget:Budget": 1 });
  return types;
};

const tenantResources = (run: DryRunResult, tenant: string, stack = "dev") =>
  run.resources.filter((r) => r.name.startsWith(`tip-${stack}-${tenant}`) && r.name !== `tip-${stack}-exiftool`);
const countByType = (resources: RecordedResource[]) => resources.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.type]: (acc[r.type] ?? 0) + 1 }), {});

describe("dry run of index.ts with Pulumi.dev.yaml", () => {
  it("creates the complete resource set for every tenant", () => {
    expect(devTenants.length).toBeGreaterThanOrEqual(2);
    expect(devTenants.some((t) => t.onDemand.enabled)).toBe(true);
    for (const tenant of devTenants) expect(countByType(tenantResources(dev, tenant.name)), tenant.name).toEqual(expectedTypes(tenant));
  });

  it("creates the ExifTool layer once and attaches it to every function", () => {
    const layers = dev.byType("aws:lambda/layerVersion:LayerVersion");
    expect(layers).toHaveLength(1);
    expect(layers[0]!.inputs).toMatchObject({ compatibleRuntimes: ["nodejs22.x"], compatibleArchitectures: ["arm64"] });
    expect(layers[0]!.inputs.sourceCodeHash).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const processors = dev.byType("aws:lambda/function:Function").filter((fn) => fn.inputs.handler === "index.handler");
    expect(processors).toHaveLength(devTenants.length);
    for (const fn of processors) expect(fn.inputs.layers).toEqual([dev.outputs.exiftoolLayers.arm64]);
  });

  it("gives every resource a unique name, parented under its component", () => {
    const keys = dev.resources.map((r) => `${r.type}::${r.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    const components = new Set(dev.resources.filter((r) => r.type.startsWith("platform:")).map((r) => r.name));
    for (const r of dev.resources.filter((r) => r.type.startsWith("aws:"))) expect(components.has(r.parentName!), `${r.type} ${r.name}`).toBe(true);
  });

  it("exports every tenant's names and URLs", () => {
    for (const tenant of devTenants) {
      const out = dev.outputs.tenantOutputs[tenant.name];
      expect(out.sourceBucket).toMatch(new RegExp(`^tip-dev-${tenant.name}-source`));
      expect(out.proxyBucket).toMatch(new RegExp(`^tip-dev-${tenant.name}-proxy`));
      expect(out.table).toMatch(/metadata/);
      expect(out.function).toBe(`tip-dev-${tenant.name}-processor`);
      expect(out.queueUrl).toMatch(/^https:\/\/sqs\./);
      expect(out.deadLetterQueueUrl).toMatch(/-dlq/);
    }
  });

  it("never collides with another stack of the same project", async () => {
    const prod = await dryRun({ stack: "prod", tenants: DEV_TENANTS, settings: { layerZip } });
    const devNames = new Set(dev.resources.map((r) => r.name));
    expect(prod.resources.filter((r) => devNames.has(r.name))).toEqual([]);
    const physical = (run: DryRunResult) => Object.values(run.outputs.tenantOutputs).flatMap((o: any) => [o.sourceBucket, o.proxyBucket, o.table, o.function]);
    const devPhysical = new Set(physical(dev));
    expect(physical(prod).filter((n) => devPhysical.has(n))).toEqual([]);
  });
});

describe("adding a tenant", () => {
  it("adds exactly that tenant's resources and changes no other resource's inputs", async () => {
    const grown = await dryRun({ stack: "dev", tenants: [...DEV_TENANTS, { name: "newco" }], settings: { layerZip } });
    const key = (r: RecordedResource) => `${r.type}::${r.name}`;
    const before = new Map(dev.resources.map((r) => [key(r), r]));
    const added = grown.resources.filter((r) => !before.has(key(r)));
    expect(added.every((r) => r.name.startsWith("tip-dev-newco"))).toBe(true);
    expect(countByType(added)).toEqual(PER_TENANT_TYPES);
    expect(grown.resources.filter((r) => before.has(key(r)))).toHaveLength(dev.resources.length);
    // The stack's dashboard gains the new tenant's row; nothing else changes.
    const dashboard = "aws:cloudwatch/dashboard:Dashboard";
    for (const r of grown.resources.filter((r) => before.has(key(r)) && r.type !== dashboard)) {
      expect(JSON.stringify(r.inputs), key(r)).toBe(JSON.stringify(before.get(key(r))!.inputs));
    }
    const titles = (run: DryRunResult) =>
      (JSON.parse(run.byType(dashboard)[0]!.inputs.dashboardBody) as { widgets: { properties: { title: string } }[] }).widgets.map((w) => w.properties.title);
    expect(
      titles(grown)
        .filter((t) => !titles(dev).includes(t))
        .every((t) => t.startsWith("newco:")),
    ).toBe(true);
    expect(titles(grown).length).toBeGreaterThan(titles(dev).length);
  });
});

describe("hardening", () => {
  const tenant = "acme";
  const res = (type: string, suffix: string) => dev.one(type, `tip-dev-${tenant}-${suffix}`);

  it("blocks public access, enforces bucket ownership, encrypts and requires TLS on both buckets", () => {
    for (const bucket of ["source", "proxy"]) {
      expect(res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", `${bucket}-public-access`).inputs).toMatchObject({
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
      expect(res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", `${bucket}-ownership`).inputs.rule).toEqual({
        objectOwnership: "BucketOwnerEnforced",
      });
      expect(
        res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", `${bucket}-encryption`).inputs.rules[0]
          .applyServerSideEncryptionByDefault,
      ).toEqual({
        sseAlgorithm: "AES256",
      });
      const policy = JSON.parse(res("aws:s3/bucketPolicy:BucketPolicy", `${bucket}-tls-only`).inputs.policy);
      expect(policy.Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
      expect(policy.Statement[0].Resource).toEqual([`arn:aws:s3:::tip-dev-${tenant}-${bucket}-abcdef1`, `arn:aws:s3:::tip-dev-${tenant}-${bucket}-abcdef1/*`]);
    }
  });

  it("versions the source bucket and cleans up multipart uploads; proxy expiry only where configured", () => {
    expect(res("aws:s3/bucketVersioning:BucketVersioning", "source-versioning").inputs.versioningConfiguration).toEqual({ status: "Enabled" });
    const proxyRule = res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "proxy-lifecycle").inputs.rules[0];
    expect(proxyRule.abortIncompleteMultipartUpload).toEqual({ daysAfterInitiation: 1 });
    expect(proxyRule.expiration).toBeUndefined();
    const initech = dev.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "tip-dev-initech-proxy-lifecycle").inputs.rules[0];
    expect(initech.expiration).toEqual({ days: 90 });
  });

  it("makes the table on-demand, point-in-time recoverable, deletion-protected, with tombstone TTL", () => {
    const table = res("aws:dynamodb/table:Table", "metadata");
    expect(table.inputs).toMatchObject({
      billingMode: "PAY_PER_REQUEST",
      hashKey: "objectKey",
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: true,
      ttl: { attributeName: "expiresAt", enabled: true },
    });
    expect(table.retainOnDelete).toBe(true);
    // Failures by status and time: queries on this index (runtime/store.ts listByStatus), not a
    // scan; its partition is the status with one of 10 shards, not the status alone (one partition
    // per status takes 1,000 writes a second: docs/operating.md).
    expect(table.inputs.globalSecondaryIndexes).toEqual([
      {
        name: "byStatusShard",
        hashKey: "statusShard",
        rangeKey: "updatedAt",
        projectionType: "INCLUDE",
        nonKeyAttributes: ["status", "error", "size", "format", "eventName", "etag"],
      },
    ]);
    expect(table.inputs.attributes).toEqual([
      { name: "objectKey", type: "S" },
      { name: "statusShard", type: "S" },
      { name: "updatedAt", type: "S" },
    ]);
  });

  it("retains the source bucket when a tenant leaves the stack; the proxy bucket is rebuildable", () => {
    expect(res("aws:s3/bucket:Bucket", "source")).toMatchObject({ retainOnDelete: true, inputs: { forceDestroy: false } });
    expect(res("aws:s3/bucket:Bucket", "proxy")).toMatchObject({ inputs: { forceDestroy: true } });
    expect(res("aws:s3/bucket:Bucket", "proxy").retainOnDelete).toBeFalsy();
  });

  it("lets a stack turn data protection off explicitly", async () => {
    const scratch = await dryRun({ stack: "scratch", tenants: [{ name: "tmp" }], settings: { layerZip, protectData: false, sourceVersioning: false } });
    expect(scratch.one("aws:dynamodb/table:Table", "tip-scratch-tmp-metadata")).toMatchObject({ inputs: { deletionProtectionEnabled: false } });
    expect(scratch.one("aws:dynamodb/table:Table", "tip-scratch-tmp-metadata").retainOnDelete).toBeFalsy();
    expect(scratch.one("aws:s3/bucket:Bucket", "tip-scratch-tmp-source").inputs.forceDestroy).toBe(true);
    expect(scratch.one("aws:s3/bucketVersioning:BucketVersioning", "tip-scratch-tmp-source-versioning").inputs.versioningConfiguration.status).toBe(
      "Suspended",
    );
  });
});

describe("wiring", () => {
  for (const name of ["acme", "globex"]) {
    it(`connects ${name}'s bucket notification -> queue -> function, with a dead-letter queue`, () => {
      const tenant = devTenants.find((t) => t.name === name)!;
      const queueArn = `arn:aws:sqs:eu-west-1:123456789012:tip-dev-${name}-events-abcdef1`;
      const dlqArn = `arn:aws:sqs:eu-west-1:123456789012:tip-dev-${name}-events-dlq-abcdef1`;
      const sourceArn = `arn:aws:s3:::tip-dev-${name}-source-abcdef1`;
      const notification = dev.one("aws:s3/bucketNotification:BucketNotification", `tip-dev-${name}-source-events`);
      expect(notification.inputs.bucket).toBe(`tip-dev-${name}-source-abcdef1-id`);
      expect(notification.inputs.queues).toEqual([{ queueArn, events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"] }]);
      const queuePolicy = JSON.parse(dev.one("aws:sqs/queuePolicy:QueuePolicy", `tip-dev-${name}-events-from-s3`).inputs.policy);
      expect(queuePolicy.Statement).toEqual([
        expect.objectContaining({
          Effect: "Allow",
          Principal: { Service: "s3.amazonaws.com" },
          Action: "sqs:SendMessage",
          Resource: queueArn,
          Condition: { ArnEquals: { "aws:SourceArn": sourceArn }, StringEquals: { "aws:SourceAccount": "123456789012" } },
        }),
      ]);
      const queue = dev.one("aws:sqs/queue:Queue", `tip-dev-${name}-events`);
      expect(JSON.parse(queue.inputs.redrivePolicy)).toEqual({ deadLetterTargetArn: dlqArn, maxReceiveCount: tenant.queue.maxReceiveCount });
      expect(queue.inputs.visibilityTimeoutSeconds).toBe(tenant.function.timeoutSeconds * 6);
      const mapping = dev.one("aws:lambda/eventSourceMapping:EventSourceMapping", `tip-dev-${name}-events-to-processor`);
      expect(mapping.inputs).toMatchObject({
        eventSourceArn: queueArn,
        functionName: `arn:aws:lambda:eu-west-1:123456789012:function:tip-dev-${name}-processor`,
        batchSize: tenant.function.batchSize,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: tenant.function.maxConcurrency },
      });
    });
  }

  it("configures each function as the runtime expects", () => {
    for (const tenant of devTenants) {
      const fn = dev.one("aws:lambda/function:Function", `tip-dev-${tenant.name}-processor`);
      expect(fn.inputs).toMatchObject({
        runtime: "nodejs22.x",
        handler: "index.handler",
        architectures: ["arm64"],
        memorySize: tenant.function.memoryMb,
        timeout: tenant.function.timeoutSeconds,
        loggingConfig: { logGroup: `/aws/lambda/tip-dev-${tenant.name}-processor` },
      });
      const env = fn.inputs.environment.variables;
      const onDemandOnly: string[] = [ENV.distributionId, ENV.purgeQueueUrl, ENV.purgeRetryMaxSeconds, ENV.purgeDelaySeconds];
      for (const variable of Object.values(ENV).filter((v) => v !== ENV.forcePathStyle && !onDemandOnly.includes(v)))
        expect(env, variable).toHaveProperty(variable);
      for (const variable of onDemandOnly) expect(env[variable] !== undefined, variable).toBe(tenant.onDemand.enabled);
      expect(parseTenant(JSON.parse(env[ENV.tenantConfig]))).toEqual(tenant);
      expect(env[ENV.sourceBucket]).toBe(dev.outputs.tenantOutputs[tenant.name].sourceBucket);
      expect(env[ENV.proxyBucket]).toBe(dev.outputs.tenantOutputs[tenant.name].proxyBucket);
      expect(env[ENV.tableName]).toBe(dev.outputs.tenantOutputs[tenant.name].table);
      // One spooled copy per object in flight, plus headroom.
      expect(fn.inputs.ephemeralStorage.size).toBeGreaterThanOrEqual(OBJECTS_PER_CONTAINER * (tenant.limits.maxObjectBytes / 1024 / 1024) + 256);
      expect(fn.inputs.ephemeralStorage.size).toBeLessThanOrEqual(10_240);
    }
    expect(dev.one("aws:lambda/function:Function", "tip-dev-globex-processor").inputs.memorySize).toBe(1536);
  });

  it("traces with X-Ray exactly the tenants that opted in (function.tracing), with the IAM it needs", () => {
    const traced = devTenants.filter((t) => t.function.tracing).map((t) => t.name);
    expect(traced).toEqual(["globex"]);
    for (const tenant of devTenants) {
      const fn = dev.one("aws:lambda/function:Function", `tip-dev-${tenant.name}-processor`);
      const on = traced.includes(tenant.name);
      expect(fn.inputs.tracingConfig, tenant.name).toEqual({ mode: on ? "Active" : "PassThrough" });
      // The runtime turns its subsegments on from the same config the function receives.
      expect(parseTenant(JSON.parse(fn.inputs.environment.variables[ENV.tenantConfig])).function.tracing).toBe(on);
      const policy = JSON.parse(dev.one("aws:iam/rolePolicy:RolePolicy", `tip-dev-${tenant.name}-processor-access`).inputs.policy) as {
        Statement: { Sid: string }[];
      };
      const writeTraces = policy.Statement.filter((st) => st.Sid === "WriteTraces");
      expect(writeTraces, tenant.name).toEqual(
        on ? [{ Sid: "WriteTraces", Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" }] : [],
      );
    }
  });

  it("keeps logs for the tenant's retention and alarms on the DLQ, errors and queue age (and owed CDN purges, for on-demand)", () => {
    expect(dev.one("aws:cloudwatch/logGroup:LogGroup", "tip-dev-acme-processor-logs").inputs.retentionInDays).toBe(30);
    const alarms = (tenant: string) =>
      dev
        .byType("aws:cloudwatch/metricAlarm:MetricAlarm")
        .filter((a) => a.name.startsWith(`tip-dev-${tenant}-`))
        .map((a) => [a.inputs.namespace, a.inputs.metricName, Object.values(a.inputs.dimensions)[0]])
        .sort();
    const pipeline = (tenant: string) => [
      ["AWS/Lambda", "Errors", `tip-dev-${tenant}-processor`],
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", `tip-dev-${tenant}-events-abcdef1`],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", `tip-dev-${tenant}-events-dlq-abcdef1`],
    ];
    expect(devTenants.find((t) => t.name === "acme")?.onDemand.enabled).toBe(true);
    expect(alarms("acme")).toEqual(
      [
        ...pipeline("acme"),
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "tip-dev-acme-purges-abcdef1"],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "tip-dev-acme-purges-dlq-abcdef1"],
      ].sort(),
    );
    const plain = devTenants.find((t) => !t.onDemand.enabled)!;
    expect(alarms(plain.name)).toEqual(pipeline(plain.name).sort());
  });

  it("drains an on-demand tenant's purge queue into the processor within CloudFront's limits", () => {
    const mapping = dev.one("aws:lambda/eventSourceMapping:EventSourceMapping", "tip-dev-acme-purges-to-processor").inputs;
    expect(mapping).toMatchObject({ functionResponseTypes: ["ReportBatchItemFailures"], scalingConfig: { maximumConcurrency: 2 } });
    // Lambda: batches above 10 need a window of at least 1 s; at most 10,000 and 300 s.
    expect(mapping.batchSize).toBeLessThanOrEqual(10_000);
    expect(mapping.maximumBatchingWindowInSeconds).toBeGreaterThanOrEqual(mapping.batchSize > 10 ? 1 : 0);
    expect(mapping.maximumBatchingWindowInSeconds).toBeLessThanOrEqual(300);
    const queue = dev.one("aws:sqs/queue:Queue", "tip-dev-acme-purges").inputs;
    expect(JSON.parse(queue.redrivePolicy).maxReceiveCount).toBeLessThanOrEqual(1_000);
    expect(queue.messageRetentionSeconds).toBeLessThanOrEqual(1_209_600);
    // Lambda refuses an SQS mapping whose queue's visibility timeout is below the function's timeout.
    const fn = dev.one("aws:lambda/function:Function", "tip-dev-acme-processor").inputs;
    expect(queue.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(fn.timeout);
    expect(fn.environment.variables[ENV.purgeQueueUrl]).toMatch(/tip-dev-acme-purges/);
  });
});

describe("cost bounds per tenant", () => {
  it("gives a tenant with `budget` a monthly AWS Budget on its cost allocation tag, e-mailing at each threshold", () => {
    const withBudget = devTenants.filter((t) => t.budget);
    expect(withBudget.map((t) => t.name)).toEqual(["acme"]);
    const budget = dev.one("aws:budgets/budget:Budget", "tip-dev-acme-budget").inputs;
    expect(budget).toMatchObject({
      name: "tip-dev-acme",
      budgetType: "COST",
      timeUnit: "MONTHLY",
      limitAmount: "200.00",
      limitUnit: "USD",
      costFilters: [{ name: "TagKeyValue", values: ["user:tenant$acme"] }],
    });
    expect(budget.notifications).toEqual(
      [80, 100].map((threshold) => ({
        comparisonOperator: "GREATER_THAN",
        notificationType: "ACTUAL",
        threshold,
        thresholdType: "PERCENTAGE",
        subscriberEmailAddresses: ["platform-team@example.com"],
      })),
    );
    expect(dev.byType("aws:budgets/budget:Budget")).toHaveLength(withBudget.length);
  });
});

describe("configuration errors", () => {
  it("names the tenant and the field", async () => {
    await expect(
      dryRun({ stack: "dev", tenants: [{ name: "acme", renditions: [{ name: "t", width: 10, format: "gif" }] }], settings: { layerZip } }),
    ).rejects.toThrow(/tenant "acme": renditions\[0\]\.format/);
  });

  it("names the build command when the layer zip is missing", async () => {
    await expect(dryRun({ stack: "dev", tenants: [{ name: "acme" }], settings: { layerZip: "/nonexistent/exiftool-layer-arm64.zip" } })).rejects.toThrow(
      /npm run build:layer/,
    );
  });
});
