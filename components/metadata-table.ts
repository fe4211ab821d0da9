import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METADATA_TABLE } from "../contract/table";
import { movedFromParent } from "./moved-children";

export interface MetadataTableArgs {
  /** Keep the table when it leaves the stack, and turn on deletion protection. Default true. */
  protectData?: boolean;
}

/**
 * A tenant's metadata table, as contract/table.ts defines it (the local platform creates the same):
 * on-demand capacity, point-in-time recovery, encryption, TTL for tombstones.
 */
export class MetadataTable extends pulumi.ComponentResource {
  public readonly table: aws.dynamodb.Table;

  constructor(name: string, args: MetadataTableArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:MetadataTable", name, {}, opts);
    const protectData = args.protectData ?? true;
    this.table = new aws.dynamodb.Table(
      `${name}-metadata`,
      {
        billingMode: "PAY_PER_REQUEST",
        hashKey: METADATA_TABLE.hashKey,
        attributes: METADATA_TABLE.attributes,
        globalSecondaryIndexes: METADATA_TABLE.globalSecondaryIndexes,
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true },
        ttl: { attributeName: METADATA_TABLE.ttlAttribute, enabled: true },
        deletionProtectionEnabled: protectData,
      },
      { ...movedFromParent(this, opts), retainOnDelete: protectData },
    );
    this.registerOutputs({ tableName: this.table.name });
  }
}
