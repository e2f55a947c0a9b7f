import { PreprocessError, resizeNearestPillow } from './preprocess/index.js';

/**
 * Binary mask from mask-decoder logits laid out (1, C, H, W): channel `channel` (1 = bone for the official
 * multimask output) thresholded at logit > 0, as a (H, W) 0/1 uint8 image.
 */
export function maskFromLogits(logits: Float32Array, height = 256, width = 256, channel = 1): Uint8Array {
  const plane = height * width;
  if (plane <= 0 || logits.length % plane !== 0) {
    throw new PreprocessError(`maskFromLogits: ${logits.length} logits do not form (1, C, ${height}, ${width})`);
  }
  const channels = logits.length / plane;
  if (!Number.isInteger(channel) || channel < 0 || channel >= channels) {
    throw new PreprocessError(`maskFromLogits: channel ${channel} is outside 0..${channels - 1}`);
  }
  const out = new Uint8Array(plane);
  const base = channel * plane;
  for (let p = 0; p < plane; p++) out[p] = logits[base + p]! > 0 ? 1 : 0;
  return out;
}

/**
 * Recipe step 13: a low-resolution (H, W) mask back to the slice grid (rows = I, cols = J) with Pillow
 * NEAREST, as predictVolume writes it at [:, :, slice].
 */
export function maskToSliceGrid(mask: Uint8Array, height: number, width: number, rowsI: number, colsJ: number): Uint8Array {
  return resizeNearestPillow(mask, height, width, rowsI, colsJ);
}

/**
 * Writes a (rows = I, cols = J) slice image into slice k of a volume stored I fastest
 * (vol[r + c*I + k*I*J] = image[r*J + c]).
 */
export function writeSliceIntoVolume<T extends Uint8Array | Float32Array>(volume: T, dims: readonly [number, number, number], sliceIndex: number, image: T): void {
  const [ni, nj, nk] = dims;
  if (volume.length !== ni * nj * nk) throw new PreprocessError(`writeSliceIntoVolume: volume has ${volume.length} voxels, dims need ${ni * nj * nk}`);
  if (image.length !== ni * nj) throw new PreprocessError(`writeSliceIntoVolume: slice has ${image.length} pixels, expected ${ni}x${nj}`);
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= nk) {
    throw new PreprocessError(`writeSliceIntoVolume: slice index ${sliceIndex} is outside 0..${nk - 1}`);
  }
  const base = sliceIndex * ni * nj;
  for (let c = 0; c < nj; c++) {
    const col = base + c * ni;
    for (let r = 0; r < ni; r++) volume[col + r] = image[r * nj + c]!;
  }
}
