/**
 * A deliberately small IAM identity-policy evaluator for the policies this project writes: Allow
 * and Deny statements with Action/Resource (strings or lists, `*` and `?` wildcards), and
 * Conditions made of StringEquals / StringLike on request keys (a key the request lacks fails the
 * condition, as in IAM). Anything else (NotAction, NotResource, other operators, Principal) makes
 * it throw instead of guessing, so a policy change that leaves the subset fails the tests rather
 * than being misjudged.
 */
export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  [other: string]: unknown;
}

export interface PolicyDocument {
  Version: string;
  Statement: Statement | Statement[];
}

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

function wildcardMatch(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, caseInsensitive ? "i" : "").test(value);
}

export function statementsOf(policy: PolicyDocument): Statement[] {
  if (policy.Version !== "2012-10-17") throw new Error(`unsupported policy version ${policy.Version}`);
  const statements = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
  for (const s of statements) {
    const unsupported = Object.keys(s).filter((k) => !["Sid", "Effect", "Action", "Resource", "Condition"].includes(k));
    const operators = Object.keys((s.Condition as object | undefined) ?? {}).filter((op) => !["StringEquals", "StringLike"].includes(op));
    if (unsupported.length || operators.length)
      throw new Error(`statement ${s.Sid ?? "?"} uses ${[...unsupported, ...operators].join(", ")}, which this evaluator does not judge`);
  }
  return statements;
}

/** Every operator's every key must hold; any of a key's values may match. */
function conditionHolds(condition: Record<string, Record<string, string | string[]>> | undefined, request: Record<string, string>): boolean {
  return Object.entries(condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, values]) => {
      const actual = request[key];
      if (actual === undefined) return false;
      return list(values).some((v) => (operator === "StringLike" ? wildcardMatch(v, actual, false) : v === actual));
    }),
  );
}

/**
 * AWS's rule for identity policies: an explicit Deny wins, then any Allow, else implicit deny.
 * `request`: the request's condition keys (e.g. `s3:prefix` of a listing).
 */
export function evaluate(policies: PolicyDocument[], action: string, resource: string, request: Record<string, string> = {}): Decision {
  let allowed = false;
  for (const statement of policies.flatMap(statementsOf)) {
    // Actions are case-insensitive in IAM; ARNs are case-sensitive.
    const actionMatches = list(statement.Action).some((p) => wildcardMatch(p, action, true));
    const resourceMatches = list(statement.Resource).some((p) => wildcardMatch(p, resource, false));
    if (!actionMatches || !resourceMatches || !conditionHolds(statement.Condition as never, request)) continue;
    if (statement.Effect === "Deny") return "ExplicitlyDenied";
    allowed = true;
  }
  return allowed ? "Allowed" : "ImplicitlyDenied";
}
