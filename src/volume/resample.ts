import { invertAffine, multiply4 } from './affine.js';
import type { VoxelArray } from './types.js';

/** A voxel grid: dims plus the row-major 4x4 voxel->world (mm) affine. */
export interface WorldGrid {
  dims: readonly number[];
  affine: Float64Array | readonly number[];
}

export type LabelResampleMode = 'nearest' | 'majority';

export interface ResampleOptions {
  /**
   * Row-major 4x4 map from the target's world space to the source's world space (a registration result:
   * target point -> corresponding source point). Identity when omitted: the grids share one world.
   */
  targetToSourceWorld?: Float64Array;
}

export interface LabelResampleOptions extends ResampleOptions {
  /** 'nearest' (default): the source voxel nearest to the target voxel centre. 'majority': the most frequent
   * label among sub-samples spread over the target voxel (partial volume), background counted as a label. */
  mode?: LabelResampleMode;
  /** Cap on majority sub-samples per axis (default 5). */
  maxSubsamples?: number;
}

function det3(m: Float64Array | readonly number[]): number {
  return m[0]! * (m[5]! * m[10]! - m[6]! * m[9]!) - m[1]! * (m[4]! * m[10]! - m[6]! * m[8]!) + m[2]! * (m[4]! * m[9]! - m[5]! * m[8]!);
}

/**
 * The affine map target voxel index -> source voxel index, row-major 3x4:
 * inv(source.affine) * targetToSourceWorld * target.affine. Throws on a singular source affine.
 */
export function targetToSourceVoxelMap(source: WorldGrid, target: WorldGrid, targetToSourceWorld?: Float64Array): Float64Array {
  if (Math.abs(det3(source.affine)) < 1e-12) throw new Error('voxel->world affine of the resampled volume is singular');
  const inv = invertAffine(Float64Array.from(source.affine));
  const A = Float64Array.from(target.affine);
  return multiply4(inv, targetToSourceWorld ? multiply4(targetToSourceWorld, A) : A).subarray(0, 12);
}

/** An array of the same kind as `like`, or Uint8Array when `like` is a plain array. */
function sameKind(like: ArrayLike<number>, n: number): VoxelArray {
  const ctor = (ArrayBuffer.isView(like) ? like.constructor : Uint8Array) as new (n: number) => VoxelArray;
  return new ctor(n);
}

/**
 * Label values resampled from grid `source` onto grid `target` through world coordinates; target voxels whose
 * centre (nearest) or sub-samples (majority) fall outside the source grid get 0. Label values are kept (not
 * binarised) and the result has the input's array type. Nearest rounds half-way positions up (floor(x + 0.5)).
 */
