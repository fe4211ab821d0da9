/**
 * The Pulumi program: one ExifTool layer per stack, one TenantPipeline per tenant in
 * `Pulumi.<stack>.yaml` (config key `tenant-image-platform:tenants`).
 */
import * as pulumi from "@pulumi/pulumi";
import { parseTenants } from "./runtime/tenant-config";

const config = new pulumi.Config();
// Validated once, with the same schema the Lambda and the local platform use.
export const tenants = parseTenants(config.requireObject<unknown>("tenants")).map((t) => t.name);
