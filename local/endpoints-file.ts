/** `.local/endpoints.json`: where scripts (upload, sign, your own) find the running local platform. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { outputConfigHash } from "../contract/tenant-config";
import type { LocalPlatform } from "./platform";

export function localEndpoints(platform: LocalPlatform, consoleUrl?: string) {
  return {
    ...(consoleUrl ? { console: consoleUrl } : {}),
    s3: platform.endpoints.s3,
    sqs: platform.endpoints.sqs,
    dynamodb: platform.endpoints.dynamodb,
    region: platform.endpoints.region,
    tenants: Object.fromEntries(
      [...platform.tenants].map(([name, t]) => [
        name,
        {
          sourceBucket: t.sourceBucket,
          proxyBucket: t.proxyBucket,
          table: t.table,
          queueUrl: t.queueUrl,
          deadLetterQueueUrl: t.deadLetterQueueUrl,
          eventsTopicArn: t.eventsTopicArn,
          configHash: outputConfigHash(t.config),
          ...(t.onDemand ? { onDemandUrl: t.onDemand.url } : {}),
        },
      ]),
    ),
  };
}

export function writeEndpointsFile(dataDir: string, platform: LocalPlatform, consoleUrl?: string): ReturnType<typeof localEndpoints> {
  const endpoints = localEndpoints(platform, consoleUrl);
  writeFileSync(path.join(dataDir, "endpoints.json"), `${JSON.stringify(endpoints, null, 2)}\n`);
  return endpoints;
}
