/**
 * Evaluating the Pulumi program loads only what deploying needs: the components read the contract,
 * never the runtime's clients, so a preview does not load sharp, exiftool, libheif or the SDK
 * clients the functions use. (Its own file: a worker that ran anything else would have them loaded.)
 */
import { expect, it } from "vitest";
import { DEV_TENANTS, dryRun, fakeLayerZip } from "./dry-run";

const RUNTIME_ONLY =
  /node_modules\/(sharp|@img|exiftool-vendored|libheif-js|pino|aws-xray-sdk-core|@aws-sdk\/(client-cloudfront|client-s3|client-dynamodb|lib-dynamodb))\//;

it("evaluating index.ts loads no runtime library: no sharp, exiftool, libheif, logger or AWS SDK client", async () => {
  const loaded = () => Object.keys(require.cache).filter((file) => RUNTIME_ONLY.test(file));
  expect(loaded()).toEqual([]);
  const run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip: await fakeLayerZip() } });
  expect(run.byType("aws:lambda/function:Function").length).toBeGreaterThan(3);
  expect(loaded()).toEqual([]);
});
