import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { rendererEnvironment } from "../contract/environment";
import { SIDECAR_ROOT, VARIANTS_ROOT } from "../contract/naming";
import { edgeFunctionCode, edgePolicy, signingKeyEntry } from "../edge/edge";
import { ephemeralStorageMb, type TenantConfig } from "../contract/tenant-config";
import type { FunctionArchive } from "./function-code";
import { lambdaRole } from "./lambda-role";
import type { TenantBuckets } from "./tenant-buckets";

export interface OnDemandRenditionsArgs {
  /** The tenant's validated settings; `tenant.onDemand` must be enabled. */
  tenant: TenantConfig;
  /** The tenant's buckets: the source is read, the proxy bucket holds the variants and is the primary origin. */
  buckets: TenantBuckets;
  /** The renderer's archive (components/function-code.ts). */
  code: pulumi.Output<FunctionArchive>;
  /**
   * Signing secrets by key id, for every id in `tenant.onDemand.signingKeyIds` (stack config secret
   * `signingKeys`). Default: generated, 32 random bytes per key id, kept in the stack's state.
   */
  signingSecrets?: pulumi.Input<Record<string, string>>;
}

/** Lambda function URLs answer on a host of their own; CloudFront wants it without scheme and path. */
const urlHost = (url: string) => url.replace(/^https:\/\//, "").replace(/\/$/, "");

/**
 * Renditions on request for one tenant: a CloudFront distribution whose viewer-request function
 * checks every request's signature (keys in a KeyValueStore) and normalises the variant, the proxy
 * bucket as primary origin (Origin Access Control, bucket private), and, when the bucket has no
 * such variant yet (403/404), a rendering function behind a function URL (IAM auth through Origin
 * Access Control, response streaming) as the failover origin. Variants expire after maxAgeDays in
 * the bucket and at the edge alike.
 */
export class OnDemandRenditions extends pulumi.ComponentResource {
  public readonly role: aws.iam.Role;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly function: aws.lambda.Function;
  public readonly functionUrl: aws.lambda.FunctionUrl;
  public readonly keyValueStore: aws.cloudfront.KeyValueStore;
  public readonly viewerFunction: aws.cloudfront.Function;
  public readonly cachePolicy: aws.cloudfront.CachePolicy;
  public readonly distribution: aws.cloudfront.Distribution;
  /** With onDemand.rateLimit: the web ACL whose rate-based rule blocks a viewer IP above it. */
  public readonly webAcl?: aws.wafv2.WebAcl;

  public readonly distributionId: pulumi.Output<string>;
  public readonly distributionArn: pulumi.Output<string>;
  public readonly domainName: pulumi.Output<string>;
  public readonly url: pulumi.Output<string>;
  /** The key id new URLs are signed with (the last of signingKeyIds). */
  public readonly signingKeyId: string;
  /** Every active signing key by id: a secret output, for `npm run sign -- --stack`. */
  public readonly signingKeys: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: OnDemandRenditionsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:OnDemandRenditions", name, {}, opts);
    const { tenant, buckets } = args;
    const onDemand = tenant.onDemand;
    if (!onDemand.enabled) throw new Error(`tenant "${tenant.name}": OnDemandRenditions needs onDemand.enabled`);
    const maxAgeSeconds = onDemand.maxAgeDays * 86_400;
    const functionName = `${name}-renderer`;

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: `/aws/lambda/${functionName}`, retentionInDays: tenant.function.logRetentionDays },
      { parent: this },
    );
    this.role = lambdaRole(`${name}-role`, { parent: this });
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-access`,
      {
        role: this.role.id,
        policy: rendererPolicyDocument({
          sourceBucketArn: buckets.source.arn,
          proxyBucketArn: buckets.proxy.arn,
          logGroupArn: this.logGroup.arn,
          countsVariants: onDemand.maxVariantsPerSource !== undefined,
        }),
      },
      { parent: this },
    );
    this.function = new aws.lambda.Function(
      functionName,
      {
        name: functionName,
        runtime: "nodejs22.x",
        architectures: [tenant.function.architecture],
        handler: args.code.handler,
        code: args.code.apply((archive) => new pulumi.asset.FileArchive(archive.path)),
        sourceCodeHash: args.code.sha256,
        role: this.role.arn,
        memorySize: onDemand.memoryMb,
        timeout: onDemand.timeoutSeconds,
        // The cost bound: at most this many renders at once, whatever the request rate.
        reservedConcurrentExecutions: onDemand.reservedConcurrency,
        // The same room as the processor's: two sources spooled at once (concurrent misses) plus headroom.
        ephemeralStorage: { size: ephemeralStorageMb(tenant.limits.maxObjectBytes) },
        loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
        environment: { variables: rendererEnvironment(tenant, { sourceBucket: buckets.sourceBucketName, proxyBucket: buckets.proxyBucketName }) },
      },
      { parent: this, dependsOn: [rolePolicy, this.logGroup] },
    );
    this.functionUrl = new aws.lambda.FunctionUrl(
      `${name}-url`,
      { functionName: this.function.name, authorizationType: "AWS_IAM", invokeMode: "RESPONSE_STREAM" },
      { parent: this },
    );

    this.keyValueStore = new aws.cloudfront.KeyValueStore(`${name}-keys`, { comment: `${tenant.name}: on-demand URL signing keys` }, { parent: this });
    const secrets = pulumi.secret(
      args.signingSecrets
        ? pulumi.output(args.signingSecrets).apply((given) => {
            const missing = onDemand.signingKeyIds.filter((id) => !given?.[id]);
            if (missing.length) throw new Error(`tenant "${tenant.name}": stack config signingKeys lacks key id(s) ${missing.join(", ")}`);
            return Object.fromEntries(onDemand.signingKeyIds.map((id) => [id, given[id]!]));
          })
        : pulumi.all(
            Object.fromEntries(onDemand.signingKeyIds.map((id) => [id, new random.RandomBytes(`${name}-key-${id}`, { length: 32 }, { parent: this }).hex])),
          ),
    );
    const keyEntries = onDemand.signingKeyIds.map(
      (id) =>
        new aws.cloudfront.KeyvaluestoreKey(
          `${name}-key-${id}-entry`,
          { keyValueStoreArn: this.keyValueStore.arn, key: signingKeyEntry(id), value: secrets.apply((all) => all[id]!) },
          { parent: this },
        ),
    );
    this.viewerFunction = new aws.cloudfront.Function(
      `${name}-viewer`,
      {
        runtime: "cloudfront-js-2.0",
        comment: `${tenant.name}: signature, expiry and variant check; Accept negotiation`,
        code: edgeFunctionCode(edgePolicy(tenant)),
        keyValueStoreAssociations: [this.keyValueStore.arn],
        publish: true,
      },
      { parent: this, dependsOn: keyEntries },
    );

    this.cachePolicy = new aws.cloudfront.CachePolicy(
      `${name}-cache`,
      {
        comment: `${tenant.name}: variants keyed by path only (the viewer function moved signature and Accept into it)`,
        minTtl: 0,
        defaultTtl: maxAgeSeconds,
        maxTtl: maxAgeSeconds,
        parametersInCacheKeyAndForwardedToOrigin: {
          cookiesConfig: { cookieBehavior: "none" },
          headersConfig: { headerBehavior: "none" },
          queryStringsConfig: { queryStringBehavior: "none" },
          // Images are compressed already.
          enableAcceptEncodingBrotli: false,
          enableAcceptEncodingGzip: false,
        },
      },
      { parent: this },
    );
    const s3Access = new aws.cloudfront.OriginAccessControl(
      `${name}-s3-oac`,
      { description: `${tenant.name}: reads generated variants`, originAccessControlOriginType: "s3", signingBehavior: "always", signingProtocol: "sigv4" },
      { parent: this },
    );
    const lambdaAccess = new aws.cloudfront.OriginAccessControl(
      `${name}-fn-oac`,
      { description: `${tenant.name}: invokes the renderer`, originAccessControlOriginType: "lambda", signingBehavior: "always", signingProtocol: "sigv4" },
      { parent: this },
    );

    if (onDemand.rateLimit) this.webAcl = rateLimitAcl(`${name}-waf`, tenant.name, onDemand.rateLimit, { parent: this });
    const [stored, renderer, variants] = ["stored-variants", "renderer", "variants"];
    this.distribution = new aws.cloudfront.Distribution(
      `${name}-cdn`,
      {
        enabled: true,
        comment: `${tenant.name}: on-demand renditions`,
        httpVersion: "http2and3",
        isIpv6Enabled: true,
        priceClass: onDemand.priceClass,
        origins: [
          {
            originId: stored,
            domainName: buckets.proxy.bucketRegionalDomainName,
            originAccessControlId: s3Access.id,
            s3OriginConfig: { originAccessIdentity: "" },
          },
          {
            originId: renderer,
            domainName: this.functionUrl.functionUrl.apply(urlHost),
            originAccessControlId: lambdaAccess.id,
            customOriginConfig: { httpPort: 80, httpsPort: 443, originProtocolPolicy: "https-only", originSslProtocols: ["TLSv1.2"], originReadTimeout: 60 },
          },
        ],
        originGroups: [{ originId: variants, failoverCriteria: { statusCodes: [403, 404] }, members: [{ originId: stored }, { originId: renderer }] }],
        defaultCacheBehavior: {
          targetOriginId: variants,
          viewerProtocolPolicy: "https-only",
          allowedMethods: ["GET", "HEAD"],
          cachedMethods: ["GET", "HEAD"],
          cachePolicyId: this.cachePolicy.id,
          compress: false,
          functionAssociations: [
            { eventType: "viewer-request", functionArn: this.viewerFunction.arn },
            { eventType: "viewer-response", functionArn: this.viewerFunction.arn },
          ],
        },
        restrictions: { geoRestriction: { restrictionType: "none" } },
        ...(this.webAcl ? { webAclId: this.webAcl.arn } : {}),
        ...(onDemand.domain ? { aliases: [onDemand.domain.name] } : {}),
        // With the default *.cloudfront.net certificate CloudFront uses TLSv1 whatever is set, so it
        // says so; TLS 1.2 at least needs the tenant's own domain and certificate (SNI).
        // https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html
        viewerCertificate: onDemand.domain
          ? { acmCertificateArn: onDemand.domain.certificateArn, sslSupportMethod: "sni-only", minimumProtocolVersion: "TLSv1.2_2021" }
          : { cloudfrontDefaultCertificate: true, minimumProtocolVersion: "TLSv1" },
      },
      { parent: this },
    );

    // Only this distribution may invoke the function URL (and, since 2025, the function through it).
    new aws.lambda.Permission(
      `${name}-invoke-url`,
      {
        action: "lambda:InvokeFunctionUrl",
        function: this.function.name,
        principal: "cloudfront.amazonaws.com",
        sourceArn: this.distribution.arn,
        functionUrlAuthType: "AWS_IAM",
      },
      { parent: this },
    );
    new aws.lambda.Permission(
      `${name}-invoke-fn`,
      {
        action: "lambda:InvokeFunction",
        function: this.function.name,
        principal: "cloudfront.amazonaws.com",
        sourceArn: this.distribution.arn,
        invokedViaFunctionUrl: true,
      },
      { parent: this },
    );
    buckets.grantCdnRead(this.distribution.arn, VARIANTS_ROOT);

    this.distributionId = this.distribution.id;
    this.distributionArn = this.distribution.arn;
    this.domainName = this.distribution.domainName;
    this.url = onDemand.domain ? pulumi.output(`https://${onDemand.domain.name}`) : pulumi.interpolate`https://${this.distribution.domainName}`;
    this.signingKeyId = onDemand.signingKeyIds[onDemand.signingKeyIds.length - 1]!;
    this.signingKeys = secrets;
    this.registerOutputs({ distributionId: this.distributionId, domainName: this.domainName, url: this.url, signingKeys: this.signingKeys });
  }
}

