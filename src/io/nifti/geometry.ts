import { affineProblem, formatMm, usableSpacing } from '../../volume/geometry-rules.js';
import type { NiftiHeader } from './header.js';

/** NIFTI_XFORM_* codes: 1 scanner, 2 aligned, 3 Talairach, 4 MNI-152, 5 template (nibabel knows the same set). */
const VALID_XFORM_CODES = new Set([0, 1, 2, 3, 4, 5]);

export interface NiftiGeometry {
  /** Voxel->RAS affine, never degenerate (see volume/geometry-rules.ts). */
  affine: Float64Array;
  /** Which header fields it came from. */
  from: 'sform' | 'qform' | 'pixdim';
  /** What was ignored or assumed on the way, for the user (empty for a clean header). */
  warnings: string[];
}

/** Thrown when no usable geometry can be derived; the reader reports it as the file's one error. */
export class NiftiGeometryError extends Error {
  override name = 'NiftiGeometryError';
}

/**
 * The voxel->RAS affine of a NIfTI header: nibabel's `get_best_affine` after its load-time fixes, plus the project's
 * rule that a degenerate transform is never used (volume/geometry-rules.ts):
 *  - a qform/sform code outside 0..5 is invalid and counts as 0 (unknown), as nibabel's header check fixes it;
 *  - sform if its code is set, else qform if its code is set, else nibabel's "base affine" from pixdim:
 *    diag(-pixdim1, pixdim2, pixdim3) with the grid centre at the origin (NOT plain diag(pixdim));
 *  - a chosen form that is non-finite, singular or has an absurd voxel size (<= 1e-6 or >= 1e4 mm) is skipped with a
 *    warning for the next one; the base affine then needs sane pixdims, else NiftiGeometryError;
 *  - pixdim[1..3] NaN/Inf/0 becomes 1 mm with a warning naming the axis; a negative one its absolute value (nibabel).
 */
export function niftiGeometry(h: NiftiHeader): NiftiGeometry {
  const warnings: string[] = [];
  const code = (name: 'sform' | 'qform', c: number): number => {
    if (VALID_XFORM_CODES.has(c)) return c;
    warnings.push(`${name}_code ${c} is not a valid NIfTI transform code (0..5); the ${name} is ignored, as nibabel does`);
    return 0;
  };
  const candidates: ['sform' | 'qform', () => Float64Array][] = [];
  if (code('sform', h.sformCode) !== 0) candidates.push(['sform', () => sformAffine(h)]);
  if (code('qform', h.qformCode) !== 0) candidates.push(['qform', () => qformAffine(h)]);
  for (const [name, build] of candidates) {
    let affine: Float64Array;
    let problem: string | undefined;
    try {
      affine = build();
      problem = affineProblem(affine);
    } catch (e) {
      problem = (e as Error).message;
    }
    if (problem === undefined) {
      if (name === 'qform') warnings.push(...zoomWarnings(h));
      return { affine: affine!, from: name, warnings };
    }
    warnings.push(`the ${name} is unusable (${problem}); ignored`);
  }
  const degenerate = candidates.length > 0;
  const zw = zoomWarnings(h);
  if (degenerate && zw.length > 0) {
    throw new NiftiGeometryError(`${warnings.join('; ')}; and pixdim [${h.pixdim.slice(1, 4).join(', ')}] gives no usable voxel size either`);
  }
  const affine = baseAffine(h);
  const problem = affineProblem(affine);
  if (problem !== undefined) throw new NiftiGeometryError(`no usable geometry: the pixdim-based affine is unusable (${problem})`);
  if (degenerate) warnings.push(`using the pixdim spacing ${fixedZooms(h).map(formatMm).join(' x ')} mm with nibabel's base affine instead`);
  warnings.push(...zw);
  return { affine, from: 'pixdim', warnings };
}

/** niftiGeometry's affine (for callers that only need the matrix). */
export function niftiBestAffine(h: NiftiHeader): Float64Array {
  return niftiGeometry(h).affine;
}

