import { describe, expect, it } from "vitest";
import { evaluate, type PolicyDocument } from "./iam-evaluator";

const policy = (...Statement: PolicyDocument["Statement"][]): PolicyDocument => ({ Version: "2012-10-17", Statement: Statement.flat() });

describe("the test IAM evaluator", () => {
  it("allows only matching action and resource", () => {
    const p = policy({ Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::a/*" });
    expect(evaluate([p], "s3:GetObject", "arn:aws:s3:::a/x.jpg")).toBe("Allowed");
    expect(evaluate([p], "s3:getobject", "arn:aws:s3:::a/x.jpg")).toBe("Allowed");
    expect(evaluate([p], "s3:PutObject", "arn:aws:s3:::a/x.jpg")).toBe("ImplicitlyDenied");
    expect(evaluate([p], "s3:GetObject", "arn:aws:s3:::ab/x.jpg")).toBe("ImplicitlyDenied");
    expect(evaluate([p], "s3:GetObject", "arn:aws:s3:::a")).toBe("ImplicitlyDenied");
  });

  it("lets an explicit deny win and expands wildcards", () => {
    const p = policy([
      { Effect: "Allow", Action: "s3:*", Resource: "*" },
      { Effect: "Deny", Action: "s3:Delete?bject", Resource: "arn:aws:s3:::a/*" },
    ]);
    expect(evaluate([p], "s3:DeleteObject", "arn:aws:s3:::a/k")).toBe("ExplicitlyDenied");
    expect(evaluate([p], "s3:DeleteObject", "arn:aws:s3:::b/k")).toBe("Allowed");
  });

  it("refuses policies outside its subset", () => {
    const p = policy({ Effect: "Allow", Action: "s3:GetObject", Resource: "*", Condition: { Bool: { x: "y" } } });
    expect(() => evaluate([p], "s3:GetObject", "arn:aws:s3:::a/k")).toThrow(/Bool/);
  });

  it("judges StringLike conditions on request keys; a missing key fails the condition", () => {
    const p = policy({ Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::a", Condition: { StringLike: { "s3:prefix": "_variants/*" } } });
    expect(evaluate([p], "s3:ListBucket", "arn:aws:s3:::a", { "s3:prefix": "_variants/12/" })).toBe("Allowed");
    expect(evaluate([p], "s3:ListBucket", "arn:aws:s3:::a", { "s3:prefix": "thumb/" })).toBe("ImplicitlyDenied");
    expect(evaluate([p], "s3:ListBucket", "arn:aws:s3:::a")).toBe("ImplicitlyDenied");
  });
});
