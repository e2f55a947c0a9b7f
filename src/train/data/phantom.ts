import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { writeVolume } from '../../io/dispatch.js';
import { mulberry32, normalSampler } from '../../metrics/prng.js';
import type { Vec3, Volume } from '../../volume/types.js';

export class PhantomError extends Error {
  override name = 'PhantomError';
}

/** A bone: a (possibly tilted, tapering) tube along K or an ellipsoid, with a cortex shell of thickness `cortex` voxels. */
type Bone =
  | { kind: 'tube'; ci: number; cj: number; di: number; dj: number; k0: number; k1: number; radius: number; wobble: number; cortex: number }
  | { kind: 'ellipsoid'; ci: number; cj: number; ck: number; ri: number; rj: number; rk: number; cortex: number };

export interface PhantomCase {
  image: Volume;
  mask: Volume;
  bones: number;
  location: string;
  sequence: string;
}

export interface PhantomOptions {
  dims?: Vec3;
  /** Gaussian noise std in intensity units (default 12, on tissue ~400, marrow ~800). */
  noise?: number;
}

const randIn = (rand: () => number, lo: number, hi: number) => lo + (hi - lo) * rand();

/** Bones placed so that no two overlap (centre distance exceeds the radii plus a 3-voxel gap). */
function placeBones(rand: () => number, [ni, nj, nk]: Vec3, tissueRi: number, tissueRj: number): Bone[] {
  const count = 3 + Math.floor(rand() * 3); // 3..5 bones
  const bones: Bone[] = [];
  const footprint: [number, number, number, number][] = []; // ci, cj, ck (NaN for tubes), in-plane radius
  const scale = Math.min(ni, nj) / 96;
  for (let attempt = 0; attempt < 200 && bones.length < count; attempt++) {
    const tube = bones.length < 2 || rand() < 0.4;
    const ri = tissueRi * 0.75;
    const rj = tissueRj * 0.75;
    const a = randIn(rand, 0, 2 * Math.PI);
    const rr = Math.sqrt(rand());
    const ci = ni / 2 + ri * rr * Math.cos(a);
    const cj = nj / 2 + rj * rr * Math.sin(a);
    const cortex = randIn(rand, 1.3, 2.2) * Math.max(scale, 0.6);
    const radius = tube ? randIn(rand, 4, 7.5) * scale : randIn(rand, 5, 8) * scale;
    if (radius < cortex + 1.5) continue;
    const ck = tube ? NaN : randIn(rand, nk * 0.25, nk * 0.75);
    const clash = footprint.some(([fi, fj, fk, fr]) => {
      const dPlane = Math.hypot(ci - fi, cj - fj);
      // Tubes span many slices: keep every pair apart in plane (ellipsoid pairs may share a column at different depths).
      if (!Number.isNaN(ck) && !Number.isNaN(fk) && Math.abs(ck - fk) > (radius + fr) * 1.2 + 3) return false;
      return dPlane < radius * 1.35 + fr * 1.35 + 3;
    });
    if (clash || Math.hypot((ci - ni / 2) / tissueRi, (cj - nj / 2) / tissueRj) > 0.8) continue;
    footprint.push([ci, cj, ck, radius]);
    if (tube) {
      const k0 = Math.floor(randIn(rand, 0, nk * 0.2));
      const k1 = Math.ceil(randIn(rand, nk * 0.7, nk));
      bones.push({ kind: 'tube', ci, cj, di: randIn(rand, -0.06, 0.06), dj: randIn(rand, -0.06, 0.06), k0, k1, radius, wobble: randIn(rand, 0, 0.15), cortex });
    } else {
      bones.push({ kind: 'ellipsoid', ci, cj, ck, ri: radius * randIn(rand, 0.8, 1.2), rj: radius * randIn(rand, 0.8, 1.2), rk: radius * randIn(rand, 0.9, 1.6) * Math.max(nk / 48, 0.5), cortex });
    }
  }
  return bones;
}

/**
 * One synthetic MRI-like volume with its bone mask: a soft-tissue limb (elliptic cylinder) in dark
 * background, 3-5 separate bones (tubes along K and ellipsoids) with a dark cortex ring and bright
 * marrow, a smooth multiplicative bias field and Gaussian noise; uint16 image, uint8 mask, 1 mm
 * isotropic spacing, RAS affine centred on the volume. Fully determined by `seed`.
 */
