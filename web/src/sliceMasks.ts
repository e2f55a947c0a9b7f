/**
 * Slice helpers for masks stored like the volume: voxel (i, j, k) at i + j*ni + k*ni*nj. The
 * viewer edits slices of the third voxel axis (the official slicing axis).
 */

export type Dims = readonly [number, number, number];

export function sliceSize(dims: Dims): number {
  return dims[0] * dims[1];
}

/** A copy of slice k. */
export function readSlice(mask: Uint8Array, dims: Dims, k: number): Uint8Array {
  const n = sliceSize(dims);
  return mask.slice(k * n, (k + 1) * n);
}

export function writeSlice(mask: Uint8Array, dims: Dims, k: number, slice: Uint8Array): void {
  const n = sliceSize(dims);
  if (slice.length !== n) throw new Error(`slice has ${slice.length} voxels, expected ${n}`);
  mask.set(slice, k * n);
}

/** Row-major (rows = i, cols = j) slice image, as the pipeline returns it -> the volume's own slice layout (i fastest). */
export function rowsIToSlice(image: Uint8Array, ni: number, nj: number): Uint8Array {
  const out = new Uint8Array(ni * nj);
  for (let i = 0; i < ni; i++) {
    const row = i * nj;
    for (let j = 0; j < nj; j++) out[i + j * ni] = image[row + j]!;
  }
  return out;
}

export function countOnes(mask: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < mask.length; p++) n += mask[p]!;
  return n;
}

/** Bone volume in millilitres: voxel count x voxel volume (mm^3) / 1000. */
export function boneVolumeMl(mask: Uint8Array, spacing: readonly [number, number, number]): number {
  return (countOnes(mask) * spacing[0] * spacing[1] * spacing[2]) / 1000;
}
