/**
 * What became of one object event: the handler logs it, turns it into metrics, and hands it to the
 * local platform's listeners. Kept apart from the pipeline so readers of outcomes need not load it.
 */
import type { AnalysisRecord } from "./analysis/upload-analysis";
import type { SimilarObject } from "./analysis/similar-index";

export interface Outcome {
  tenant: string;
  key: string;
  event: string;
  status: "done" | "failed" | "deleted" | "skipped" | "quarantined";
  reason?: string;
  code?: string;
  renditions?: number;
  /** "ranged" or "stream": how exiftool read the object (a stream means the helper failed). */
  metadataMethod?: string;
  metadataBytesRead?: number;
  metadataRequests?: number;
  size?: number;
  durationsMs?: Record<string, number>;
  /** What the analysis at upload found (docs/metadata.md). */
  analysis?: AnalysisRecord & { similar?: SimilarObject[] };
}
