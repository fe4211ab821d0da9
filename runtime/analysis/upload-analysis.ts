/**
 * The analysis of one upload, as the processor runs it inside the rendition stage: the pixels the
 * renditions are cut from are looked at once (image-analysis.ts), Rekognition asked when the tenant
 * opted in, and the renditions then crop around the focus, or are withheld from a quarantined image.
 */
import sharp from "sharp";
import type { TenantConfig } from "../../contract/tenant-config";
import { reviewSettings } from "../../contract/tenant-runtime";
import type { Inspector } from "../renditions";
import { analysePixels, WORKING_SIDE, type ImageAnalysis, type Pixels } from "./image-analysis";
import { facesFocus } from "./focus";
import { REVIEW_MIN_SIDE, REVIEW_SIDE, type Label, type ModerationLabel, type Reviewer } from "./rekognition";

/** What the item, the sidecar and the outcome keep of an upload's analysis (docs/metadata.md). */
export interface AnalysisRecord extends ImageAnalysis {
  /** Faces Rekognition found (when asked). */
  faces?: number;
  labels?: Label[];
  moderation?: ModerationLabel[];
  /** Why Rekognition was not asked for an image whose tenant opted in (too small for it). */
  reviewSkipped?: string;
}

export class UploadAnalysis implements Inspector {
  /** Set once the pixels were looked at. */
  record: AnalysisRecord | undefined;
  /** The reason the renditions were withheld (moderation labels of a tenant that quarantines). */
  quarantine: string | undefined;
  readonly minSide: number;
  private readonly review: ReturnType<typeof reviewSettings>;

  constructor(
    private readonly settings: TenantConfig["analysis"],
    private readonly reviewer: Reviewer | undefined,
    /** Times the Rekognition call apart from the render (the processor's stage timer). */
    private readonly time: <T>(stage: "rekognition", work: () => Promise<T>) => Promise<T> = (_stage, work) => work(),
  ) {
    this.review = reviewer ? reviewSettings(settings) : undefined;
    this.minSide = this.review ? REVIEW_SIDE : WORKING_SIDE;
  }

  async look(pixels: Pixels): Promise<{ focus?: ImageAnalysis["focus"]; withhold?: string }> {
    const analysis: AnalysisRecord = await analysePixels(pixels, { blurhash: this.settings.blurhash });
    this.record = analysis;
    const settings = this.review;
    if (!settings || !this.reviewer) return { focus: analysis.focus };
    if (Math.min(pixels.width, pixels.height) < REVIEW_MIN_SIDE) {
      analysis.reviewSkipped = `the image is ${pixels.width}x${pixels.height}: Rekognition needs ${REVIEW_MIN_SIDE} pixels on each side`;
      return { focus: analysis.focus };
    }
    const raw = { width: pixels.width, height: pixels.height, channels: pixels.channels };
    const jpeg = await sharp(pixels.data, { raw })
      .resize(REVIEW_SIDE, REVIEW_SIDE, { fit: "inside", withoutEnlargement: true })
      .flatten({ background: "#ffffff" })
      .jpeg({ quality: 85 })
      .toBuffer();
    const review = await this.time("rekognition", () => this.reviewer!.review(jpeg, settings));
    const faces = review.faces && facesFocus(review.faces);
    if (faces) analysis.focus = faces;
    if (review.faces) analysis.faces = review.faces.length;
    if (review.labels) analysis.labels = review.labels;
    if (review.moderation) analysis.moderation = review.moderation;
    const flagged = (review.moderation ?? []).filter((label) => label.confidence >= (settings.moderationMinConfidence ?? 100));
    if (settings.quarantine && flagged.length) {
      this.quarantine = `moderation labels: ${flagged.map((label) => `${label.name} (${label.confidence}%)`).join(", ")}`;
      return { focus: analysis.focus, withhold: this.quarantine };
    }
    return { focus: analysis.focus };
  }
}
