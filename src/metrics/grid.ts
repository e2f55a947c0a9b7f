import { invertAffine } from '../volume/affine.js';
import { MetricsInputError } from './errors.js';

/** A voxel grid: dims plus the row-major 4x4 voxel->world (mm) affine. */
export interface MaskGrid {
  dims: readonly number[];
  affine: Float64Array | readonly number[];
}

/** Default tolerance on affine entries when deciding that two grids are the same. */
export const GRID_TOLERANCE = 1e-4;

/** Why two grids differ (dims, or the largest affine difference), or null when they match. */
export function gridMismatch(a: MaskGrid, b: MaskGrid, tolerance = GRID_TOLERANCE): string | null {
  for (let i = 0; i < 3; i++) {
    if (a.dims[i] !== b.dims[i]) return `dims differ ([${[...a.dims].join(', ')}] vs [${[...b.dims].join(', ')}])`;
  }
  let worst = 0;
  for (let i = 0; i < 16; i++) worst = Math.max(worst, Math.abs(a.affine[i] - b.affine[i]));
  if (worst > tolerance) return `voxel->world affines differ by up to ${worst.toPrecision(3)} (tolerance ${tolerance})`;
  return null;
}

/**
 * Nearest-neighbour resampling of `values` (on grid `from`) onto grid `to`, through world space:
 * each target voxel centre is mapped into the source grid and takes the nearest source voxel
 * (outside the source grid -> 0). Returns a Uint8Array of non-zero flags, i.e. a binary mask.
 */
export function resampleMaskNearest(values: ArrayLike<number>, from: MaskGrid, to: MaskGrid): Uint8Array {
  const [X, Y, Z] = [to.dims[0], to.dims[1], to.dims[2]];
  const [SX, SY, SZ] = [from.dims[0], from.dims[1], from.dims[2]];
  if (Math.abs(det3(from.affine)) < 1e-12) throw new MetricsInputError('voxel->world affine of the resampled mask is singular');
  const inv = invertAffine(Float64Array.from(from.affine));
  const A = to.affine;
  // target voxel -> source voxel is one affine map M = inv(from) * to
  const M = new Float64Array(12);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      M[4 * r + c] = inv[4 * r] * A[c] + inv[4 * r + 1] * A[4 + c] + inv[4 * r + 2] * A[8 + c] + (c === 3 ? inv[4 * r + 3] : 0);
    }
  }
  const out = new Uint8Array(X * Y * Z);
  let o = 0;
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++, o++) {
        const si = Math.round(M[0] * x + M[1] * y + M[2] * z + M[3]);
        const sj = Math.round(M[4] * x + M[5] * y + M[6] * z + M[7]);
        const sk = Math.round(M[8] * x + M[9] * y + M[10] * z + M[11]);
        if (si < 0 || sj < 0 || sk < 0 || si >= SX || sj >= SY || sk >= SZ) continue;
        out[o] = values[si + SX * (sj + SY * sk)] !== 0 ? 1 : 0;
      }
    }
  }
  return out;
}

function det3(m: Float64Array | readonly number[]): number {
  return m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) + m[2] * (m[4] * m[9] - m[5] * m[8]);
}
