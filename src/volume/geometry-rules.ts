import { spacingFromAffine } from './affine.js';

/**
 * The one definition of a usable voxel geometry, shared by every reader (NIfTI, NRRD, DICOM) so that volumes and mL
 * are never computed from a degenerate affine. Voxel sizes outside (1e-6 mm, 1e4 mm) are not MRI (a corrupted
 * float gives 4e-44 mm and a 0 mL result without a word), nor are non-finite or singular matrices.
 */
export const MIN_VOXEL_MM = 1e-6;
export const MAX_VOXEL_MM = 1e4;

/** A spacing value (mm) a grid can be built on: finite and within the limits above (sign ignored). */
export function usableSpacing(v: number | undefined): v is number {
  if (v === undefined || !Number.isFinite(v)) return false;
  const a = Math.abs(v);
  return a > MIN_VOXEL_MM && a < MAX_VOXEL_MM;
}

const fmt = (x: number): string => (Number.isFinite(x) && x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5) ? x.toExponential(2) : String(+x.toPrecision(6)));

/** Why a voxel->world affine (row-major 4x4) cannot be used, or undefined when it can. */
export function affineProblem(m: Float64Array): string | undefined {
  for (let i = 0; i < 12; i++) if (!Number.isFinite(m[i]!)) return 'it contains non-finite values';
  const sp = spacingFromAffine(m);
  const bad = sp.findIndex((s) => !usableSpacing(s));
  if (bad >= 0) return `its voxel size along axis ${bad} is ${fmt(sp[bad]!)} mm (a usable size is between ${MIN_VOXEL_MM} and ${MAX_VOXEL_MM} mm)`;
  // Singular: columns (nearly) parallel. |det| / product of column lengths is |sin| of the volume they span.
  const a = m[0]!, b = m[1]!, c = m[2]!, d = m[4]!, e = m[5]!, f = m[6]!, g = m[8]!, h = m[9]!, i = m[10]!;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (Math.abs(det) / (sp[0] * sp[1] * sp[2]) < 1e-6) return 'it is singular (its voxel axes are parallel)';
  return undefined;
}

export function formatMm(x: number): string {
  return fmt(x);
}