/**
 * A web ACL for one distribution: everything allowed but what one viewer IP asks beyond the rate.
 * CloudFront's web ACLs live in us-east-1 (scope CLOUDFRONT). Costs $5 a month, $1 a rule, $0.60
 * a million requests (AWS WAF pricing); 100 web ACLs per account by default (`npm run check`).
 */
function rateLimitAcl(
  name: string,
  tenantName: string,
  rate: { requestsPerWindow: number; windowSeconds: number },
  opts: pulumi.CustomResourceOptions,
): aws.wafv2.WebAcl {
  const metric = (suffix: string) => `${name}-${suffix}`.replace(/[^\w-]/g, "-").slice(0, 128);
  return new aws.wafv2.WebAcl(
    name,
    {
      region: "us-east-1",
      scope: "CLOUDFRONT",
      description: `${tenantName}: on-demand rate limit per viewer IP`,
      defaultAction: { allow: {} },
      rules: [
        {
          name: "rate-per-ip",
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: rate.requestsPerWindow, evaluationWindowSec: rate.windowSeconds, aggregateKeyType: "IP" } },
          visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: metric("rate"), sampledRequestsEnabled: true },
        },
      ],
      visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: metric("acl"), sampledRequestsEnabled: true },
    },
    opts,
  );
}

