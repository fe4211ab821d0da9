import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface TenantBucketsArgs {
  /** Explicit physical name of the source bucket. Default: derived from the component's name. */
  sourceBucketName?: string;
  /** Explicit physical name of the proxy bucket. Default: derived from the component's name. */
  proxyBucketName?: string;
  /** Versioning on the source bucket. Default true. */
  sourceVersioning?: boolean;
  /**
   * Keep the source bucket (and its objects) in AWS when it leaves the stack, and refuse to delete
   * it while it holds objects. Default true.
   */
  protectSource?: boolean;
  /** Days after which renditions expire from the proxy bucket. Default: never. */
  proxyExpirationDays?: number;
  /** Days after which noncurrent source versions expire. Default 30. */
  noncurrentVersionExpirationDays?: number;
  /**
   * Generated objects under a prefix of the proxy bucket that expire sooner (on-demand variants).
   * Default: none.
   */
  generatedExpiration?: { prefix: string; days: number };
  /**
   * Leave the proxy bucket's policy to `grantCdnRead`, called once the reader (a CloudFront
   * distribution, created after the bucket) exists. Default false.
   */
  cdnReadsProxy?: boolean;
}

/**
 * A tenant's private source bucket (uploads) and proxy bucket (renditions and sidecars), hardened
 * as a security review expects: public access blocked, bucket owner enforced (no ACLs), encrypted
 * at rest, TLS-only bucket policy, source versioning, proxy lifecycle.
 */
export class TenantBuckets extends pulumi.ComponentResource {
  public readonly source: aws.s3.Bucket;
  public readonly proxy: aws.s3.Bucket;
  public readonly sourceBucketName: pulumi.Output<string>;
  public readonly proxyBucketName: pulumi.Output<string>;
  /** Resources the S3 notification must wait for (the source bucket's policy and settings). */
  public readonly sourceReady: pulumi.Resource[];
  private readonly proxyPublicAccess: pulumi.Resource;
  private readonly baseName: string;

  constructor(name: string, args: TenantBucketsArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:TenantBuckets", name, {}, opts);
    this.baseName = name;
    const protectSource = args.protectSource ?? true;

    this.source = new aws.s3.Bucket(
      `${name}-source`,
      { bucket: args.sourceBucketName, forceDestroy: !protectSource },
      { parent: this, retainOnDelete: protectSource },
    );
    this.proxy = new aws.s3.Bucket(`${name}-proxy`, { bucket: args.proxyBucketName, forceDestroy: true }, { parent: this });

    const sourceHardening = this.harden(`${name}-source`, this.source);
    const proxyHardening = this.harden(`${name}-proxy`, this.proxy, !args.cdnReadsProxy);
    this.proxyPublicAccess = proxyHardening[0]!;

    const versioning = new aws.s3.BucketVersioning(
      `${name}-source-versioning`,
      { bucket: this.source.id, versioningConfiguration: { status: args.sourceVersioning === false ? "Suspended" : "Enabled" } },
      { parent: this },
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-source-lifecycle`,
      {
        bucket: this.source.id,
        rules: [
          {
            id: "abort-incomplete-multipart-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
            noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionExpirationDays ?? 30 },
          },
        ],
      },
      { parent: this, dependsOn: [versioning] },
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-proxy-lifecycle`,
      {
        bucket: this.proxy.id,
        rules: [
          {
            id: "abort-incomplete-multipart-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
            ...(args.proxyExpirationDays ? { expiration: { days: args.proxyExpirationDays } } : {}),
          },
          ...(args.generatedExpiration
            ? [
                {
                  id: "expire-generated-variants",
                  status: "Enabled",
                  filter: { prefix: args.generatedExpiration.prefix },
                  expiration: { days: args.generatedExpiration.days },
                },
              ]
            : []),
        ],
      },
      { parent: this },
    );

    this.sourceBucketName = this.source.bucket;
    this.proxyBucketName = this.proxy.bucket;
    this.sourceReady = [...sourceHardening, versioning];
    this.registerOutputs({ sourceBucketName: this.sourceBucketName, proxyBucketName: this.proxyBucketName });
  }

  /**
   * The proxy bucket's policy when a CloudFront distribution reads it through Origin Access
   * Control: TLS only, and s3:GetObject under `prefix` for that one distribution. Same resource
   * name as the TLS-only policy it replaces: a bucket has one policy, so turning on-demand
   * renditions on or off must update it in place (a new resource beside the old one would have the
   * old one's deletion remove the bucket's only policy).
   */
  public grantCdnRead(distributionArn: pulumi.Input<string>, prefix: string): aws.s3.BucketPolicy {
    const statement = {
      Sid: "CloudFrontReadsGeneratedVariants",
      Effect: "Allow",
      Principal: { Service: "cloudfront.amazonaws.com" },
      Action: "s3:GetObject",
      Resource: pulumi.interpolate`${this.proxy.arn}/${prefix}*`,
      Condition: { StringEquals: { "AWS:SourceArn": distributionArn } },
    };
    return this.bucketPolicy(`${this.baseName}-proxy-tls-only`, this.proxy, this.proxyPublicAccess, [statement]);
  }

  private harden(name: string, bucket: aws.s3.Bucket, withPolicy = true): pulumi.Resource[] {
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      { parent: this },
    );
    const ownership = new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      { parent: this },
    );
    // SSE-S3: an object's ETag stays the MD5 of its bytes, which the on-demand renderer sends as a
    // miss's ETag before its PUT has answered (runtime/on-demand/render-variant.ts). SSE-KMS would change that.
    const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] },
      { parent: this },
    );
    return [publicAccess, ownership, encryption, ...(withPolicy ? [this.bucketPolicy(`${name}-tls-only`, bucket, publicAccess)] : [])];
  }

  private bucketPolicy(name: string, bucket: aws.s3.Bucket, publicAccess: pulumi.Resource, extraStatements: object[] = []): aws.s3.BucketPolicy {
    return new aws.s3.BucketPolicy(
      name,
      {
        bucket: bucket.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            ...extraStatements,
          ],
        }),
      },
      // A policy can only be attached once public access is blocked.
      { parent: this, dependsOn: [publicAccess] },
    );
  }
}
