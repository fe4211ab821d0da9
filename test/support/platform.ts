/** The local platform on free ports, in memory, with helpers to upload and inspect results. */
import { DeleteObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { s3Notification } from "../../runtime/events";
import { uploadObject } from "../../local/upload";
import { startLocalPlatform, type LocalPlatform, type LocalPlatformOptions } from "../../local/platform";
import type { Outcome } from "../../runtime/outcome";
import { MetadataStore, type ObjectItem } from "../../runtime/store";
import { parseTenants, type TenantInput } from "../../contract/tenant-config";

export interface TestPlatform {
  platform: LocalPlatform;
  outcomes: Outcome[];
  upload(tenant: string, key: string, body: Buffer, contentType?: string): Promise<string>;
  remove(tenant: string, key: string): Promise<void>;
  item(tenant: string, key: string): Promise<ObjectItem | undefined>;
  proxyObject(tenant: string, key: string): Promise<Buffer | undefined>;
  deadLetters(tenant: string): Promise<string[]>;
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestPlatform(tenants: TenantInput[], options: Partial<LocalPlatformOptions> = {}): Promise<TestPlatform> {
  const outcomes: Outcome[] = [];
  const platform = await startLocalPlatform({
    tenants: parseTenants(tenants),
    visibilityTimeoutSeconds: 1,
    logLevel: process.env.TEST_LOG_LEVEL ?? "silent",
    onOutcome: (o) => outcomes.push(o),
    ...options,
  });
  const tenant = (name: string) => {
    const t = platform.tenants.get(name);
    if (!t) throw new Error(`no tenant ${name}`);
    return t;
  };
  const { s3, dynamo, sqs } = platform.clients;
  return {
    platform,
    outcomes,
    upload: (name, key, body, contentType) => uploadObject(s3, tenant(name).sourceBucket, key, body, contentType),
    async remove(name, key) {
      await s3.send(new DeleteObjectCommand({ Bucket: tenant(name).sourceBucket, Key: key }));
    },
    item: (name, key) => new MetadataStore(dynamo, tenant(name).table).get(key),
    async proxyObject(name, key) {
      try {
        const result = await s3.send(new GetObjectCommand({ Bucket: tenant(name).proxyBucket, Key: key }));
        return Buffer.from(await result.Body!.transformToByteArray());
      } catch (err) {
        if ((err as Error).name === "NoSuchKey") return undefined;
        throw err;
      }
    },
    async deadLetters(name) {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: tenant(name).deadLetterQueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
      return (received.Messages ?? []).map((m) => m.Body ?? "");
    },
    drain: () => platform.drain(90_000),
    stop: () => platform.stop(),
  };
}

/** S3-shaped notification, for tests that deliver events themselves (duplicates, reordering). */
export function notification(bucket: string, key: string, eventName: string, sequencer: string, eTag = "", size = 0): string {
  return s3Notification({ bucket, key, eventName, sequencer, eTag, size });
}

/** Puts one notification on a tenant's queue, as S3 would. */
export function deliver(t: TestPlatform, tenant: string, body: string): void {
  const queueName = t.platform.tenants.get(tenant)!.queueUrl.split("/").pop()!;
  t.platform.emulators.fauxqs.sendMessage(queueName, body);
}

export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}
