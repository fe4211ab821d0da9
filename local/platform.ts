/**
 * The platform on one machine: embedded emulators, every tenant's buckets, table, queue and
 * dead-letter queue, S3 notifications published to the tenant's queue, and a poller per tenant that
 * plays Lambda's SQS event source mapping around the very handler the Lambda runs.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CreateBucketCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type CreateTableCommandInput,
  type KeySchemaElement,
} from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import type { DestinationStream, Logger } from "pino";
import { createLogger } from "../runtime/logger";
import { processorEnvironment, rendererEnvironment } from "../contract/environment";
import { METADATA_TABLE, STATUS_INDEX, statusShard } from "../contract/table";
import { clientOptionsFrom, RENDERER_S3_SETTINGS, sdkConfig, type ClientOptions } from "../runtime/clients";
import { documentClient, type Clients } from "../runtime/table-client";
import { createDependencies } from "../runtime/dependencies";
import { s3Notification } from "../runtime/events";
import { createHandler } from "../runtime/handler";
import { tenantResourceNames, type TenantResourceNames } from "../contract/naming";
import type { Outcome } from "../runtime/outcome";
import type { TenantConfig } from "../contract/tenant-config";
import { reviewSettings } from "../contract/tenant-runtime";
import { createVariantService } from "../runtime/on-demand/handler";
import { CloudFrontInvalidator } from "../runtime/on-demand/purge";
import { PURGE_MAX_RECEIVE_COUNT, PURGE_QUEUE_RETENTION_DAYS } from "../contract/timing";
import { startFakeCloudFront, type FakeCloudFront, type FakeCloudFrontOptions } from "./fake-cloudfront";
import { startFakeRekognition, type FakeRekognition } from "./fake-rekognition";
import { RekognitionReviewer } from "../runtime/analysis/rekognition";
import type { VariantService } from "../runtime/on-demand/render-variant";
import { startConditionalWriteProxy, type ConditionalWriteProxy } from "./conditional-writes";
import { startEmulators, type Emulators } from "./emulators";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local-aws";
import { startOnDemandEndpoint, type OnDemandEndpoint } from "./on-demand-endpoint";
import { signingKeysFor, type SigningKeys } from "./signing-keys";
import { QueuePoller } from "./poller";

export interface LocalTenant {
  config: TenantConfig;
  sourceBucket: string;
  proxyBucket: string;
  table: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  /** The tenant's outcome events (docs/events.md). */
  eventsTopicArn: string;
  /** For tenants with on-demand renditions: invalidations owed to their distribution, and where the refused end. */
  purgeQueueUrl?: string;
  purgeDeadLetterQueueUrl?: string;
  /** For tenants with on-demand renditions: the endpoint that plays their CloudFront distribution. */
  onDemand?: LocalOnDemand;
}

interface LocalOnDemand {
  url: string;
  keys: SigningKeys;
  endpoint: OnDemandEndpoint;
  service: VariantService;
  /** The distribution's id at the platform's fake CloudFront (its invalidations are there). */
  distributionId: string;
}

export interface LocalPlatformOptions {
  tenants: TenantConfig[];
  dataDir?: string;
  awsPort?: number;
  dynamoPort?: number;
  /** See EmulatorOptions.tableChangeMs. */
  tableChangeMs?: number;
  stack?: string;
  /** Seconds before a failed message is received again (Lambda: the queue's visibility timeout). */
  visibilityTimeoutSeconds?: number;
  /** Handler log level; the local platform prints its own line per outcome. */
  logLevel?: string;
  /** Where the handlers' JSON log lines (and their EMF metrics) go; stdout by default. */
  logDestination?: DestinationStream;
  onOutcome?: (outcome: Outcome) => void;
  /** Extra environment for the handlers (e.g. exiftool paths or timeouts). */
  extraEnv?: Record<string, string>;
  /** Publish S3 notifications for source-bucket changes (default true; tests that deliver their own turn it off). */
  notifications?: boolean;
  /** Where the handlers' S3 and DynamoDB calls go (e.g. a fault-injecting proxy); the emulators by default. */
  runtimeEndpoints?: { s3?: string; dynamodb?: string; sns?: string };
  /** The handlers' SDK attempts and request timeout. */
  runtimeClientOptions?: ClientOptions;
  /** First port of the on-demand endpoints (one per tenant with onDemand.enabled, in order); 0 picks free ports. */
  onDemandPort?: number;
  /** Signing keys per tenant (npm start keeps them in .local/); fresh ones otherwise. */
  signingKeys?: Record<string, SigningKeys>;
  /** The fake CloudFront's invalidation timing (local/fake-cloudfront.ts); started when a tenant has on-demand renditions. */
  cloudfront?: FakeCloudFrontOptions;
}

