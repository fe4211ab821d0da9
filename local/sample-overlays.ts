/**
 * `npm start` only: an overlay a local tenant's config names but its source bucket lacks gets the
 * sample (local/samples/logo.svg), so that a first start renders instead of failing every object
 * OVERLAY_MISSING. Deployed stacks get nothing of the kind: there a missing overlay fails, naming
 * its key (docs/overlays.md).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { isNotFound } from "../runtime/errors";
import { overlayKeys } from "../runtime/overlays";
import type { LocalPlatform } from "./platform";

const SAMPLE = path.join(__dirname, "samples", "logo.svg");

/**
 * Puts the sample where an overlay is missing; returns the keys it filled, as `s3://bucket/key`.
 * `beforePut` hears of each key first (npm start leaves out the line of its own upload's skip).
 */
export async function seedMissingOverlays(
  platform: Pick<LocalPlatform, "clients" | "tenants">,
  beforePut: (tenant: string, key: string) => void = () => undefined,
): Promise<string[]> {
  const seeded: string[] = [];
  for (const tenant of platform.tenants.values()) {
    for (const key of overlayKeys([...tenant.config.renditions, ...tenant.config.onDemand.presets])) {
      try {
        await platform.clients.s3.send(new HeadObjectCommand({ Bucket: tenant.sourceBucket, Key: key }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        beforePut(tenant.config.name, key);
        await platform.clients.s3.send(
          new PutObjectCommand({ Bucket: tenant.sourceBucket, Key: key, Body: readFileSync(SAMPLE), ContentType: "image/svg+xml" }),
        );
        seeded.push(`s3://${tenant.sourceBucket}/${key}`);
      }
    }
  }
  return seeded;
}
