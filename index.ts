/**
 * The Pulumi program: one ExifTool layer per architecture in use, one TenantPipeline per tenant in
 * `Pulumi.<stack>.yaml` (config key `tenant-image-platform:tenants`), and per-tenant outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { accountQuotaCheck } from "./components/account-quotas";
import { PlatformDashboard } from "./components/dashboard";
import { ExiftoolLayer } from "./components/exiftool-layer";
import { buildFunctionArchive, type FunctionArchive, type LambdaArchitecture } from "./components/function-code";
import { parseStackSettings } from "./contract/stack-settings";
import { tagTaggable } from "./components/tags";
import { TenantPipeline } from "./components/tenant-pipeline";
import { tenantResourceNames } from "./contract/naming";
import { outputConfigHash, parseTenants } from "./contract/tenant-config";

const config = new pulumi.Config();
const stack = pulumi.getStack();
// Validated once, with the same schema the Lambda and the local platform use.
const tenants = parseTenants(config.requireObject<unknown>("tenants"));
const settings = parseStackSettings((key) => {
  const raw = config.get(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown; // booleans and numbers
  } catch {
    return raw; // plain strings (paths, ARNs)
  }
});

// Every taggable resource carries the stack's tags and `stack`; a tenant's carry `tenant` too (cost per tenant).
const stackTags = { ...settings.tags, stack };
const tagged = (tags: Record<string, string>) => ({ transformations: [tagTaggable(tags)] });

// On-demand URL signing secrets, `{ "<tenant>": { "<key id>": "<secret>" } }` (pulumi config set --secret
// --path). Unset: each key is generated once and kept in the stack's state.
const signingSecrets = config.getSecretObject<Record<string, Record<string, string>>>("signingKeys");

const architectures = [...new Set(tenants.map((t) => t.function.architecture))].sort() as LambdaArchitecture[];
const layers = new Map<LambdaArchitecture, ExiftoolLayer>();
for (const architecture of architectures) {
  // The default architecture's layer keeps the plain name; only a second one gets a suffix.
  const name = architecture === "arm64" ? `${settings.namePrefix}-${stack}-exiftool` : `${settings.namePrefix}-${stack}-exiftool-${architecture}`;
  layers.set(architecture, new ExiftoolLayer(name, { architecture, zipPath: architectures.length === 1 ? settings.layerZip : undefined }, tagged(stackTags)));
}

const archives = new Map<LambdaArchitecture, Promise<FunctionArchive>>(architectures.map((a) => [a, buildFunctionArchive(a, "processor")]));
// The renderer's archive only for architectures that a tenant with on-demand renditions runs.
const rendererArchitectures = new Set(tenants.filter((t) => t.onDemand.enabled).map((t) => t.function.architecture));
const rendererArchives = new Map<LambdaArchitecture, Promise<FunctionArchive>>([...rendererArchitectures].map((a) => [a, buildFunctionArchive(a, "renderer")]));

const pipelines = new Map<string, TenantPipeline>();
export const tenantOutputs = Object.fromEntries(
  tenants.map((tenant) => {
    const names = tenantResourceNames(stack, tenant, settings.namePrefix);
    const architecture = tenant.function.architecture;
    const pipeline = new TenantPipeline(
      names.base,
      {
        tenant,
        code: archives.get(architecture)!,
        rendererCode: rendererArchives.get(architecture),
        layerArn: layers.get(architecture)!.arn,
        protectData: settings.protectData,
        sourceVersioning: settings.sourceVersioning,
        alarmTopicArn: settings.alarmTopicArn,
        queueAgeAlarmSeconds: settings.queueAgeAlarmSeconds,
        signingSecrets: signingSecrets?.apply((all) => all[tenant.name] ?? {}),
      },
      tagged({ ...stackTags, tenant: tenant.name }),
    );
    pipelines.set(tenant.name, pipeline);
    const onDemand = pipeline.onDemand;
    return [
      tenant.name,
      {
        sourceBucket: pipeline.sourceBucketName,
        proxyBucket: pipeline.proxyBucketName,
        table: pipeline.tableName,
        function: pipeline.functionName,
        queueUrl: pipeline.queueUrl,
        deadLetterQueueUrl: pipeline.deadLetterQueueUrl,
        eventsTopicArn: pipeline.eventsTopicArn,
        // What the deployed function stamps on items: `npm run reprocess` skips those that carry it.
        configHash: outputConfigHash(tenant),
        ...(onDemand
          ? {
              onDemand: {
                url: onDemand.url,
                domain: onDemand.domainName,
                distributionId: onDemand.distributionId,
                signingKeyId: onDemand.signingKeyId,
                signingKeys: onDemand.signingKeys,
              },
            }
          : {}),
      },
    ];
  }),
);
const dashboard = new PlatformDashboard(
  `${settings.namePrefix}-${stack}`,
  {
    region: new pulumi.Config("aws").require("region"),
    tenants: tenants.map((tenant) => {
      const pipeline = pipelines.get(tenant.name)!;
      return { name: tenant.name, queueName: pipeline.queue.name, deadLetterQueueName: pipeline.deadLetterQueue.name, functionName: pipeline.functionName };
    }),
  },
  tagged(stackTags),
);
export const dashboardName = dashboard.dashboardName;
export const exiftoolLayers = Object.fromEntries([...layers].map(([arch, layer]) => [arch, layer.arn]));

// The account's quotas, read at preview: a stack that does not fit fails here, not half-way through `pulumi up`.
export const accountQuotas = settings.checkAccountQuotas ? accountQuotaCheck(stack, tenants) : undefined;