export function resampleLabels(values: ArrayLike<number>, source: WorldGrid, target: WorldGrid, options: LabelResampleOptions = {}): VoxelArray {
  const [SX, SY, SZ] = [source.dims[0]!, source.dims[1]!, source.dims[2]!];
  if (values.length !== SX * SY * SZ) throw new Error(`resample: ${values.length} values for a ${SX}x${SY}x${SZ} grid`);
  const M = targetToSourceVoxelMap(source, target, options.targetToSourceWorld);
  const [X, Y, Z] = [target.dims[0]!, target.dims[1]!, target.dims[2]!];
  const out = sameKind(values, X * Y * Z);
  const mode = options.mode ?? 'nearest';
  // Sub-samples per target axis: how many source voxels one target step spans along that axis (1 = nearest).
  const maxSub = options.maxSubsamples ?? 5;
  const sub = [0, 1, 2].map((c) => (mode === 'majority' ? Math.min(maxSub, Math.max(1, Math.ceil(Math.max(Math.abs(M[c]!), Math.abs(M[4 + c]!), Math.abs(M[8 + c]!)) - 1e-6))) : 1));
  if (sub[0] === 1 && sub[1] === 1 && sub[2] === 1) {
    let o = 0;
    for (let z = 0; z < Z; z++) {
      for (let y = 0; y < Y; y++) {
        const bi = M[1]! * y + M[2]! * z + M[3]!;
        const bj = M[5]! * y + M[6]! * z + M[7]!;
        const bk = M[9]! * y + M[10]! * z + M[11]!;
        for (let x = 0; x < X; x++, o++) {
          const si = Math.floor(M[0]! * x + bi + 0.5);
          const sj = Math.floor(M[4]! * x + bj + 0.5);
          const sk = Math.floor(M[8]! * x + bk + 0.5);
          if (si < 0 || sj < 0 || sk < 0 || si >= SX || sj >= SY || sk >= SZ) continue;
          out[o] = values[si + SX * (sj + SY * sk)]!;
        }
      }
    }
    return out;
  }
  // Majority: offsets (in target voxel units) of the sub-sample lattice, centred on the voxel centre.
  const offsets: number[] = [];
  for (let c = 0; c < sub[2]!; c++) {
    for (let b = 0; b < sub[1]!; b++) {
      for (let a = 0; a < sub[0]!; a++) offsets.push((a + 0.5) / sub[0]! - 0.5, (b + 0.5) / sub[1]! - 0.5, (c + 0.5) / sub[2]! - 0.5);
    }
  }
  const nSub = offsets.length / 3;
  const labels = new Float64Array(nSub);
  const counts = new Int32Array(nSub);
  let o = 0;
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++, o++) {
        let distinct = 0;
        for (let s = 0; s < nSub; s++) {
          const px = x + offsets[3 * s]!, py = y + offsets[3 * s + 1]!, pz = z + offsets[3 * s + 2]!;
          const si = Math.floor(M[0]! * px + M[1]! * py + M[2]! * pz + M[3]! + 0.5);
          const sj = Math.floor(M[4]! * px + M[5]! * py + M[6]! * pz + M[7]! + 0.5);
          const sk = Math.floor(M[8]! * px + M[9]! * py + M[10]! * pz + M[11]! + 0.5);
          const v = si < 0 || sj < 0 || sk < 0 || si >= SX || sj >= SY || sk >= SZ ? 0 : values[si + SX * (sj + SY * sk)]!;
          let d = 0;
          while (d < distinct && labels[d] !== v) d++;
          if (d === distinct) {
            labels[d] = v;
            counts[d] = 0;
            distinct++;
          }
          counts[d]!++;
        }
        // Ties go to the label seen first, i.e. nearest the lattice's first corner; then prefer foreground.
        let best = 0;
        for (let d = 1; d < distinct; d++) {
          if (counts[d]! > counts[best]! || (counts[d] === counts[best] && labels[best] === 0)) best = d;
        }
        out[o] = labels[best]!;
      }
    }
  }
  return out;
}

/**
 * Trilinear resampling of intensities from `source` onto `target` through world coordinates (float32 out).
 * Target voxels mapping outside the source grid get `outside` (default NaN, so statistics can skip them).
 */
export function resampleLinear(values: ArrayLike<number>, source: WorldGrid, target: WorldGrid, options: ResampleOptions & { outside?: number } = {}): Float32Array {
  const [SX, SY, SZ] = [source.dims[0]!, source.dims[1]!, source.dims[2]!];
  if (values.length !== SX * SY * SZ) throw new Error(`resample: ${values.length} values for a ${SX}x${SY}x${SZ} grid`);
  const M = targetToSourceVoxelMap(source, target, options.targetToSourceWorld);
  const [X, Y, Z] = [target.dims[0]!, target.dims[1]!, target.dims[2]!];
  const outside = options.outside ?? NaN;
  const out = new Float32Array(X * Y * Z);
  const plane = SX * SY;
  let o = 0;
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++, o++) {
        const fi = M[0]! * x + M[1]! * y + M[2]! * z + M[3]!;
        const fj = M[4]! * x + M[5]! * y + M[6]! * z + M[7]!;
        const fk = M[8]! * x + M[9]! * y + M[10]! * z + M[11]!;
        // Positions within half a voxel of the edge clamp to it (edge voxels extend to their outer face).
        if (fi < -0.5 || fj < -0.5 || fk < -0.5 || fi > SX - 0.5 || fj > SY - 0.5 || fk > SZ - 0.5) {
          out[o] = outside;
          continue;
        }
        const ci = Math.min(Math.max(fi, 0), SX - 1), cj = Math.min(Math.max(fj, 0), SY - 1), ck = Math.min(Math.max(fk, 0), SZ - 1);
        const i0 = Math.floor(ci), j0 = Math.floor(cj), k0 = Math.floor(ck);
        const i1 = Math.min(i0 + 1, SX - 1), j1 = Math.min(j0 + 1, SY - 1), k1 = Math.min(k0 + 1, SZ - 1);
        const u = ci - i0, v = cj - j0, w = ck - k0;
        const a00 = values[i0 + SX * j0 + plane * k0]! * (1 - u) + values[i1 + SX * j0 + plane * k0]! * u;
        const a10 = values[i0 + SX * j1 + plane * k0]! * (1 - u) + values[i1 + SX * j1 + plane * k0]! * u;
        const a01 = values[i0 + SX * j0 + plane * k1]! * (1 - u) + values[i1 + SX * j0 + plane * k1]! * u;
        const a11 = values[i0 + SX * j1 + plane * k1]! * (1 - u) + values[i1 + SX * j1 + plane * k1]! * u;
        out[o] = (a00 * (1 - v) + a10 * v) * (1 - w) + (a01 * (1 - v) + a11 * v) * w;
      }
    }
  }
  return out;
}

