/** The test platform with its handlers' S3 and DynamoDB traffic routed through fault proxies. */
import type { ClientOptions } from "../../runtime/clients";
import type { LocalPlatformOptions } from "../../local/platform";
import type { TenantInput } from "../../contract/tenant-config";
import { FaultProxy } from "../../fixtures/fault-proxy";
import { startTestPlatform, type TestPlatform } from "./platform";

export interface FaultyPlatform {
  t: TestPlatform;
  s3: FaultProxy;
  dynamo: FaultProxy;
  stop: () => Promise<void>;
}

export async function startFaultyPlatform(
  tenants: TenantInput[],
  configure: (s3: FaultProxy, dynamo: FaultProxy) => void,
  clientOptions: ClientOptions,
  options: Partial<LocalPlatformOptions> = {},
): Promise<FaultyPlatform> {
  const s3 = new FaultProxy();
  const dynamo = new FaultProxy();
  configure(s3, dynamo);
  const t = await startTestPlatform(tenants, {
    ...options,
    runtimeEndpoints: { s3: await s3.start(), dynamodb: await dynamo.start() },
    runtimeClientOptions: clientOptions,
  });
  // Nothing reaches the proxies before the first upload, so the emulators' ports can be set now.
  s3.upstream = t.platform.endpoints.s3;
  dynamo.upstream = t.platform.endpoints.dynamodb;
  return {
    t,
    s3,
    dynamo,
    stop: async () => {
      await t.stop();
      await s3.stop();
      await dynamo.stop();
    },
  };
}
