import type { NiftiHeader } from './header.js';

/**
 * Voxel->RAS affine of a NIfTI header, following nibabel's `get_best_affine` after its load-time header fixes:
 *  - sform if sform_code != 0, else qform if qform_code != 0 (nibabel tests `!= 0`; negative codes are invalid anyway);
 *  - otherwise nibabel's "base affine": diag(-pixdim1, pixdim2, pixdim3) with the grid centre at the origin,
 *    i.e. translation = -(dim-1)/2 * zooms (x flipped, as for Analyze files). It is NOT plain diag(pixdim).
 * nibabel's fixes applied first: qfac (pixdim[0]) other than +-1 becomes 1; pixdim[1..3] zero becomes 1, negative becomes abs.
 */
export function niftiBestAffine(h: NiftiHeader): Float64Array {
  if (h.sformCode !== 0) return sformAffine(h);
  if (h.qformCode !== 0) return qformAffine(h);
  return baseAffine(h);
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