/** World-space corners (mm) of a grid's voxel-centre box. */
function worldCorners(grid: WorldGrid): number[][] {
  const A = grid.affine;
  const out: number[][] = [];
  for (const k of [0, grid.dims[2]! - 1]) {
    for (const j of [0, grid.dims[1]! - 1]) {
      for (const i of [0, grid.dims[0]! - 1]) {
        out.push([0, 1, 2].map((r) => A[4 * r]! * i + A[4 * r + 1]! * j + A[4 * r + 2]! * k + A[4 * r + 3]!));
      }
    }
  }
  return out;
}

/**
 * Fraction of `target`'s voxel centres that map inside `source`'s grid (through targetToSourceWorld); 0 means
 * the grids do not overlap in world space. Counted on a lattice of at most ~32^3 target points, so it is cheap.
 */
export function gridOverlapFraction(source: WorldGrid, target: WorldGrid, options: ResampleOptions = {}): number {
  const M = targetToSourceVoxelMap(source, target, options.targetToSourceWorld);
  const steps = [0, 1, 2].map((a) => Math.max(1, Math.ceil(target.dims[a]! / 32)));
  let inside = 0;
  let total = 0;
  for (let z = 0; z < target.dims[2]!; z += steps[2]!) {
    for (let y = 0; y < target.dims[1]!; y += steps[1]!) {
      for (let x = 0; x < target.dims[0]!; x += steps[0]!) {
        total++;
        const fi = M[0]! * x + M[1]! * y + M[2]! * z + M[3]!;
        const fj = M[4]! * x + M[5]! * y + M[6]! * z + M[7]!;
        const fk = M[8]! * x + M[9]! * y + M[10]! * z + M[11]!;
        if (fi >= -0.5 && fj >= -0.5 && fk >= -0.5 && fi <= source.dims[0]! - 0.5 && fj <= source.dims[1]! - 0.5 && fk <= source.dims[2]! - 0.5) inside++;
      }
    }
  }
  return inside / total;
}

/** Axis-aligned world bounding box [min, max] (mm) of a grid's voxel centres, for error messages. */
export function worldBounds(grid: WorldGrid): [number[], number[]] {
  const c = worldCorners(grid);
  const lo = [0, 1, 2].map((r) => Math.min(...c.map((p) => p[r]!)));
  const hi = [0, 1, 2].map((r) => Math.max(...c.map((p) => p[r]!)));
  return [lo, hi];
}

/**
 * Block-average downsampling by integer factors per axis (a partial last block averages what it has). The affine
 * puts each output voxel at the centre of its block, so world positions are kept: A' = A [diag(f) | (f - 1) / 2].
 */
export function downsampleByBlocks(values: ArrayLike<number>, grid: WorldGrid, factors: readonly number[]): { data: Float32Array; dims: [number, number, number]; affine: Float64Array } {
  const [X, Y, Z] = [grid.dims[0]!, grid.dims[1]!, grid.dims[2]!];
  const [fx, fy, fz] = [factors[0]!, factors[1]!, factors[2]!];
  const dims: [number, number, number] = [Math.ceil(X / fx), Math.ceil(Y / fy), Math.ceil(Z / fz)];
  const sum = new Float64Array(dims[0] * dims[1] * dims[2]);
  const count = new Uint16Array(sum.length);
  let i = 0;
  for (let z = 0; z < Z; z++) {
    const oz = Math.floor(z / fz) * dims[0] * dims[1];
    for (let y = 0; y < Y; y++) {
      const oy = oz + Math.floor(y / fy) * dims[0];
      for (let x = 0; x < X; x++, i++) {
        const o = oy + Math.floor(x / fx);
        sum[o]! += values[i]!;
        count[o]!++;
      }
    }
  }
  const data = new Float32Array(sum.length);
  for (let o = 0; o < data.length; o++) data[o] = sum[o]! / count[o]!;
  const A = grid.affine;
  const affine = new Float64Array(16);
  for (let r = 0; r < 3; r++) {
    affine[4 * r + 3] = A[4 * r + 3]!;
    for (let c = 0; c < 3; c++) {
      affine[4 * r + c] = A[4 * r + c]! * factors[c]!;
      affine[4 * r + 3] += A[4 * r + c]! * (factors[c]! - 1) / 2;
    }
  }
  affine[15] = 1;
  return { data, dims, affine };
}
