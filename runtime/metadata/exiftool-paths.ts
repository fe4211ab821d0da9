import { existsSync } from "node:fs";
import path from "node:path";

/** Where perl, exiftool and the range helper live, and the environment perl needs to run them. */
export interface ExiftoolPaths {
  perl: string;
  exiftool: string;
  helper: string;
  /** Directory holding Image::ExifTool (exiftool's lib/). */
  libDir: string;
  /** exiftool-vendored-style minimal environment: only what perl needs, passed explicitly. */
  env: Record<string, string>;
  source: "env" | "layer" | "vendored";
}

const LAYER_BIN = "/opt/bin";
const HELPER_FILE = "exiftool-range-helper.pl";

function withPath(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  // exiftool-vendored gives children only LANG=C; perl without PATH may hang on a shebang lookup.
  return { LANG: "C", PATH: env.PATH ?? "/usr/bin:/bin", ...extra };
}

/**
 * Resolution order: explicit env (EXIFTOOL_PATH, PERL_PATH, EXIFTOOL_HELPER_PATH), then the Lambda
 * layer at /opt/bin, then the exiftool shipped by exiftool-vendored.pl with the system perl.
 */
export function resolveExiftoolPaths(env: NodeJS.ProcessEnv = process.env, layerBin = LAYER_BIN): ExiftoolPaths {
  if (env.EXIFTOOL_PATH) {
    const exiftool = env.EXIFTOOL_PATH;
    const bin = path.dirname(exiftool);
    return {
      perl: env.PERL_PATH ?? "perl",
      exiftool,
      helper: env.EXIFTOOL_HELPER_PATH ?? path.join(bin, HELPER_FILE),
      libDir: path.join(bin, "lib"),
      env: withPath(env, env.LD_LIBRARY_PATH ? { LD_LIBRARY_PATH: env.LD_LIBRARY_PATH } : {}),
      source: "env",
    };
  }
  if (existsSync(path.join(layerBin, "exiftool"))) {
    const root = path.dirname(layerBin);
    return {
      perl: path.join(layerBin, "perl"),
      exiftool: path.join(layerBin, "exiftool"),
      helper: path.join(layerBin, HELPER_FILE),
      libDir: path.join(layerBin, "lib"),
      env: withPath(env, { PATH: `${layerBin}:${env.PATH ?? "/usr/bin:/bin"}`, LD_LIBRARY_PATH: `${path.join(root, "lib")}:${env.LD_LIBRARY_PATH ?? ""}` }),
      source: "layer",
    };
  }
  // Kept out of the Lambda bundle: only resolvable where node_modules exists (locally, in tests).
  const vendoredRoot = path.dirname(require.resolve("exiftool-vendored.pl/package.json"));
  const bin = path.join(vendoredRoot, "bin");
  return {
    perl: env.PERL_PATH ?? "perl",
    exiftool: path.join(bin, "exiftool"),
    helper: env.EXIFTOOL_HELPER_PATH ?? path.resolve(__dirname, "../../layer", HELPER_FILE),
    libDir: path.join(bin, "lib"),
    env: withPath(env),
    source: "vendored",
  };
}