export interface LocalPlatform {
  emulators: Emulators;
  clients: LocalClients;
  tenants: Map<string, LocalTenant>;
  /** s3ConditionalWrites: S3 with If-None-Match on PUT (what the on-demand renderers use; see conditional-writes.ts). */
  endpoints: { s3: string; sqs: string; dynamodb: string; region: string; s3ConditionalWrites?: string };
  /** CloudFront's invalidation API on loopback, when a tenant has on-demand renditions. */
  cloudfront?: FakeCloudFront;
  /** Rekognition's image APIs on loopback, when a tenant asks for them (analysis.rekognition). */
  rekognition?: FakeRekognition;
  /** Resolves once every queue is empty and nothing is in flight (`purges: false`: not waiting for purge queues). */
  drain(timeoutMs?: number, options?: { purges?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** A tenant's distribution id at the fake CloudFront: shaped like CloudFront's (E + 13 characters), stable per tenant. */
function localDistributionId(tenant: Pick<TenantConfig, "name">): string {
  return `E${createHash("sha256").update(tenant.name).digest("hex").slice(0, 13).toUpperCase()}`;
}

/**
 * The processing function's environment for a local tenant: the deployed function's
 * (contract/environment.ts), with the local names. `leaseSeconds`, `purgeRetryMaxSeconds` and `purgeDelaySeconds` are
 * set apart when the local queues' visibility timeout is (the deployed rules assume minutes).
 */
export function localProcessorEnvironment(
  tenant: LocalTenant,
  overrides: { leaseSeconds?: number; purgeRetryMaxSeconds?: number; purgeDelaySeconds?: number } = {},
): Record<string, string> {
  return processorEnvironment(
    tenant.config,
    {
      sourceBucket: tenant.sourceBucket,
      proxyBucket: tenant.proxyBucket,
      table: tenant.table,
      distributionId: localDistributionId(tenant.config),
      purgeQueueUrl: tenant.purgeQueueUrl,
      eventsTopicArn: tenant.eventsTopicArn,
    },
    overrides,
  );
}

/** The on-demand renderer's environment for a local tenant, as the deployed renderer's. */
export function localRendererEnvironment(tenant: LocalTenant): Record<string, string> {
  return rendererEnvironment(tenant.config, { sourceBucket: tenant.sourceBucket, proxyBucket: tenant.proxyBucket });
}

/**
 * dynalite's server is Node's own, which closes a keep-alive connection after 5 s idle
 * (`server.keepAliveTimeout`); a client that reuses that connection at the same moment gets
 * ECONNRESET, and a burst of such resets spends the SDK's retry tokens (10 per timeout retry, of
 * 500). The local clients drop idle connections first: 4 s. AWS's endpoints keep them far longer.
 */
const EMULATOR_IDLE_SOCKET_MS = 4_000;

/** A purge CloudFront refused comes back within seconds locally (deployed: up to 15 minutes, contract/timing.ts). */
const LOCAL_PURGE_RETRY_MAX_SECONDS = 2;

/** A local render's purge is not held back past the renderer's timeout (deployed: timing.ts purgeDelaySeconds); the drain's sweep still runs. */
const LOCAL_PURGE_DELAY_SECONDS = 0;

function localRequestHandler(options: ClientOptions) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50, timeout: EMULATOR_IDLE_SOCKET_MS });
  return { ...sdkConfig(options).requestHandler, httpAgent: agent };
}

