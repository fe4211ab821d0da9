/**
 * Amazon Rekognition's opinion of an upload, for tenants that opt in (`analysis.rekognition`): one
 * call per asked API and object, on a small JPEG of the decoded image (never the original: image
 * bytes are limited to 5 MB, and a smaller image costs the same per call). The SDK is loaded by the
 * first review a container makes: tenants without Rekognition never load it.
 *
 * Limits (https://docs.aws.amazon.com/rekognition/latest/dg/limits.html): at most 5 MB of image
 * bytes, at least 80 pixels on each side, at most 10,000; a face is found from 40 x 40 pixels in a
 * 1920 x 1080 image, so the JPEG keeps 1,920 pixels on its long side.
 */
import type * as RekognitionSdk from "@aws-sdk/client-rekognition";
import type { RekognitionClient, RekognitionClientConfig } from "@aws-sdk/client-rekognition";
import { PermanentError } from "../errors";
import type { RelativeBox } from "./focus";
import type { ReviewSettings } from "../../contract/tenant-runtime";

/** The review JPEG's long side (see above), and Rekognition's smallest accepted side. */
export const REVIEW_SIDE = 1920;
export const REVIEW_MIN_SIDE = 80;
/** DetectLabels: how many, from what confidence (percent). */
const MAX_LABELS = 10;
const LABEL_MIN_CONFIDENCE = 70;

export type { ReviewSettings } from "../../contract/tenant-runtime";

export interface Label {
  name: string;
  confidence: number;
}

export interface ModerationLabel extends Label {
  /** The top-level category ("" for a top-level label). */
  parentName: string;
}

export interface Review {
  faces?: RelativeBox[];
  labels?: Label[];
  moderation?: ModerationLabel[];
}

export interface Reviewer {
  review(jpeg: Buffer, settings: ReviewSettings): Promise<Review>;
}

const confidence = (value: number | undefined) => Math.round((value ?? 0) * 10) / 10;

/**
 * Rekognition's answers that no retry changes (our JPEG refused, the role not allowed): permanent.
 * Throttling, timeouts and 5xx stay what errors.ts makes of them (transient, retried by the queue).
 */
const PERMANENT_NAMES = new Set(["InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException", "AccessDeniedException"]);

export class RekognitionReviewer implements Reviewer {
  private client: Promise<{ rekognition: RekognitionClient; sdk: typeof RekognitionSdk }> | undefined;

  /** `instrument`: what the container does to every SDK client (X-Ray, when the tenant traces). */
  constructor(
    private readonly config: RekognitionClientConfig,
    private readonly instrument: (client: RekognitionClient) => RekognitionClient = (client) => client,
  ) {}

  async review(jpeg: Buffer, settings: ReviewSettings): Promise<Review> {
    this.client ??= import("@aws-sdk/client-rekognition").then((sdk) => ({ rekognition: this.instrument(new sdk.RekognitionClient(this.config)), sdk }));
    const { rekognition, sdk } = await this.client;
    const Image = { Bytes: jpeg };
    try {
      const [faces, labels, moderation] = await Promise.all([
        settings.faces ? rekognition.send(new sdk.DetectFacesCommand({ Image, Attributes: ["DEFAULT"] })) : undefined,
        settings.labels
          ? rekognition.send(new sdk.DetectLabelsCommand({ Image, MaxLabels: MAX_LABELS, MinConfidence: LABEL_MIN_CONFIDENCE, Features: ["GENERAL_LABELS"] }))
          : undefined,
        settings.moderationMinConfidence !== undefined
          ? rekognition.send(new sdk.DetectModerationLabelsCommand({ Image, MinConfidence: settings.moderationMinConfidence }))
          : undefined,
      ]);
      return {
        ...(faces ? { faces: (faces.FaceDetails ?? []).map((face) => face.BoundingBox ?? {}) } : {}),
        ...(labels
          ? { labels: (labels.Labels ?? []).slice(0, MAX_LABELS).map((label) => ({ name: label.Name ?? "", confidence: confidence(label.Confidence) })) }
          : {}),
        ...(moderation
          ? {
              moderation: (moderation.ModerationLabels ?? []).map((label) => ({
                name: label.Name ?? "",
                parentName: label.ParentName ?? "",
                confidence: confidence(label.Confidence),
              })),
            }
          : {}),
      };
    } catch (err) {
      const name = (err as { name?: string }).name ?? "";
      if (PERMANENT_NAMES.has(name))
        throw new PermanentError("ANALYSIS_FAILED", `Amazon Rekognition refused the image: ${name}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }
}
