/**
 * What a decode is budgeted: a progressive JPEG's coefficient buffers by its components' own
 * sampling. Measured with sharp on 6000x6000 progressive JPEGs made by Pillow (4:2:0, 4:2:2, 4:4:4):
 * peak RSS 196, 231 and 299 MB, so 4:2:2 costs 36 MB (1 byte x 2 x 36 Mpx x 0.5 plane) above 4:2:0.
 */
import { describe, expect, it } from "vitest";
import { decoderWorkingSetBytes } from "../../runtime/memory-budget";

const progressive = { format: "jpeg", width: 6000, height: 4000, channels: 3, isProgressive: true };
const pixels = 6000 * 4000;

describe("decoderWorkingSetBytes", () => {
  it("counts a progressive JPEG's coefficients (2 bytes a sample) by the planes its header declares", () => {
    expect(decoderWorkingSetBytes({ ...progressive, chromaSubsampling: "4:2:0", coefficientPlanes: 1.5 })).toBe(pixels * 1.5 * 2);
    expect(decoderWorkingSetBytes({ ...progressive, chromaSubsampling: "4:2:0", coefficientPlanes: 2 })).toBe(pixels * 2 * 2);
    expect(decoderWorkingSetBytes({ ...progressive, chromaSubsampling: "4:4:4", coefficientPlanes: 3 })).toBe(pixels * 3 * 2);
  });

  it("from sharp's chroma name alone, counts a subsampled frame as 4:2:2, the larger of what libvips names 4:2:0", () => {
    expect(decoderWorkingSetBytes({ ...progressive, chromaSubsampling: "4:2:0" })).toBe(pixels * 2 * 2);
    expect(decoderWorkingSetBytes({ ...progressive, chromaSubsampling: "4:4:4" })).toBe(pixels * 3 * 2);
    expect(decoderWorkingSetBytes(progressive)).toBe(pixels * 3 * 2); // no name: counted whole
    expect(decoderWorkingSetBytes({ ...progressive, channels: 1 })).toBe(pixels * 2);
    expect(decoderWorkingSetBytes({ ...progressive, channels: 4 })).toBe(pixels * 4 * 2);
  });

  it("gives a baseline JPEG a fixed working set: it shrinks on load, whatever its size", () => {
    expect(decoderWorkingSetBytes({ ...progressive, isProgressive: false, coefficientPlanes: 3 })).toBe(16 * 1024 * 1024);
  });
});
