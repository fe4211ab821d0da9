/**
 * Imported first by the processor's entry (runtime/handler.ts): in a Lambda container (Lambda sets
 * AWS_LAMBDA_FUNCTION_NAME), the exiftool helper is spawned before the rest of the function's
 * modules are evaluated, so that perl loads ExifTool while Node loads the SDK and the rest.
 */
import { startHelperEarly } from "./exiftool-helper";
import { resolveExiftoolPaths } from "./exiftool-paths";

if (process.env.AWS_LAMBDA_FUNCTION_NAME) startHelperEarly(resolveExiftoolPaths());
