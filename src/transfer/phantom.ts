import { mulberry32, normalSampler } from '../metrics/prng.js';
import { centredAffine } from './elastix-transform.js';
import { createVolume } from '../volume/volume.js';
import type { Vec3, Volume } from '../volume/types.js';

/**
 * A T1 / "T2-like" pair of one synthetic scene for label-transfer tests and benchmarks.
 * The scene is analytic in T1 world space (mm): a soft-tissue cylinder holding two tubes (capsule-ended long
 * bones, slightly tilted) and two ellipsoids, each with a dark cortex and bright (T1) or dark (T2) marrow.
 * The target image shows the scene moved: its voxel at world q shows the scene at correction(q), so
 * `correction` (target point -> T1 point) is exactly what a registration should find.
 */
export interface TransferPhantomOptions {
  dims?: Vec3;
  spacing?: Vec3;
  /** Target grid (defaults: the T1 grid). */
  targetDims?: Vec3;
  targetSpacing?: Vec3;
  /** Row-major 4x4 RAS map target point -> T1 point (default identity). */
  correction?: Float64Array;
  /** Rotation (3x3 row-major) of both grids' axes in world space: oblique acquisitions (default identity). */
  gridRotation?: number[];
  /** Gaussian noise std relative to the tissue signal (default 0.04). */
  noise?: number;
  /** Strength of the target's multiplicative bias field (default 1: up to +-8% along x and y over a 64 mm field). */
  bias?: number;
  /** Scene size factor (default 1: a 60 mm wide knee-like section, long bones of 8.5 and 11 mm radius, fitting a 64 x 64 x 60 mm field of view). */
  scale?: number;
  seed?: number;
}

export interface TransferPhantom {
  t1: Volume;
  mask: Volume;
  target: Volume;
  /** The scene's bone mask sampled on the target grid: what a perfect transfer gives. */
  targetTruth: Volume;
}

type Shape = { kind: 'tube'; c: Vec3; d: Vec3; r: number; halfLength: number } | { kind: 'ellipsoid'; c: Vec3; r: Vec3 };

const SCENE: Shape[] = [
  { kind: 'tube', c: [-13, -5, 2], d: [0.08, 0.03, 1], r: 11, halfLength: 12 },
  { kind: 'tube', c: [13, 6, -2], d: [-0.05, 0.06, 1], r: 8.5, halfLength: 13 },
  { kind: 'ellipsoid', c: [-2, 18, 8], r: [8, 6, 12] },
  { kind: 'ellipsoid', c: [4, -19, -10], r: [7, 5.5, 10] },
];

/** Signed distance-like value (mm; < 0 inside) of a world point to a shape. */
function signedDistance(s: Shape, x: number, y: number, z: number): number {
  if (s.kind === 'tube') {
    const n = Math.hypot(...s.d);
    const [dx, dy, dz] = [s.d[0] / n, s.d[1] / n, s.d[2] / n];
    const px = x - s.c[0], py = y - s.c[1], pz = z - s.c[2];
    // A capsule: the tube's axis is a segment, so the whole bone stays inside the field of view.
    const along = Math.max(-s.halfLength, Math.min(s.halfLength, px * dx + py * dy + pz * dz));
    return Math.hypot(px - along * dx, py - along * dy, pz - along * dz) - s.r;
  }
  // Scaled distance: exact on the axes, close enough elsewhere for a smooth phantom.
  const q = Math.hypot((x - s.c[0]) / s.r[0], (y - s.c[1]) / s.r[1], (z - s.c[2]) / s.r[2]);
  return (q - 1) * Math.min(...s.r);
}

const smoothStep = (d: number, width: number): number => 1 / (1 + Math.exp(d / width)); // 1 inside, 0 outside

/** The scene at world point (mm): [intensity without noise/bias for the given contrast, inside-bone flag]. */
function scene(x: number, y: number, z: number, contrast: 't1' | 't2'): [number, boolean] {
  const tissue = smoothStep(Math.hypot(x / 30, y / 28) * 29 - 29, 0.8);
  let bone = 0, marrow = 0, inside = false;
  for (const s of SCENE) {
    const d = signedDistance(s, x, y, z);
    if (d < 0) inside = true;
    bone = Math.max(bone, smoothStep(d, 0.45));
    marrow = Math.max(marrow, smoothStep(d + 1.4, 0.45)); // cortex ~1.4 mm thick
  }
  const [tis, cortex, mar, air] = contrast === 't1' ? [400, 60, 850, 10] : [750, 40, 250, 10];
  const soft = air + (tis - air) * tissue;
  const withBone = soft + (cortex - soft) * bone;
  return [withBone + (mar - cortex) * marrow, inside];
}

