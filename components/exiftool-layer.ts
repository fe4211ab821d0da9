import { existsSync } from "node:fs";
import path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { zipSha256 } from "../layer/deterministic-zip";
import type { LambdaArchitecture } from "./function-code";

export interface ExiftoolLayerArgs {
  /** Architecture the layer's perl is built for. Default "arm64". */
  architecture?: LambdaArchitecture;
  /** The zip built by `npm run build:layer`. Default `layer/dist/exiftool-layer-<arch>.zip`. */
  zipPath?: string;
  /** Physical layer name. Default: derived from the component's name. */
  layerName?: pulumi.Input<string>;
}

const NPM_ARCH: Record<LambdaArchitecture, string> = { arm64: "arm64", x86_64: "x64" };

function defaultLayerZip(architecture: LambdaArchitecture): string {
  return path.resolve(__dirname, "..", "layer", "dist", `exiftool-layer-${NPM_ARCH[architecture]}.zip`);
}

/**
 * perl + exiftool + the range helper, unpacked at /opt (`/opt/bin/perl`, `/opt/bin/exiftool`,
 * `/opt/bin/exiftool-range-helper.pl`). One per stack, shared by every tenant's function. The
 * version changes only when the zip's bytes do (the build is reproducible).
 */
export class ExiftoolLayer extends pulumi.ComponentResource {
  public readonly layer: aws.lambda.LayerVersion;
  public readonly arn: pulumi.Output<string>;
  public readonly architecture: LambdaArchitecture;

  constructor(name: string, args: ExiftoolLayerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("platform:index:ExiftoolLayer", name, {}, opts);
    this.architecture = args.architecture ?? "arm64";
    const zipPath = args.zipPath ?? defaultLayerZip(this.architecture);
    if (!existsSync(zipPath)) {
      throw new Error(
        `ExifTool layer zip not found at ${zipPath}. Build it with \`npm run build:layer -- --arch ${NPM_ARCH[this.architecture]}\` (or set tenant-image-platform:layerZip).`,
      );
    }
    this.layer = new aws.lambda.LayerVersion(
      `${name}-version`,
      {
        layerName: args.layerName ?? name,
        code: new pulumi.asset.FileArchive(zipPath),
        sourceCodeHash: zipSha256(zipPath),
        compatibleRuntimes: ["nodejs22.x"],
        compatibleArchitectures: [this.architecture],
        description: "perl + exiftool + exiftool-range-helper (tenant-image-platform)",
      },
      { parent: this },
    );
    this.arn = this.layer.arn;
    this.registerOutputs({ arn: this.arn });
  }
}
