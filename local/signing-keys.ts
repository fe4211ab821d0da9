/**
 * The local platform's on-demand signing keys: made once per tenant and key id, kept in
 * `.local/signing-keys.json` so URLs signed by `npm run sign` work across restarts. (Deployed
 * stacks keep theirs in Pulumi: stack config secrets or generated, see components/on-demand.ts.)
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TenantConfig } from "../contract/tenant-config";

export interface SigningKeys {
  /** The key id new URLs are signed with: the last of the tenant's signingKeyIds. */
  signingKeyId: string;
  /** Every active key id and its secret. */
  keys: Record<string, string>;
}

const newSecret = () => randomBytes(32).toString("hex");

export function signingKeysFor(tenant: TenantConfig, existing: Record<string, string> = {}): SigningKeys {
  const ids = tenant.onDemand.signingKeyIds;
  return { signingKeyId: ids[ids.length - 1]!, keys: Object.fromEntries(ids.map((id) => [id, existing[id] ?? newSecret()])) };
}

export function loadOrCreateSigningKeys(dataDir: string, tenants: TenantConfig[]): Record<string, SigningKeys> {
  const file = path.join(dataDir, "signing-keys.json");
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, SigningKeys>) : {};
  const keys = Object.fromEntries(tenants.filter((t) => t.onDemand.enabled).map((t) => [t.name, signingKeysFor(t, stored[t.name]?.keys)]));
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}