export function makePhantom(seed: number, opts: PhantomOptions = {}): PhantomCase {
  const dims: Vec3 = opts.dims ?? [96, 96, 48];
  const [ni, nj, nk] = dims;
  if (!dims.every((d) => Number.isInteger(d) && d >= 16 && d <= 1024)) throw new PhantomError(`phantom size ${dims.join(',')}: each dimension must be an integer in 16..1024`);
  const rand = mulberry32(seed);
  const normal = normalSampler(rand);
  const sequence = rand() < 0.5 ? 'T1' : 'PD';
  const tissueRi = ni * randIn(rand, 0.36, 0.44);
  const tissueRj = nj * randIn(rand, 0.3, 0.42);
  const bones = placeBones(rand, dims, tissueRi, tissueRj);
  const tissue = randIn(rand, 350, 450);
  const marrow = sequence === 'T1' ? randIn(rand, 750, 900) : randIn(rand, 600, 700);
  const cortexLevel = randIn(rand, 40, 90);
  const background = 15;
  // Bias field: exp of a random low-order polynomial in normalised coordinates (about +-25%).
  const b = Array.from({ length: 7 }, () => randIn(rand, -0.12, 0.12));
  const noise = opts.noise ?? 12;

  const n = ni * nj * nk;
  const image = new Uint16Array(n);
  const mask = new Uint8Array(n);
  for (let k = 0; k < nk; k++) {
    const z = (2 * k) / (nk - 1) - 1;
    for (let j = 0; j < nj; j++) {
      const y = (2 * j) / (nj - 1) - 1;
      for (let i = 0; i < ni; i++) {
        const x = (2 * i) / (ni - 1) - 1;
        const inTissue = ((i - ni / 2) / tissueRi) ** 2 + ((j - nj / 2) / tissueRj) ** 2 <= 1;
        let v = inTissue ? tissue : background;
        let bone = 0;
        if (inTissue) {
          for (const bn of bones) {
            let outer: number; // normalised distance: <= 1 inside the bone
            let inner: number; // <= 1 inside the marrow
            if (bn.kind === 'tube') {
              if (k < bn.k0 || k > bn.k1) continue;
              const t = k - nk / 2;
              const r = bn.radius * (1 + bn.wobble * Math.sin((k / nk) * 2 * Math.PI));
              const d = Math.hypot(i - (bn.ci + bn.di * t), j - (bn.cj + bn.dj * t));
              outer = d / r;
              inner = d / (r - bn.cortex);
            } else {
              const di = i - bn.ci;
              const dj = j - bn.cj;
              const dk = k - bn.ck;
              outer = Math.sqrt((di / bn.ri) ** 2 + (dj / bn.rj) ** 2 + (dk / bn.rk) ** 2);
              inner = Math.sqrt((di / (bn.ri - bn.cortex)) ** 2 + (dj / (bn.rj - bn.cortex)) ** 2 + (dk / Math.max(bn.rk - bn.cortex, 0.5)) ** 2);
            }
            if (outer <= 1) {
              bone = 1;
              v = inner <= 1 ? marrow : cortexLevel;
              break;
            }
          }
        }
        const field = Math.exp(b[0]! * x + b[1]! * y + b[2]! * z + b[3]! * x * y + b[4]! * x * x + b[5]! * y * y + b[6]! * z * z);
        const p = i + ni * (j + nj * k);
        image[p] = Math.max(0, Math.min(65535, Math.round(v * field + noise * normal())));
        mask[p] = bone;
      }
    }
  }
  const affine = Float64Array.from([1, 0, 0, -(ni - 1) / 2, 0, 1, 0, -(nj - 1) / 2, 0, 0, 1, -(nk - 1) / 2, 0, 0, 0, 1]);
  const spacing: Vec3 = [1, 1, 1];
  return {
    image: { data: image, dims, spacing, affine, dtype: 'uint16' },
    mask: { data: mask, dims, spacing, affine: Float64Array.from(affine), dtype: 'uint8' },
    bones: bones.length,
    location: 'phantom-limb',
    sequence,
  };
}

export interface PhantomSetOptions extends PhantomOptions {
  count?: number;
  seed?: number;
  /** Share of cases marked val in cases.csv (the last ones; default 0.25, at least one when count >= 2). */
  valFraction?: number;
}

export interface PhantomSetSummary {
  dir: string;
  cases: { image: string; mask: string; location: string; sequence: string; split: 'train' | 'val'; bones: number }[];
  csv: string;
}

/** Case i's seed: a hash of (seed, i), so cases are independent and any one can be regenerated alone. */
export const caseSeed = (seed: number, i: number): number => (Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0;

/** Writes `<dir>/case_NNN.nii.gz`, `<dir>/case_NNN_mask.nii.gz` and `<dir>/cases.csv`. */
export function writePhantomSet(dir: string, opts: PhantomSetOptions = {}): PhantomSetSummary {
  const count = opts.count ?? 8;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(count) || count < 1 || count > 10000) throw new PhantomError(`--n must be an integer in 1..10000, got ${count}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PhantomError(`--seed must be an integer in 0..4294967295, got ${seed}`);
  try {
    if (!statSync(dir).isDirectory()) throw new PhantomError(`${dir} exists and is not a directory`);
  } catch (err) {
    if (err instanceof PhantomError) throw err;
    mkdirSync(dir, { recursive: true });
  }
  const nVal = count >= 2 ? Math.max(1, Math.round(count * (opts.valFraction ?? 0.25))) : 0;
  const cases: PhantomSetSummary['cases'] = [];
  for (let i = 0; i < count; i++) {
    const c = makePhantom(caseSeed(seed, i), opts);
    const stem = `case_${String(i).padStart(3, '0')}`;
    const image = `${stem}.nii.gz`;
    const mask = `${stem}_mask.nii.gz`;
    writeVolume(join(dir, image), c.image, { description: `sab phantom seed ${seed} case ${i}` });
    writeVolume(join(dir, mask), c.mask, { description: `sab phantom seed ${seed} case ${i} bone mask` });
    cases.push({ image, mask, location: c.location, sequence: c.sequence, split: i >= count - nVal ? 'val' : 'train', bones: c.bones });
  }
  const csv = join(dir, 'cases.csv');
  const lines = ['image,mask,location,sequence,split', ...cases.map((c) => [c.image, c.mask, c.location, c.sequence, c.split].join(','))];
  writeFileAtomic(csv, new TextEncoder().encode(lines.join('\n') + '\n'));
  return { dir, cases, csv };
}
