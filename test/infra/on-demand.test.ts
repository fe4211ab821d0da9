/**
 * On-demand renditions under Pulumi's mocks (index.ts with Pulumi.dev.yaml, where acme has them):
 * origins and their access control, failover, the viewer function, cache policy, lifecycle,
 * function URL auth and who may invoke it, the key store, and what each role may do.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { edgeFunctionCode, edgePolicy } from "../../edge/edge";
import { parseTenants } from "../../contract/tenant-config";
import { DEV_TENANTS, ACCOUNT, dryRun, fakeLayerZip, type DryRunResult } from "./dry-run";
import { evaluate, type PolicyDocument } from "./iam-evaluator";

const tenants = parseTenants(DEV_TENANTS);
const withOnDemand = tenants.filter((t) => t.onDemand.enabled).map((t) => t.name);
const without = tenants.filter((t) => !t.onDemand.enabled).map((t) => t.name);
let run: DryRunResult;
let layerZip: string;

beforeAll(async () => {
  layerZip = await fakeLayerZip();
  run = await dryRun({ stack: "dev", tenants: DEV_TENANTS, settings: { layerZip } });
});

const od = (tenant: string) => `tip-dev-${tenant}-od`;
const distributionArn = (tenant: string) => `arn:aws:cloudfront::${ACCOUNT}:distribution/${od(tenant)}-cdn-abcdef1`;
const proxyArn = (tenant: string) => `arn:aws:s3:::tip-dev-${tenant}-proxy-abcdef1`;
const sourceArn = (tenant: string) => `arn:aws:s3:::tip-dev-${tenant}-source-abcdef1`;
/** Pulumi's mocks see a secret input as its signature key and value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const secretValue = (input: unknown): unknown => {
  const wrapped = input as Record<string, unknown> | undefined;
  if (!wrapped || typeof wrapped !== "object" || !(SECRET_SIG in wrapped)) throw new Error(`not a secret: ${JSON.stringify(input)}`);
  return wrapped.value;
};

describe("Pulumi.dev.yaml", () => {
  it("enables on-demand renditions for at least one tenant, and not for all", () => {
    expect(withOnDemand.length).toBeGreaterThanOrEqual(1);
    expect(without.length).toBeGreaterThanOrEqual(1);
  });
});

describe.each(withOnDemand)("tenant %s's distribution", (tenant) => {
  const distribution = () => run.one("aws:cloudfront/distribution:Distribution", `${od(tenant)}-cdn`).inputs;
  const config = () => tenants.find((t) => t.name === tenant)!;

  it("reaches both origins through Origin Access Control: the private proxy bucket, then the function URL", () => {
    const s3Oac = run.one("aws:cloudfront/originAccessControl:OriginAccessControl", `${od(tenant)}-s3-oac`).inputs;
    const fnOac = run.one("aws:cloudfront/originAccessControl:OriginAccessControl", `${od(tenant)}-fn-oac`).inputs;
    expect(s3Oac).toMatchObject({ originAccessControlOriginType: "s3", signingBehavior: "always", signingProtocol: "sigv4" });
    expect(fnOac).toMatchObject({ originAccessControlOriginType: "lambda", signingBehavior: "always", signingProtocol: "sigv4" });
    const [stored, renderer] = distribution().origins;
    expect(stored).toMatchObject({
      domainName: `tip-dev-${tenant}-proxy-abcdef1.s3.eu-west-1.amazonaws.com`,
      originAccessControlId: `${od(tenant)}-s3-oac-abcdef1-id`,
      s3OriginConfig: { originAccessIdentity: "" },
    });
    expect(renderer).toMatchObject({
      domainName: `${od(tenant)}-url-abcdef1.lambda-url.eu-west-1.on.aws`,
      originAccessControlId: `${od(tenant)}-fn-oac-abcdef1-id`,
      customOriginConfig: { originProtocolPolicy: "https-only", httpsPort: 443 },
    });
  });

  it("fails over from the bucket to the renderer on 403 and 404, and serves HTTPS only", () => {
    const inputs = distribution();
    const [group] = inputs.originGroups;
    expect(group.failoverCriteria.statusCodes.sort()).toEqual([403, 404]);
    expect(group.members.map((m: { originId: string }) => m.originId)).toEqual(inputs.origins.map((o: { originId: string }) => o.originId));
    expect(inputs.defaultCacheBehavior).toMatchObject({ targetOriginId: group.originId, viewerProtocolPolicy: "https-only", allowedMethods: ["GET", "HEAD"] });
    expect(inputs.orderedCacheBehaviors ?? []).toEqual([]);
  });

  it("runs the signature-checking function on every viewer request (and response), with the tenant's policy and key store", () => {
    const fn = run.one("aws:cloudfront/function:Function", `${od(tenant)}-viewer`).inputs;
    expect(fn).toMatchObject({
      runtime: "cloudfront-js-2.0",
      publish: true,
      keyValueStoreAssociations: [`arn:aws:cloudfront::${ACCOUNT}:key-value-store/${od(tenant)}-keys-abcdef1`],
    });
    expect(fn.code).toBe(edgeFunctionCode(edgePolicy(config())));
    const fnArn = `arn:aws:cloudfront::${ACCOUNT}:function/${od(tenant)}-viewer-abcdef1`;
    expect(distribution().defaultCacheBehavior.functionAssociations).toEqual([
      { eventType: "viewer-request", functionArn: fnArn },
      { eventType: "viewer-response", functionArn: fnArn },
    ]);
  });

  it("keys the cache on the path alone (no query string, header or cookie), for at most maxAgeDays", () => {
    const policy = run.one("aws:cloudfront/cachePolicy:CachePolicy", `${od(tenant)}-cache`).inputs;
    const maxAge = config().onDemand.maxAgeDays * 86_400;
    expect(maxAge).toBe(1_209_600);
    expect(policy).toMatchObject({ minTtl: 0, defaultTtl: maxAge, maxTtl: maxAge });
    expect(policy.parametersInCacheKeyAndForwardedToOrigin).toMatchObject({
      queryStringsConfig: { queryStringBehavior: "none" },
      headersConfig: { headerBehavior: "none" },
      cookiesConfig: { cookieBehavior: "none" },
    });
    expect(distribution().defaultCacheBehavior.cachePolicyId).toBe(`${od(tenant)}-cache-abcdef1-id`);
  });

  it("expires generated variants from the proxy bucket after maxAgeDays", () => {
    const rules = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `tip-dev-${tenant}-proxy-lifecycle`).inputs.rules;
    expect(rules).toContainEqual({
      id: "expire-generated-variants",
      status: "Enabled",
      filter: { prefix: "_variants/" },
      expiration: { days: config().onDemand.maxAgeDays },
    });
  });

  it("lets only this distribution read the bucket's variants, over TLS", () => {
    const policy = JSON.parse(run.one("aws:s3/bucketPolicy:BucketPolicy", `tip-dev-${tenant}-proxy-tls-only`).inputs.policy);
    expect(policy.Statement).toEqual([
      expect.objectContaining({ Sid: "DenyInsecureTransport", Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      {
        Sid: "CloudFrontReadsGeneratedVariants",
        Effect: "Allow",
        Principal: { Service: "cloudfront.amazonaws.com" },
        Action: "s3:GetObject",
        Resource: `${proxyArn(tenant)}/_variants/*`,
        Condition: { StringEquals: { "AWS:SourceArn": distributionArn(tenant) } },
      },
    ]);
    // One policy per bucket: the TLS-only one is not created beside it.
    expect(run.resources.filter((r) => r.type === "aws:s3/bucketPolicy:BucketPolicy" && r.inputs.bucket === `tip-dev-${tenant}-proxy-abcdef1-id`)).toHaveLength(
      1,
    );
  });

  it("protects the function URL with IAM and lets only this distribution invoke it, streaming its responses", () => {
    expect(run.one("aws:lambda/functionUrl:FunctionUrl", `${od(tenant)}-url`).inputs).toMatchObject({
      authorizationType: "AWS_IAM",
      invokeMode: "RESPONSE_STREAM",
      functionName: `${od(tenant)}-renderer`,
    });
    const permissions = run.byType("aws:lambda/permission:Permission").filter((p) => p.name.startsWith(od(tenant)));
    expect(permissions.map((p) => p.inputs).sort((a, b) => a.action.localeCompare(b.action))).toEqual([
      {
        action: "lambda:InvokeFunction",
        function: `${od(tenant)}-renderer`,
        principal: "cloudfront.amazonaws.com",
        sourceArn: distributionArn(tenant),
        invokedViaFunctionUrl: true,
      },
      {
        action: "lambda:InvokeFunctionUrl",
        function: `${od(tenant)}-renderer`,
        principal: "cloudfront.amazonaws.com",
        sourceArn: distributionArn(tenant),
        functionUrlAuthType: "AWS_IAM",
      },
    ]);
    const fn = run.one("aws:lambda/function:Function", `${od(tenant)}-renderer`).inputs;
    expect(fn).toMatchObject({
      handler: "index.onDemandHandler",
      runtime: "nodejs22.x",
      architectures: ["arm64"],
    });
    // No reservation unless the tenant asks: a new account's pool may not allow one (docs/on-demand.md).
    expect(config().onDemand.reservedConcurrency).toBeUndefined();
    expect(fn.reservedConcurrentExecutions).toBeUndefined();
    expect(fn.layers).toBeUndefined();
  });

  it("stores a generated signing key per key id in the key store, and exports them as secrets with the URL", () => {
    const entries = run.byType("aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey").filter((e) => e.name.startsWith(od(tenant)));
    expect(entries.map((e) => e.inputs.key)).toEqual(config().onDemand.signingKeyIds.map((id) => `key:${id}`));
    for (const entry of entries) expect(secretValue(entry.inputs.value)).toMatch(/^[0-9a-z-]{64}$/);
    const out = run.outputs.tenantOutputs[tenant].onDemand;
    expect(out).toMatchObject({ url: `https://${od(tenant)}-cdn-abcdef1.cloudfront.net`, signingKeyId: "k1" });
    expect(Object.keys(out.signingKeys)).toEqual(["k1"]);
  });

  it("gives the pipeline the distribution to invalidate, and the right to list and invalidate the variants only", () => {
    const processor = run.one("aws:lambda/function:Function", `tip-dev-${tenant}-processor`).inputs;
    expect(processor.environment.variables.DISTRIBUTION_ID).toBe(`${od(tenant)}-cdn-abcdef1-id`);
    const policy = JSON.parse(run.one("aws:iam/rolePolicy:RolePolicy", `tip-dev-${tenant}-processor-access`).inputs.policy) as PolicyDocument;
    expect(evaluate([policy], "cloudfront:CreateInvalidation", distributionArn(tenant))).toBe("Allowed");
    expect(evaluate([policy], "s3:ListBucket", proxyArn(tenant), { "s3:prefix": "_variants/0123abcd/" })).toBe("Allowed");
    expect(evaluate([policy], "s3:ListBucket", proxyArn(tenant), { "s3:prefix": "thumb/" })).toBe("ImplicitlyDenied");
    expect(evaluate([policy], "s3:ListBucket", proxyArn(tenant))).toBe("ImplicitlyDenied");
    expect(evaluate([policy], "cloudfront:CreateInvalidation", `arn:aws:cloudfront::${ACCOUNT}:distribution/other`)).toBe("ImplicitlyDenied");
  });

  it("rate-limits viewers with an AWS WAF web ACL in us-east-1 when the tenant sets rateLimit", () => {
    const config = tenants.find((t) => t.name === tenant)!;
    const acls = run.byType("aws:wafv2/webAcl:WebAcl").filter((a) => a.name.startsWith(`${od(tenant)}-`));
    if (!config.onDemand.rateLimit) return expect(acls).toEqual([]);
    expect(acls).toHaveLength(1);
    const acl = acls[0]!.inputs;
    expect(acl).toMatchObject({ region: "us-east-1", scope: "CLOUDFRONT", defaultAction: { allow: {} } });
    expect(acl.rules).toEqual([
      expect.objectContaining({
        action: { block: {} },
        statement: {
          rateBasedStatement: {
            limit: config.onDemand.rateLimit.requestsPerWindow,
            evaluationWindowSec: config.onDemand.rateLimit.windowSeconds,
            aggregateKeyType: "IP",
          },
        },
      }),
    ]);
    expect(run.one("aws:cloudfront/distribution:Distribution", `${od(tenant)}-cdn`).inputs.webAclId).toMatch(/waf/);
  });

  it("lets the pipeline owe purges to its own purge queue and drain it, and no other", () => {
    const policy = JSON.parse(run.one("aws:iam/rolePolicy:RolePolicy", `tip-dev-${tenant}-processor-access`).inputs.policy) as PolicyDocument;
    const purgeQueue = run.one("aws:sqs/queue:Queue", `tip-dev-${tenant}-purges`);
    const arn = `arn:aws:sqs:eu-west-1:${ACCOUNT}:tip-dev-${tenant}-purges-abcdef1`;
    expect(run.one("aws:lambda/eventSourceMapping:EventSourceMapping", `tip-dev-${tenant}-purges-to-processor`).inputs.eventSourceArn).toBe(arn);
    expect(purgeQueue.name).toBe(`tip-dev-${tenant}-purges`);
    for (const action of ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]) {
      expect(evaluate([policy], action, arn), action).toBe("Allowed");
      expect(evaluate([policy], action, `arn:aws:sqs:eu-west-1:${ACCOUNT}:tip-dev-other-purges-abcdef1`), action).toBe("ImplicitlyDenied");
    }
    expect(evaluate([policy], "sqs:SendMessage", `arn:aws:sqs:eu-west-1:${ACCOUNT}:tip-dev-${tenant}-events-abcdef1`)).toBe("ImplicitlyDenied");
  });
});

describe.each(withOnDemand)("tenant %s's renderer role", (tenant) => {
  const policy = () => JSON.parse(run.one("aws:iam/rolePolicy:RolePolicy", `${od(tenant)}-access`).inputs.policy) as PolicyDocument;

  it("reads its tenant's sources and its sidecars, and reads and writes only the variants of its proxy bucket", () => {
    expect(evaluate([policy()], "s3:GetObject", `${sourceArn(tenant)}/photos/a.jpg`)).toBe("Allowed");
    // A sidecar's head: the focus its cover crops keep, and a quarantine (runtime/on-demand/render-variant.ts).
    expect(evaluate([policy()], "s3:GetObject", `${proxyArn(tenant)}/metadata/photos/a.jpg.json`)).toBe("Allowed");
    expect(evaluate([policy()], "s3:GetObject", `${proxyArn(tenant)}/metadata.long/${"0".repeat(64)}.json`)).toBe("Allowed");
    expect(evaluate([policy()], "s3:GetObject", `${proxyArn(tenant)}/thumb/photos/a.jpg.webp`)).toBe("ImplicitlyDenied");
    expect(evaluate([policy()], "s3:ListBucket", sourceArn(tenant))).toBe("Allowed");
    expect(evaluate([policy()], "s3:PutObject", `${proxyArn(tenant)}/_variants/0123/w320.webp/photos/a.jpg`)).toBe("Allowed");
    expect(evaluate([policy()], "s3:GetObject", `${proxyArn(tenant)}/_variants/0123/w320.webp/photos/a.jpg`)).toBe("Allowed");
    for (const denied of [
      ["s3:PutObject", `${proxyArn(tenant)}/thumb/photos/a.jpg.webp`],
      ["s3:PutObject", `${proxyArn(tenant)}/metadata/photos/a.jpg.json`],
      ["s3:PutObject", `${sourceArn(tenant)}/photos/a.jpg`],
      ["s3:DeleteObject", `${sourceArn(tenant)}/photos/a.jpg`],
      ["dynamodb:GetItem", `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/tip-dev-${tenant}-metadata-abcdef1`],
      ["cloudfront:CreateInvalidation", distributionArn(tenant)],
    ]) {
      expect(evaluate([policy()], denied[0]!, denied[1]!), denied.join(" ")).toBe("ImplicitlyDenied");
    }
  });

  it.each(tenants.map((t) => t.name).filter((other) => other !== tenant))("is denied everything on %s's buckets", (other) => {
    for (const action of ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]) {
      for (const resource of [sourceArn(other), `${sourceArn(other)}/photos/a.jpg`, proxyArn(other), `${proxyArn(other)}/_variants/0123/w320.webp/a.jpg`]) {
        expect(evaluate([policy()], action, resource), `${action} ${resource}`).toBe("ImplicitlyDenied");
      }
    }
  });
});

describe("a cap on variants per source", () => {
  it("lets the renderer list its variants prefix only when the tenant sets maxVariantsPerSource", async () => {
    const capped = await dryRun({
      stack: "dev",
      tenants: [
        { name: "capped", onDemand: { enabled: true, maxVariantsPerSource: 20 } },
        { name: "open", onDemand: { enabled: true } },
      ],
      settings: { layerZip: await fakeLayerZip() },
    });
    const policyOf = (name: string) => JSON.parse(capped.one("aws:iam/rolePolicy:RolePolicy", `tip-dev-${name}-od-access`).inputs.policy) as PolicyDocument;
    const proxy = (name: string) => `arn:aws:s3:::tip-dev-${name}-proxy-abcdef1`;
    expect(evaluate([policyOf("capped")], "s3:ListBucket", proxy("capped"), { "s3:prefix": "_variants/0123/" })).toBe("Allowed");
    expect(evaluate([policyOf("capped")], "s3:ListBucket", proxy("capped"), { "s3:prefix": "thumb/" })).toBe("ImplicitlyDenied");
    expect(evaluate([policyOf("open")], "s3:ListBucket", proxy("open"), { "s3:prefix": "_variants/0123/" })).toBe("ImplicitlyDenied");
  });
});

describe("tenants without on-demand renditions", () => {
  it.each(without)("%s has no distribution, renderer or invalidation right", (tenant) => {
    expect(run.resources.filter((r) => r.name.startsWith(`tip-dev-${tenant}-od`))).toEqual([]);
    const policy = run.one("aws:iam/rolePolicy:RolePolicy", `tip-dev-${tenant}-processor-access`).inputs.policy as string;
    expect(policy).not.toContain("cloudfront");
    expect(run.outputs.tenantOutputs[tenant].onDemand).toBeUndefined();
  });
});

describe("turning on-demand renditions on for a tenant", () => {
  it("updates the proxy bucket's one policy in place instead of adding a second", async () => {
    const off = await dryRun({ stack: "dev", tenants: [{ name: "acme" }], settings: { layerZip } });
    const on = await dryRun({ stack: "dev", tenants: [{ name: "acme", onDemand: { enabled: true } }], settings: { layerZip } });
    const policies = (r: DryRunResult) =>
      r
        .byType("aws:s3/bucketPolicy:BucketPolicy")
        .map((p) => `${p.parentName}/${p.name}`)
        .sort();
    expect(policies(on)).toEqual(policies(off));
    const proxyPolicy = (r: DryRunResult) =>
      JSON.parse(r.one("aws:s3/bucketPolicy:BucketPolicy", "tip-dev-acme-proxy-tls-only").inputs.policy).Statement.map((s: { Sid: string }) => s.Sid);
    expect(proxyPolicy(off)).toEqual(["DenyInsecureTransport"]);
    expect(proxyPolicy(on)).toEqual(["DenyInsecureTransport", "CloudFrontReadsGeneratedVariants"]);
  });
});

describe("signing keys from stack config", () => {
  it("puts the configured secrets in the key store instead of generating them", async () => {
    const secret = "c".repeat(64);
    const configured = await dryRun({
      stack: "dev",
      tenants: [{ name: "acme", onDemand: { enabled: true } }],
      settings: { layerZip, signingKeys: { acme: { k1: secret } } },
    });
    expect(configured.byType("random:index/randomBytes:RandomBytes")).toEqual([]);
    expect(configured.one("aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey", "tip-dev-acme-od-key-k1-entry").inputs.value).toSatisfy(
      (v) => secretValue(v) === secret,
    );
  });
});

describe("TLS on the tenant's URLs", () => {
  const certificateArn = `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789`;

  it("says what the default certificate allows: CloudFront uses TLSv1 with *.cloudfront.net whatever is set", () => {
    for (const tenant of withOnDemand) {
      const distribution = run.one("aws:cloudfront/distribution:Distribution", `${od(tenant)}-cdn`).inputs;
      expect(distribution.viewerCertificate).toEqual({ cloudfrontDefaultCertificate: true, minimumProtocolVersion: "TLSv1" });
      expect(distribution.aliases).toBeUndefined();
    }
  });

  it("enforces TLS 1.2 on a tenant's own domain, with its us-east-1 certificate, and signs URLs for that domain", async () => {
    const custom = await dryRun({
      stack: "dev",
      tenants: [{ name: "acme", onDemand: { enabled: true, domain: { name: "img.acme.example", certificateArn } } }],
      settings: { layerZip },
    });
    const distribution = custom.one("aws:cloudfront/distribution:Distribution", "tip-dev-acme-od-cdn").inputs;
    expect(distribution.aliases).toEqual(["img.acme.example"]);
    expect(distribution.viewerCertificate).toEqual({ acmCertificateArn: certificateArn, sslSupportMethod: "sni-only", minimumProtocolVersion: "TLSv1.2_2021" });
    expect(custom.outputs.tenantOutputs.acme.onDemand.url).toBe("https://img.acme.example");
  });

  it("refuses a certificate outside us-east-1, where CloudFront cannot read it", () => {
    const eu = certificateArn.replace("us-east-1", "eu-west-1");
    expect(() => parseTenants([{ name: "acme", onDemand: { enabled: true, domain: { name: "img.acme.example", certificateArn: eu } } }])).toThrow(
      /onDemand\.domain\.certificateArn: must be an ACM certificate ARN in us-east-1/,
    );
  });
});