export type LocalClients = Clients & { sqs: SQSClient; sns: SNSClient };

/** `s3Settings`: the renderer's (clients.ts RENDERER_S3_SETTINGS), as its deployed client has them. */
export function localClients(
  awsEndpoint: string,
  dynamoEndpoint: string,
  options: ClientOptions = clientOptionsFrom({}),
  s3Settings: Partial<typeof RENDERER_S3_SETTINGS> = {},
  /** SNS's endpoint when not the S3 + SQS one (a fault proxy). */
  snsEndpoint = awsEndpoint,
): LocalClients {
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, ...sdkConfig(options) };
  return {
    s3: new S3Client({ ...common, requestHandler: localRequestHandler(options), endpoint: awsEndpoint, forcePathStyle: true, ...s3Settings }),
    dynamo: documentClient(new DynamoDBClient({ ...common, requestHandler: localRequestHandler(options), endpoint: dynamoEndpoint })),
    sqs: new SQSClient({ ...common, requestHandler: localRequestHandler(options), endpoint: awsEndpoint }),
    sns: new SNSClient({ ...common, requestHandler: localRequestHandler(options), endpoint: snsEndpoint }),
  };
}

/** The tenant's table as contract/table.ts defines it (the component creates the same), in CreateTable's terms. */
export function createTableInput(table: string): CreateTableCommandInput {
  const keySchema = (hashKey: string, rangeKey?: string): KeySchemaElement[] => [
    { AttributeName: hashKey, KeyType: "HASH" },
    ...(rangeKey ? [{ AttributeName: rangeKey, KeyType: "RANGE" as const }] : []),
  ];
  return {
    TableName: table,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: METADATA_TABLE.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: keySchema(METADATA_TABLE.hashKey),
    GlobalSecondaryIndexes: METADATA_TABLE.globalSecondaryIndexes.map((index) => ({
      IndexName: index.name,
      KeySchema: keySchema(index.hashKey, index.rangeKey),
      Projection: { ProjectionType: index.projectionType, NonKeyAttributes: index.nonKeyAttributes },
    })),
  };
}

/**
 * CreateTable and DeleteTable return before the change is done (in DynamoDB and in dynalite, whose
 * timers are 0 ms but still run after the response): an item written before the table is ACTIVE
 * fails with ResourceNotFoundException, and a busy machine makes that likely.
 */
async function untilTable(dynamo: DynamoDBDocumentClient, table: string, state: "exists" | "gone"): Promise<void> {
  const waiter = { client: dynamo as unknown as DynamoDBClient, minDelay: 0.05, maxDelay: 1, maxWaitTime: 300 };
  await (state === "exists" ? waitUntilTableExists : waitUntilTableNotExists)(waiter, { TableName: table });
}

async function createTable(dynamo: DynamoDBDocumentClient, table: string): Promise<void> {
  await dynamo.send(new CreateTableCommand(createTableInput(table)));
  await untilTable(dynamo, table, "exists");
}

/**
 * The tenant's table as the component defines it. A table kept in .local/ from before the current
 * status index (none, or the unsharded `byStatus`) is rebuilt with it, items kept and given their
 * index key (dynalite cannot add an index to a table).
 */