/** One warning per pixdim[1..3] that is NaN, infinite or 0 and is taken as 1 mm. */
function zoomWarnings(h: NiftiHeader): string[] {
  const out: string[] = [];
  for (let a = 1; a <= 3; a++) {
    const v = h.pixdim[a];
    if (v === undefined || v === 0 || !Number.isFinite(v)) out.push(`pixdim[${a}] is ${v}; assuming a spacing of 1 mm along axis ${a - 1}`);
    else if (!usableSpacing(v)) out.push(`pixdim[${a}] is ${formatMm(v)} mm, not a usable voxel size`);
  }
  return out;
}

export function fixedZooms(h: NiftiHeader): [number, number, number] {
  const z = [h.pixdim[1] ?? 1, h.pixdim[2] ?? 1, h.pixdim[3] ?? 1].map((v) => (v === 0 || !Number.isFinite(v) ? 1 : Math.abs(v)));
  return [z[0]!, z[1]!, z[2]!];
}

export function sformAffine(h: NiftiHeader): Float64Array {
  const m = new Float64Array(16);
  m.set(h.srowX, 0);
  m.set(h.srowY, 4);
  m.set(h.srowZ, 8);
  m[15] = 1;
  return m;
}

/** Quaternion threshold as nibabel: 3 eps of the header's float type. */
function quaternionW(h: NiftiHeader): number {
  const b = h.quaternB, c = h.quaternC, d = h.quaternD;
  const w2 = 1 - (b * b + c * c + d * d);
  const thresh = -3 * (h.version === 1 ? 2 ** -23 : 2 ** -52);
  if (w2 < 0) {
    if (w2 < thresh) throw new Error(`qform quaternion (b,c,d)=(${b}, ${c}, ${d}) has norm > 1`);
    return 0;
  }
  return Math.sqrt(w2);
}

export function quaternionToMatrix(w: number, x: number, y: number, z: number): number[][] {
  const n = w * w + x * x + y * y + z * z;
  if (n < 1e-15) return [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  const s = 2 / n;
  const X = x * s, Y = y * s, Z = z * s;
  return [
    [1 - (y * Y + z * Z), x * Y - w * Z, x * Z + w * Y],
    [x * Y + w * Z, 1 - (x * X + z * Z), y * Z - w * X],
    [x * Z - w * Y, y * Z + w * X, 1 - (x * X + y * Y)],
  ];
}

export function qformAffine(h: NiftiHeader): Float64Array {
  const R = quaternionToMatrix(quaternionW(h), h.quaternB, h.quaternC, h.quaternD);
  const zooms = fixedZooms(h);
  const qfac = h.pixdim[0] === -1 ? -1 : 1;
  zooms[2] *= qfac;
  const m = new Float64Array(16);
  const t = [h.qoffsetX, h.qoffsetY, h.qoffsetZ];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) m[r * 4 + c] = R[r]![c]! * zooms[c]!;
    m[r * 4 + 3] = t[r]!;
  }
  m[15] = 1;
  return m;
}

export function baseAffine(h: NiftiHeader): Float64Array {
  const zooms = fixedZooms(h);
  zooms[0] = -zooms[0];
  const nd = h.dim[0]!;
  const m = new Float64Array(16);
  for (let a = 0; a < 3; a++) {
    const n = a < nd ? h.dim[a + 1]! : 1;
    m[a * 5] = zooms[a]!;
    m[a * 4 + 3] = (-(n - 1) / 2) * zooms[a]!;
  }
  m[15] = 1;
  return m;
}