/** Grid affine: axes rotated by R, voxel centres symmetric about the world origin. */
function gridAffine(dims: Vec3, spacing: Vec3, R: number[]): Float64Array {
  const A = new Float64Array(16);
  const half = dims.map((n, a) => ((n - 1) / 2) * spacing[a]!);
  for (let r = 0; r < 3; r++) {
    let t = 0;
    for (let c = 0; c < 3; c++) {
      A[4 * r + c] = R[3 * r + c]! * spacing[c]!;
      t -= R[3 * r + c]! * half[c]!;
    }
    A[4 * r + 3] = t;
  }
  A[15] = 1;
  return A;
}

function sampleGrid(dims: Vec3, affine: Float64Array, map: Float64Array | undefined, contrast: 't1' | 't2', noise: number, scale: number, biasStrength: number, rand: () => number): { image: Float32Array; mask: Uint8Array } {
  const n = dims[0] * dims[1] * dims[2];
  const image = new Float32Array(n);
  const mask = new Uint8Array(n);
  const gauss = normalSampler(rand);
  const sigma = noise * 400;
  let o = 0;
  for (let k = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++, o++) {
        let p = [0, 1, 2].map((r) => affine[4 * r]! * i + affine[4 * r + 1]! * j + affine[4 * r + 2]! * k + affine[4 * r + 3]!);
        const grid = p;
        if (map) p = [0, 1, 2].map((r) => map[4 * r]! * grid[0]! + map[4 * r + 1]! * grid[1]! + map[4 * r + 2]! * grid[2]! + map[4 * r + 3]!);
        const [v, inside] = scene(p[0]! / scale, p[1]! / scale, p[2]! / scale, contrast);
        // Bias field: smooth in the acquisition's own frame (it belongs to the coil, not the anatomy).
        const bias = contrast === 't2' ? 1 + biasStrength * (0.12 * Math.sin(grid[0]! / 40) + 0.08 * Math.cos(grid[1]! / 35)) : 1;
        image[o] = v * bias + sigma * gauss();
        mask[o] = inside ? 1 : 0;
      }
    }
  }
  return { image, mask };
}

/** Builds the pair (deterministic for a seed). */
export function makeTransferPhantom(opts: TransferPhantomOptions = {}): TransferPhantom {
  const dims = opts.dims ?? [64, 64, 20];
  const spacing = opts.spacing ?? [1, 1, 3];
  const targetDims = opts.targetDims ?? dims;
  const targetSpacing = opts.targetSpacing ?? spacing;
  const R = opts.gridRotation ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const rand = mulberry32(opts.seed ?? 1);
  const noise = opts.noise ?? 0.04;
  const t1Affine = gridAffine(dims, spacing, R);
  const targetAffine = gridAffine(targetDims, targetSpacing, R);
  const scale = opts.scale ?? 1;
  const t1 = sampleGrid(dims, t1Affine, undefined, 't1', noise, scale, 0, rand);
  const target = sampleGrid(targetDims, targetAffine, opts.correction, 't2', noise, scale, opts.bias ?? 1, rand);
  return {
    t1: createVolume(t1.image, dims, t1Affine),
    mask: createVolume(t1.mask, dims, Float64Array.from(t1Affine)),
    target: createVolume(target.image, targetDims, targetAffine),
    targetTruth: createVolume(target.mask, targetDims, Float64Array.from(targetAffine)),
  };
}

/** Row-major 4x4 of a rotation by `degrees` about `axis` (through `centre`) followed by a translation (mm). */
export function rigidMatrix(axis: Vec3, degrees: number, translation: Vec3, centre: Vec3 = [0, 0, 0]): Float64Array {
  const n = Math.hypot(...axis);
  const [x, y, z] = [axis[0] / n, axis[1] / n, axis[2] / n];
  const a = (degrees * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a), C = 1 - c;
  const R = [c + x * x * C, x * y * C - z * s, x * z * C + y * s, y * x * C + z * s, c + y * y * C, y * z * C - x * s, z * x * C - y * s, z * y * C + x * s, c + z * z * C];
  return centredAffine(R, centre, translation);
}
