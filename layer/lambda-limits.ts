/** Lambda's package limits, checked by both the function archive and the layer build. */
import type { ZipSummary } from "./deterministic-zip";

/** Lambda: 50 MB for a zip uploaded directly, 250 MB unzipped for the function and its layers together. */
export const LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024;
export const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

export function checkLambdaLimits(zip: Pick<ZipSummary, "zippedBytes" | "unzippedBytes">, what: string, unzippedBudget = LAMBDA_UNZIPPED_LIMIT): void {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (zip.zippedBytes > LAMBDA_ZIPPED_LIMIT) {
    throw new Error(`${what} is ${mb(zip.zippedBytes)} zipped, above Lambda's ${mb(LAMBDA_ZIPPED_LIMIT)} limit for a directly uploaded zip`);
  }
  if (zip.unzippedBytes > unzippedBudget) {
    throw new Error(`${what} is ${mb(zip.unzippedBytes)} unzipped, above its ${mb(unzippedBudget)} share of Lambda's 250 MB limit`);
  }
}