/** Rotation (proper, det +1) -> unit quaternion [w, x, y, z] with w >= 0 (Shepperd's method). */
export function matrixToQuaternion(R: number[][]): [number, number, number, number] {
  const [r00, r01, r02] = R[0]!, [r10, r11, r12] = R[1]!, [r20, r21, r22] = R[2]!;
  const tr = r00! + r11! + r22!;
  let w: number, x: number, y: number, z: number;
  if (tr > 0) {
    const S = Math.sqrt(tr + 1) * 2;
    w = 0.25 * S; x = (r21! - r12!) / S; y = (r02! - r20!) / S; z = (r10! - r01!) / S;
  } else if (r00! > r11! && r00! > r22!) {
    const S = Math.sqrt(1 + r00! - r11! - r22!) * 2;
    w = (r21! - r12!) / S; x = 0.25 * S; y = (r01! + r10!) / S; z = (r02! + r20!) / S;
  } else if (r11! > r22!) {
    const S = Math.sqrt(1 + r11! - r00! - r22!) * 2;
    w = (r02! - r20!) / S; x = (r01! + r10!) / S; y = 0.25 * S; z = (r12! + r21!) / S;
  } else {
    const S = Math.sqrt(1 + r22! - r00! - r11!) * 2;
    w = (r10! - r01!) / S; x = (r02! + r20!) / S; y = (r12! + r21!) / S; z = 0.25 * S;
  }
  const n = Math.hypot(w, x, y, z);
  const sign = w < 0 ? -1 : 1;
  return [(sign * w) / n, (sign * x) / n, (sign * y) / n, (sign * z) / n];
}

function det3(m: number[][]): number {
  const [a, b, c] = m[0]!, [d, e, f] = m[1]!, [g, hh, i] = m[2]!;
  return a! * (e! * i! - f! * hh!) - b! * (d! * i! - f! * g!) + c! * (d! * hh! - e! * g!);
}

/** Nearest orthogonal matrix (polar decomposition by Newton iteration X <- (X + X^-T)/2). */
function orthogonalize(R: number[][]): number[][] {
  let X = R.map((r) => [...r]);
  for (let it = 0; it < 30; it++) {
    const d = det3(X);
    if (Math.abs(d) < 1e-12) break;
    // inverse transpose = cofactor matrix / det
    const cof = [0, 1, 2].map((r) => [0, 1, 2].map((c) => {
      const rows = [0, 1, 2].filter((k) => k !== r), cols = [0, 1, 2].filter((k) => k !== c);
      const minor = X[rows[0]!]![cols[0]!]! * X[rows[1]!]![cols[1]!]! - X[rows[0]!]![cols[1]!]! * X[rows[1]!]![cols[0]!]!;
      return ((r + c) % 2 === 0 ? 1 : -1) * minor / d;
    }));
    let delta = 0;
    const next = X.map((row, r) => row.map((v, c) => {
      const nv = (v + cof[r]![c]!) / 2;
      delta = Math.max(delta, Math.abs(nv - v));
      return nv;
    }));
    X = next;
    if (delta < 1e-15) break;
  }
  return X;
}

/** Store `affine` in the header's qform fields (as nibabel's set_qform: zooms from column norms, qfac from det sign). */
export function setQform(h: NiftiHeader, affine: Float64Array, code: number): void {
  const zooms = [0, 1, 2].map((c) => Math.hypot(affine[c]!, affine[4 + c]!, affine[8 + c]!));
  const R = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r * 4 + c]! / (zooms[c] || 1)));
  let qfac = 1;
  if (det3(R) < 0) {
    qfac = -1;
    for (let r = 0; r < 3; r++) R[r]![2] = -R[r]![2]!;
  }
  const [, b, c, d] = matrixToQuaternion(orthogonalize(R));
  h.quaternB = b; h.quaternC = c; h.quaternD = d;
  h.qoffsetX = affine[3]!; h.qoffsetY = affine[7]!; h.qoffsetZ = affine[11]!;
  h.pixdim = [qfac, zooms[0]!, zooms[1]!, zooms[2]!, ...h.pixdim.slice(4)];
  h.qformCode = code;
}

export function setSform(h: NiftiHeader, affine: Float64Array, code: number): void {
  h.srowX = Array.from(affine.subarray(0, 4));
  h.srowY = Array.from(affine.subarray(4, 8));
  h.srowZ = Array.from(affine.subarray(8, 12));
  h.sformCode = code;
}
