import { REPROCESS_EVENT_NAME } from "../runtime/events";
import type { Outcome } from "../runtime/outcome";

/** "1 rendition", "2 renditions". */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

const kib = (bytes?: number) => (bytes === undefined ? "-" : bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KiB`);

/** One readable line per processed upload. */
export function formatOutcome(o: Outcome): string {
  const mark = { done: "✓", deleted: "✗", failed: "!", skipped: "·", quarantined: "⊘" }[o.status];
  const parts = [`${mark} [${o.tenant}] ${o.key}: ${o.status}${o.event === REPROCESS_EVENT_NAME ? " (reprocess)" : ""}`];
  if (o.status === "done") parts.push(count(o.renditions ?? 0, "rendition"));
  if (o.analysis?.similar?.length) parts.push(`similar to ${o.analysis.similar.map((s) => `${s.key} (${s.distance})`).join(", ")}`);
  if (o.metadataMethod) {
    const how = o.metadataMethod === "ranged" ? `in ${count(o.metadataRequests ?? 0, "request")}` : "by the streaming fallback";
    parts.push(`metadata read ${kib(o.metadataBytesRead)} of ${kib(o.size)} ${how}`);
  }
  if (o.code) parts.push(o.code);
  if (o.reason) parts.push(o.reason);
  if (o.durationsMs?.total !== undefined) parts.push(`${o.durationsMs.total} ms`);
  return parts.join(" — ");
}
