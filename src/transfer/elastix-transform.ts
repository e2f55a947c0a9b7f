import { multiply4, identity4, flipXY } from '../volume/affine.js';

/** One elastix parameter map as @itk-wasm/elastix represents it: every value a list of strings. */
export type ElastixParameterMap = Record<string, string[]>;
/** A transform parameter object: stages applied in order (each map's initial transform is the previous map). */
export type ElastixParameterObject = ElastixParameterMap[];

export class TransformError extends Error {
  override name = 'TransformError';
}

function numbers(map: ElastixParameterMap, key: string, count: number, where: string): number[] {
  const raw = map[key];
  if (!raw) throw new TransformError(`${where}: missing ${key}`);
  const v = raw.map(Number);
  if (v.length !== count || v.some((x) => !Number.isFinite(x))) {
    throw new TransformError(`${where}: ${key} must hold ${count} numbers, got (${raw.join(' ')})`);
  }
  return v;
}

function first(map: ElastixParameterMap, key: string): string | undefined {
  return map[key]?.[0];
}

/** itk::Euler3DTransform's matrix: Rz*Rx*Ry by default, Rz*Ry*Rx with ComputeZYX. Row-major 3x3. */
function eulerMatrix(ax: number, ay: number, az: number, zyx: boolean): number[] {
  const [cx, sx, cy, sy, cz, sz] = [Math.cos(ax), Math.sin(ax), Math.cos(ay), Math.sin(ay), Math.cos(az), Math.sin(az)];
  const rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx];
  const ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const rz = [cz, -sz, 0, sz, cz, 0, 0, 0, 1];
  return zyx ? mul3(rz, mul3(ry, rx)) : mul3(rz, mul3(rx, ry));
}

export function mul3(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) out[3 * r + c]! += a[3 * r + k]! * b[3 * k + c]!;
  return out;
}

/** Row-major 4x4 of x -> A (x - c) + c + t (A row-major 3x3). */
export function centredAffine(A: readonly number[], c: readonly number[], t: readonly number[]): Float64Array {
  const m = identity4();
  for (let r = 0; r < 3; r++) {
    let off = c[r]! + t[r]!;
    for (let k = 0; k < 3; k++) {
      m[4 * r + k] = A[3 * r + k]!;
      off -= A[3 * r + k]! * c[k]!;
    }
    m[4 * r + 3] = off;
  }
  return m;
}

/**
 * One elastix stage as a 4x4 map in elastix's own (ITK, LPS) physical space: fixed point -> moving point.
 * Supports TranslationTransform, EulerTransform, AffineTransform (3-D); anything else is an error.
 */
export function stageMatrixLps(map: ElastixParameterMap, where = 'transform'): Float64Array {
  const kind = first(map, 'Transform');
  const dim = Number(first(map, 'FixedImageDimension') ?? '3');
  if (dim !== 3) throw new TransformError(`${where}: only 3-D transforms are supported (FixedImageDimension ${dim})`);
  const how = first(map, 'HowToCombineTransforms') ?? 'Compose';
  if (how !== 'Compose') throw new TransformError(`${where}: HowToCombineTransforms ${how} is not supported (only Compose)`);
  switch (kind) {
    case 'TranslationTransform': {
      const t = numbers(map, 'TransformParameters', 3, where);
      return centredAffine([1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0], t);
    }
    case 'EulerTransform': {
      const p = numbers(map, 'TransformParameters', 6, where);
      const c = numbers(map, 'CenterOfRotationPoint', 3, where);
      return centredAffine(eulerMatrix(p[0]!, p[1]!, p[2]!, first(map, 'ComputeZYX') === 'true'), c, p.slice(3));
    }
    case 'AffineTransform': {
      const p = numbers(map, 'TransformParameters', 12, where);
      const c = numbers(map, 'CenterOfRotationPoint', 3, where);
      return centredAffine(p.slice(0, 9), c, p.slice(9));
    }
    default:
      throw new TransformError(`${where}: Transform ${kind ?? '(missing)'} is not supported; use a TranslationTransform, EulerTransform or AffineTransform file`);
  }
}

/**
 * A whole parameter object as one 4x4 map in RAS+ world (mm): fixed (target) point -> moving (source) point.
 * Stages compose as elastix does: T(x) = T_last(...T_first(x)).
 */
export function parameterObjectToWorld(obj: ElastixParameterObject, where = 'transform'): Float64Array {
  if (obj.length === 0) throw new TransformError(`${where}: no transform parameter maps`);
  let lps = identity4();
  obj.forEach((map, i) => {
    lps = multiply4(stageMatrixLps(map, obj.length > 1 ? `${where} (stage ${i + 1})` : where), lps);
  });
  // ITK works in LPS; our affines are RAS: flip x and y on both sides (diag(-1,-1,1) is its own inverse).
  return flipXY(flipColumnsXY(lps));
}

/** Right-multiplication by diag(-1,-1,1,1): flips columns 0 and 1 (flipXY flips rows). */
function flipColumnsXY(m: Float64Array): Float64Array {
  const out = Float64Array.from(m);
  for (let r = 0; r < 4; r++) {
    out[4 * r] = -out[4 * r]! + 0;
    out[4 * r + 1] = -out[4 * r + 1]! + 0;
  }
  return out;
}

/** ITK image geometry (LPS) of a RAS voxel->world affine: size, spacing, origin, direction. */
export function itkGeometry(grid: { dims: readonly number[]; spacing: readonly number[]; affine: Float64Array }): {
  size: number[]; spacing: number[]; origin: number[]; directionRowMajor: number[];
} {
  const lps = flipXY(grid.affine);
  const spacing = [0, 1, 2].map((c) => Math.hypot(lps[c]!, lps[4 + c]!, lps[8 + c]!));
  const dirRow: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) dirRow.push(lps[4 * r + c]! / spacing[c]!);
  return { size: [...grid.dims], spacing, origin: [lps[3]!, lps[7]!, lps[11]!], directionRowMajor: dirRow };
}

/** Nearest rotation to a 3x3 (polar decomposition by Newton iteration), for reporting affine transforms. */
function nearestRotation(A: readonly number[]): number[] {
  let R = [...A];
  for (let it = 0; it < 50; it++) {
    const inv = inverse3(R);
    const next = R.map((v, i) => 0.5 * (v + inv[3 * (i % 3) + Math.floor(i / 3)]!)); // (R + R^-T) / 2
    const delta = Math.max(...next.map((v, i) => Math.abs(v - R[i]!)));
    R = next;
    if (delta < 1e-14) break;
  }
  return R;
}

function inverse3(m: readonly number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/** Rotation angle (degrees) of the 3x3 part of a 4x4 (of its nearest rotation when it is a general affine). */
export function rotationDegrees(m: Float64Array): number {
  const R = nearestRotation([m[0]!, m[1]!, m[2]!, m[4]!, m[5]!, m[6]!, m[8]!, m[9]!, m[10]!]);
  const cos = Math.min(1, Math.max(-1, (R[0]! + R[4]! + R[8]! - 1) / 2));
  return (Math.acos(cos) * 180) / Math.PI;
}
