/**
 * "Did you mean ...?" for a user's typo, shared by the stack's config checks (contract/tenant-config.ts)
 * and the operator commands' options (cli/targets.ts).
 */

/** Edits (insert, delete, substitute) from one word to another. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate `value` most likely meant, if one is close: one that starts with it or that it starts
 * with (`expires` for `expires-in`), else the fewest edits, at most a third of the candidate's length
 * (`jpg` → `jpeg`, `prefx` → `prefix`). Case is ignored.
 */
export function closestMatch(value: string, candidates: readonly string[]): string | undefined {
  const lower = value.toLowerCase();
  const scored = candidates.map((c) => ({ c, d: c.startsWith(lower) || lower.startsWith(c) ? 0.5 : editDistance(lower, c) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  return best && best.d <= Math.max(1, Math.floor(best.c.length / 3)) ? best.c : undefined;
}