/**
 * The renderer's rights: read its tenant's source objects (ListBucket so a missing key is a 404,
 * not a 403), read and write only the variants prefix of its proxy bucket, read its sidecars, write its logs.
 */
function rendererPolicyDocument(arns: {
  sourceBucketArn: pulumi.Input<string>;
  proxyBucketArn: pulumi.Input<string>;
  logGroupArn: pulumi.Input<string>;
  /** onDemand.maxVariantsPerSource: the renderer counts a source's stored variants (a listing of its prefix). */
  countsVariants?: boolean;
}): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadSourceObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: pulumi.interpolate`${arns.sourceBucketArn}/*` },
      { Sid: "ListSourceBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: arns.sourceBucketArn },
      {
        Sid: "StoreVariants",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        Resource: pulumi.interpolate`${arns.proxyBucketArn}/${VARIANTS_ROOT}*`,
      },
      {
        // HeadObject of a sidecar: the focus its cover crops keep, and a quarantine. Without
        // s3:ListBucket a missing sidecar answers 403, which the renderer reads as absent.
        Sid: "ReadAnalysis",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: [pulumi.interpolate`${arns.proxyBucketArn}/${SIDECAR_ROOT}/*`, pulumi.interpolate`${arns.proxyBucketArn}/${SIDECAR_ROOT}.long/*`],
      },
      { Sid: "WriteLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: pulumi.interpolate`${arns.logGroupArn}:*` },
      ...(arns.countsVariants
        ? [
            {
              Sid: "CountVariants",
              Effect: "Allow",
              Action: ["s3:ListBucket"],
              Resource: arns.proxyBucketArn,
              Condition: { StringLike: { "s3:prefix": `${VARIANTS_ROOT}*` } },
            },
          ]
        : []),
    ],
  });
}
