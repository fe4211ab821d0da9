import { describe, expect, it } from "vitest";
import { physicalNameProblems, tenantResourceNames } from "../../contract/naming";
import { loadStackTenants } from "../../local/stack-config";
import { parseTenant } from "../../contract/tenant-config";

const longest = parseTenant({ name: "a".repeat(30) + "-z" });

describe("physical names AWS accepts, checked at config time", () => {
  it("refuses the longest valid tenant on a long stack name, naming the tenant, the resource and the limit", () => {
    expect(longest.name).toHaveLength(32);
    expect(() => tenantResourceNames("production", longest)).toThrow(
      /tenant "a{30}-z" on stack "production": the IAM role name "tip-production-a{30}-z-processor-role-xxxxxxx" would be 70 characters, above AWS's 64.*Use a shorter namePrefix/,
    );
  });

  it("names every resource that does not fit, not only the first", () => {
    const problems = physicalNameProblems(`tip-${"s".repeat(40)}-${longest.name}`);
    expect(problems.map((p) => /the (.+?) name/.exec(p)![1])).toEqual([
      "IAM role",
      "Lambda function",
      "SQS queue",
      "SQS dead-letter queue",
      "on-demand IAM role",
      "on-demand Lambda function",
      "CloudFront Function",
      "CloudFront KeyValueStore",
      "CloudFront origin access control",
      "SQS purge queue",
      "SQS purge dead-letter queue",
    ]);
  });

  it("accepts the longest tenant on a short stack, and every tenant of the dev stack", () => {
    expect(() => tenantResourceNames("prod", longest)).not.toThrow();
    for (const tenant of loadStackTenants("dev")) expect(() => tenantResourceNames("production", tenant)).not.toThrow();
  });
});