async function ensureTable(dynamo: DynamoDBDocumentClient, table: string): Promise<void> {
  let existing;
  try {
    existing = (await dynamo.send(new DescribeTableCommand({ TableName: table }))).Table;
  } catch {
    await createTable(dynamo, table);
    return;
  }
  if (existing?.GlobalSecondaryIndexes?.some((i) => i.IndexName === STATUS_INDEX.name)) return;
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  await dynamo.send(new DeleteTableCommand({ TableName: table }));
  await untilTable(dynamo, table, "gone");
  await createTable(dynamo, table);
  for (let i = 0; i < items.length; i += 25) {
    const batch = items.slice(i, i + 25).map((item) => ({ ...item, ...withStatusShard(item) }));
    await dynamo.send(new BatchWriteCommand({ RequestItems: { [table]: batch.map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

/** An item's status index key, as the store writes it (contract/table.ts); none for an item without a status. */
function withStatusShard(item: Record<string, unknown>): Record<string, string> {
  return typeof item.status === "string" && typeof item.objectKey === "string" ? { [STATUS_INDEX.hashKey]: statusShard(item.status, item.objectKey) } : {};
}

async function provisionTenant(clients: LocalPlatform["clients"], stack: string, config: TenantConfig, visibilityTimeoutSeconds: number): Promise<LocalTenant> {
  const names = tenantResourceNames(stack, config);
  await clients.s3.send(new CreateBucketCommand({ Bucket: names.sourceBucket }));
  await clients.s3.send(new CreateBucketCommand({ Bucket: names.proxyBucket }));
  await ensureTable(clients.dynamo, names.table);
  const dlq = await clients.sqs.send(
    new CreateQueueCommand({ QueueName: names.deadLetterQueue, Attributes: { MessageRetentionPeriod: String(config.queue.dlqRetentionDays * 86_400) } }),
  );
  const dlqArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const queue = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: config.queue.maxReceiveCount }),
      },
    }),
  );
  const purges = config.onDemand.enabled ? await createPurgeQueues(clients.sqs, names, visibilityTimeoutSeconds) : undefined;
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: names.outcomesTopic }));
  return {
    config,
    sourceBucket: names.sourceBucket,
    proxyBucket: names.proxyBucket,
    table: names.table,
    queueUrl: queue.QueueUrl!,
    deadLetterQueueUrl: dlq.QueueUrl!,
    eventsTopicArn: topic.TopicArn!,
    purgeQueueUrl: purges?.queueUrl,
    purgeDeadLetterQueueUrl: purges?.deadLetterQueueUrl,
  };
}

/** The purge queue and its dead-letter queue, as components/purge-queue.ts defines them. */
async function createPurgeQueues(sqs: SQSClient, names: TenantResourceNames, visibilityTimeoutSeconds: number) {
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: names.purgeDeadLetterQueue, Attributes: { MessageRetentionPeriod: String(PURGE_QUEUE_RETENTION_DAYS * 86_400) } }),
  );
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.purgeQueue,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(PURGE_QUEUE_RETENTION_DAYS * 86_400),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: PURGE_MAX_RECEIVE_COUNT }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl!, deadLetterQueueUrl: dlq.QueueUrl! };
}

/**
 * fauxqs sends no S3 notifications, so we publish them: its message spy sees every stored and
 * deleted object, in order, whoever the client was (the upload CLI, `aws s3 cp`, the SDK). The
 * sequencer is taken at that moment, so it orders events of a key as S3's does.
 */
