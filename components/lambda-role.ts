import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/** A role only Lambda may assume, with no policy yet: each function's own inline policy says what it may do. */
export function lambdaRole(name: string, opts: pulumi.CustomResourceOptions): aws.iam.Role {
  return new aws.iam.Role(
    name,
    {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    },
    opts,
  );
}
