import type { Vec3 } from './types.js';

/** Row-major 4x4 helpers for voxel->world affines. */

export function identity4(): Float64Array {
  const m = new Float64Array(16);
  m[0] = m[5] = m[10] = m[15] = 1;
  return m;
}

export function mat4(rows: number[][]): Float64Array {
  const m = identity4();
  for (let r = 0; r < rows.length && r < 4; r++) {
    const row = rows[r]!;
    for (let c = 0; c < 4; c++) m[r * 4 + c] = row[c] ?? m[r * 4 + c]!;
  }
  return m;
}

export function multiply4(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(16);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r * 4 + k]! * b[k * 4 + c]!;
      out[r * 4 + c] = s;
    }
  }
  return out;
}

/** Inverse of an affine (last row 0 0 0 1); throws if the 3x3 part is singular. */
export function invertAffine(m: Float64Array): Float64Array {
  const a = m[0]!, b = m[1]!, c = m[2]!, d = m[4]!, e = m[5]!, f = m[6]!, g = m[8]!, h = m[9]!, i = m[10]!;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new Error('affine is singular');
  const inv = new Float64Array(16);
  inv[0] = A / det; inv[1] = -(b * i - c * h) / det; inv[2] = (b * f - c * e) / det;
  inv[4] = B / det; inv[5] = (a * i - c * g) / det; inv[6] = -(a * f - c * d) / det;
  inv[8] = C / det; inv[9] = -(a * h - b * g) / det; inv[10] = (a * e - b * d) / det;
  for (let r = 0; r < 3; r++) {
    inv[r * 4 + 3] = -(inv[r * 4]! * m[3]! + inv[r * 4 + 1]! * m[7]! + inv[r * 4 + 2]! * m[11]!);
  }
  inv[15] = 1;
  return inv;
}

/** World position of voxel (i, j, k). */
export function voxelToWorld(m: Float64Array, ijk: Vec3): Vec3 {
  const [i, j, k] = ijk;
  return [
    m[0]! * i + m[1]! * j + m[2]! * k + m[3]!,
    m[4]! * i + m[5]! * j + m[6]! * k + m[7]!,
    m[8]! * i + m[9]! * j + m[10]! * k + m[11]!,
  ];
}

/** Length of each voxel axis (columns of the 3x3 part) = voxel spacing in mm. */
export function spacingFromAffine(m: Float64Array): Vec3 {
  const col = (c: number): number => Math.hypot(m[c]!, m[4 + c]!, m[8 + c]!);
  return [col(0), col(1), col(2)];
}

/** Flip world x and y: RAS <-> LPS (the same matrix both ways). */
export function flipXY(m: Float64Array): Float64Array {
  const out = Float64Array.from(m);
  for (let c = 0; c < 4; c++) {
    out[c] = -out[c]! + 0; // + 0 keeps zeros positive (no -0 in printed affines)
    out[4 + c] = -out[4 + c]! + 0;
  }
  return out;
}

export const lpsToRas = flipXY;
export const rasToLps = flipXY;

/**
 * Three-letter code naming the world direction each voxel axis increases towards, in the affine's own frame
 * (RAS+ affines: 'RAS' means i->Right, j->Anterior, k->Superior). Uses the dominant component per axis,
 * resolving ties greedily so each world axis is used once (as nibabel's aff2axcodes does for clean affines).
 */
export function orientationCode(m: Float64Array, labels: [string, string][] = [['L', 'R'], ['P', 'A'], ['I', 'S']]): string {
  const used = [false, false, false];
  const codes = ['', '', ''];
  // Assign axes in order of how strongly they align with a world axis so oblique affines stay consistent.
  const cand: { axis: number; world: number; w: number }[] = [];
  for (let c = 0; c < 3; c++) {
    const n = Math.hypot(m[c]!, m[4 + c]!, m[8 + c]!) || 1;
    for (let r = 0; r < 3; r++) cand.push({ axis: c, world: r, w: Math.abs(m[r * 4 + c]!) / n });
  }
  cand.sort((x, y) => y.w - x.w);
  const done = [false, false, false];
  for (const { axis, world } of cand) {
    if (done[axis] || used[world]) continue;
    done[axis] = true;
    used[world] = true;
    const v = m[world * 4 + axis]!;
    codes[axis] = v >= 0 ? labels[world]![1] : labels[world]![0];
  }
  return codes.join('');
}

export function affinesClose(a: Float64Array, b: Float64Array, tol = 1e-6): boolean {
  for (let i = 0; i < 16; i++) if (Math.abs(a[i]! - b[i]!) > tol) return false;
  return true;
}

export function affineToRows(m: Float64Array): number[][] {
  return [0, 1, 2, 3].map((r) => [m[r * 4]!, m[r * 4 + 1]!, m[r * 4 + 2]!, m[r * 4 + 3]!]);
}