function publishNotifications(platform: Pick<LocalPlatform, "emulators" | "clients" | "tenants">, log: Logger): { restore(): void; pending(): number } {
  const byBucket = new Map([...platform.tenants.values()].map((t) => [t.sourceBucket, t]));
  const spy = platform.emulators.fauxqs.spy as unknown as { addMessage(message: { service: string; bucket?: string; key?: string; status?: string }): void };
  const original = spy.addMessage.bind(spy);
  // Microseconds since the epoch, plus a counter: increasing within a run and across restarts.
  let last = 0n;
  let publishing = 0;
  const nextSequencer = () => {
    const now = BigInt(Date.now()) * 1000n;
    last = now > last ? now : last + 1n;
    return last.toString(16).toUpperCase();
  };
  spy.addMessage = (message) => {
    original(message);
    if (message.service !== "s3" || !message.bucket || message.key === undefined) return;
    const tenant = byBucket.get(message.bucket);
    const eventName =
      message.status === "uploaded" || message.status === "copied"
        ? message.status === "copied"
          ? "ObjectCreated:Copy"
          : "ObjectCreated:Put"
        : message.status === "deleted"
          ? "ObjectRemoved:Delete"
          : undefined;
    if (!tenant || !eventName) return;
    const sequencer = nextSequencer();
    const key = message.key;
    publishing++;
    void (async () => {
      let size = 0;
      let eTag = "";
      if (eventName.startsWith("ObjectCreated")) {
        try {
          const head = await platform.clients.s3.send(new HeadObjectCommand({ Bucket: tenant.sourceBucket, Key: key }));
          size = head.ContentLength ?? 0;
          eTag = (head.ETag ?? "").replace(/"/g, "");
        } catch {
          // Already overwritten or deleted: the later event carries the truth; this one will fail its If-Match.
        }
      }
      const body = s3Notification({ eventName, bucket: tenant.sourceBucket, key, size, eTag, sequencer, region: LOCAL_REGION });
      platform.emulators.fauxqs.sendMessage(tenant.queueUrl.split("/").pop()!, body);
    })()
      .catch((err) => log.error({ err, key }, "could not publish an S3 notification"))
      .finally(() => publishing--);
  };
  return {
    restore: () => {
      spy.addMessage = original;
    },
    pending: () => publishing,
  };
}

export async function startLocalPlatform(options: LocalPlatformOptions): Promise<LocalPlatform> {
  const stack = options.stack ?? "local";
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 10;
  const emulators = await startEmulators({
    dataDir: options.dataDir,
    awsPort: options.awsPort,
    dynamoPort: options.dynamoPort,
    tableChangeMs: options.tableChangeMs,
  });
  const clients = localClients(emulators.awsEndpoint, emulators.dynamoEndpoint);
  const log = createLogger({ LOG_LEVEL: options.logLevel ?? "warn" }, options.logDestination);
  const runtimeClients =
    options.runtimeEndpoints || options.runtimeClientOptions
      ? localClients(
          options.runtimeEndpoints?.s3 ?? emulators.awsEndpoint,
          options.runtimeEndpoints?.dynamodb ?? emulators.dynamoEndpoint,
          options.runtimeClientOptions,
          {},
          options.runtimeEndpoints?.sns,
        )
      : clients;
  const tenants = new Map<string, LocalTenant>();
  const onOutcome = (outcome: Outcome) => options.onOutcome?.(outcome);
  const pollers: QueuePoller[] = [];
  const purgePollers: QueuePoller[] = [];
  const closers: (() => Promise<void>)[] = [];
  let cloudfront: FakeCloudFront | undefined;
  let rekognition: FakeRekognition | undefined;
  let conditionalWrites: ConditionalWriteProxy | undefined;
  let onDemandIndex = 0;
  // The functions' /tmp spool, one per platform and removed when it stops: tests run several
  // platforms at once, and one folder per start left behind filled the machine's /tmp.
  const spoolDir = mkdtempSync(path.join(os.tmpdir(), "tip-spool-"));
  const removeSpool = () => rm(spoolDir, { recursive: true, force: true });
  try {
    for (const config of options.tenants) {
      const tenant = await provisionTenant(clients, stack, config, visibilityTimeoutSeconds);
      tenants.set(config.name, tenant);
      const localEnv = { SPOOL_DIR: spoolDir, ...options.extraEnv };
      let reviewer: RekognitionReviewer | undefined;
      if (reviewSettings(config.analysis)) {
        if (!rekognition) {
          const started = await startFakeRekognition();
          closers.push(() => started.close());
          rekognition = started;
        }
        reviewer = new RekognitionReviewer({
          region: LOCAL_REGION,
          credentials: LOCAL_CREDENTIALS,
          endpoint: rekognition.url,
          ...sdkConfig(options.runtimeClientOptions ?? clientOptionsFrom({})),
        });
      }
      const env = {
        ...process.env,
        // As in production (lease = timeout + 30 s, visibility = 6 x timeout): a retried message
        // comes back after the lease of the attempt that crashed without releasing it.
        ...localProcessorEnvironment(tenant, {
          leaseSeconds: visibilityTimeoutSeconds / 2,
          purgeRetryMaxSeconds: LOCAL_PURGE_RETRY_MAX_SECONDS,
          purgeDelaySeconds: LOCAL_PURGE_DELAY_SECONDS,
        }),
        ...localEnv,
      };
      let invalidator: CloudFrontInvalidator | undefined;
      if (config.onDemand.enabled) {
        if (!cloudfront) {
          const started = await startFakeCloudFront(options.cloudfront);
          closers.push(() => started.close());
          cloudfront = started;
        }
        const distributionId = localDistributionId(config);
        cloudfront.addDistribution(distributionId);
        invalidator = new CloudFrontInvalidator(
          { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: cloudfront.url, ...sdkConfig(clientOptionsFrom({})) },
          distributionId,
        );
        conditionalWrites ??= await startConditionalWriteProxy(emulators.awsEndpoint);
        const service = createVariantService(
          { ...process.env, ...localRendererEnvironment(tenant), ...localEnv },
          { s3: localClients(conditionalWrites.url, emulators.dynamoEndpoint, options.runtimeClientOptions, RENDERER_S3_SETTINGS).s3 },
          log,
        );
        const keys = options.signingKeys?.[config.name] ?? signingKeysFor(config);
        const port = options.onDemandPort ? options.onDemandPort + onDemandIndex++ : 0;
        const endpoint = await startOnDemandEndpoint({ tenant: config, proxyBucket: tenant.proxyBucket, s3: clients.s3, service, keys, port, log });
        closers.push(() => endpoint.close());
        tenant.onDemand = { url: endpoint.url, keys, endpoint, service, distributionId };
      }
      const deps = createDependencies(env, runtimeClients, log, invalidator, reviewer);
      closers.push(() => deps.extractor.close());
      const handler = createHandler(deps, { onOutcome });
      pollers.push(new QueuePoller(clients.sqs, tenant.queueUrl, handler, { batchSize: config.function.batchSize, log }));
      // Lambda's purge mapping takes up to 100 a batch; one ReceiveMessage takes 10.
      if (tenant.purgeQueueUrl) purgePollers.push(new QueuePoller(clients.sqs, tenant.purgeQueueUrl, handler, { batchSize: 10, log }));
    }
    if (conditionalWrites) closers.push(conditionalWrites.close);
  } catch (err) {
    await Promise.all(closers.map((close) => close()));
    await conditionalWrites?.close();
    await emulators.stop();
    await removeSpool();
    throw err;
  }
  const notifications =
    options.notifications === false ? { restore: () => undefined, pending: () => 0 } : publishNotifications({ emulators, clients, tenants }, log);
  pollers.forEach((p) => p.start());
  purgePollers.forEach((p) => p.start());
  return {
    emulators,
    clients,
    tenants,
    cloudfront,
    rekognition,
    endpoints: {
      s3: emulators.awsEndpoint,
      sqs: emulators.awsEndpoint,
      dynamodb: emulators.dynamoEndpoint,
      region: LOCAL_REGION,
      s3ConditionalWrites: conditionalWrites?.url,
    },
    async drain(timeoutMs = 60_000, { purges = true } = {}) {
      const deadline = Date.now() + timeoutMs;
      const drained = purges ? [...pollers, ...purgePollers] : pollers;
      for (;;) {
        const counts = [notifications.pending(), ...(await Promise.all(drained.map((p) => p.pendingCount())))];
        if (counts.every((c) => c === 0)) return;
        if (Date.now() > deadline) throw new Error(`queues not drained after ${timeoutMs} ms (${counts.join(", ")} pending)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      notifications.restore();
      await Promise.all([...pollers, ...purgePollers].map((p) => p.stop()));
      await Promise.all(closers.map((close) => close()));
      await emulators.stop();
      await removeSpool();
    },
  };
}
