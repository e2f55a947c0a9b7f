import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readVolume } from '../../io/dispatch.js';
import { parseCsv } from '../../metrics/csv.js';
import { encoderInputFromSlice } from '../../pipeline/preprocess/index.js';
import { percentileBounds } from '../../pipeline/preprocess/index.js';
import { resizeBilinearPillow } from '../../pipeline/preprocess/index.js';
import { sliceOf, trainTarget256, vnetTarget64 } from '../../pipeline/preprocess/index.js';
import { vnetInputFromVolume } from '../../pipeline/preprocess/index.js';
import { normaliseVolume, sliceToUint8 } from '../../pipeline/preprocess/index.js';
import { axesWithSliceLast, permuteVoxels, type Axis } from '../../volume/permute.js';
import { augmentSlice, type AugmentOptions, type Slice2D } from './augment.js';
import { sampleHybridPrompts, type HybridPromptOptions, type SampledPrompts } from './prompts.js';

export class TrainingDataError extends Error {
  override name = 'TrainingDataError';
}

export type Split = 'train' | 'val' | 'test';

export interface CaseEntry {
  image: string;
  mask: string;
  location?: string;
  sequence?: string;
  split: Split;
}

export interface CaseLists {
  train: CaseEntry[];
  val: CaseEntry[];
  test: CaseEntry[];
}

const VOLUME_EXT = /\.(nii\.gz|nii|nrrd|nhdr)$/i;
const MASK_SUFFIX = /_(mask|seg|label|labels)$/i;

/** Deterministic split from the image name (FNV-1a hash), so adding cases does not reshuffle old ones. */
function hashedSplit(name: string, valFraction: number): Split {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 4294967296 < valFraction ? 'val' : 'train';
}

function parseCaseCsv(path: string, dir: string, valFraction: number): CaseEntry[] {
  let rows: string[][];
  try {
    rows = parseCsv(readFileSync(path, 'utf8')).filter((r) => r.some((f) => f.trim() !== ''));
  } catch (err) {
    throw new TrainingDataError(`${path}: cannot read the case list (${(err as Error).message})`);
  }
  const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  if (col('image') < 0 || col('mask') < 0) throw new TrainingDataError(`${path}: the header must name 'image' and 'mask' columns (optional: location, sequence, split)`);
  return rows.slice(1).map((r, n) => {
    const get = (name: string) => (col(name) >= 0 ? (r[col(name)] ?? '').trim() : '');
    const image = get('image');
    const mask = get('mask');
    if (!image || !mask) throw new TrainingDataError(`${path}: row ${n + 2} lacks an image or mask path`);
    const splitRaw = get('split').toLowerCase();
    if (splitRaw && splitRaw !== 'train' && splitRaw !== 'val' && splitRaw !== 'test') {
      throw new TrainingDataError(`${path}: row ${n + 2} has split '${splitRaw}'; expected train, val or test`);
    }
    const entry: CaseEntry = { image: resolve(dir, image), mask: resolve(dir, mask), split: (splitRaw || hashedSplit(image, valFraction)) as Split };
    if (get('location')) entry.location = get('location');
    if (get('sequence')) entry.sequence = get('sequence');
    return entry;
  });
}

/** Pairs `<stem>.<ext>` with `<stem>_mask.<ext>` (or _seg/_label), or images/<f> with masks/<f>. */
function pairFolder(dir: string, valFraction: number): CaseEntry[] {
  const imagesDir = join(dir, 'images');
  const masksDir = join(dir, 'masks');
  if (existsSync(imagesDir) && existsSync(masksDir)) {
    return readdirSync(imagesDir).filter((f) => VOLUME_EXT.test(f)).sort().map((f) => {
      const mask = join(masksDir, f);
      if (!existsSync(mask)) throw new TrainingDataError(`${join(imagesDir, f)}: no mask ${mask}`);
      return { image: join(imagesDir, f), mask, split: hashedSplit(f, valFraction) };
    });
  }
  const files = readdirSync(dir).filter((f) => VOLUME_EXT.test(f)).sort();
  const stems = new Map(files.map((f) => [f.replace(VOLUME_EXT, ''), f]));
  const out: CaseEntry[] = [];
  for (const [stem, f] of stems) {
    if (MASK_SUFFIX.test(stem)) {
      if (!stems.has(stem.replace(MASK_SUFFIX, ''))) throw new TrainingDataError(`${join(dir, f)}: mask without an image (${stem.replace(MASK_SUFFIX, '')}.*)`);
      continue;
    }
    const maskStem = ['_mask', '_seg', '_label', '_labels'].map((s) => stem + s).find((s) => stems.has(s));
    if (!maskStem) throw new TrainingDataError(`${join(dir, f)}: no mask next to it (expected ${stem}_mask.nii.gz or similar)`);
    out.push({ image: join(dir, f), mask: join(dir, stems.get(maskStem)!), split: hashedSplit(f, valFraction) });
  }
  return out;
}

/**
 * The cases of a training folder: from a CSV (`csv`, or `<dir>/cases.csv` when present; columns image,
 * mask and optionally location, sequence, split; paths relative to the folder), otherwise by pairing
 * image/mask files. Cases without a split are assigned one from a hash of the image name (val share
 * `valFraction`, default 0.2). Every listed file must exist.
 */
export function listCases(dir: string, opts: { csv?: string; valFraction?: number } = {}): CaseLists {
  try {
    if (!statSync(dir).isDirectory()) throw new TrainingDataError(`${dir} is not a directory`);
  } catch (err) {
    if (err instanceof TrainingDataError) throw err;
    throw new TrainingDataError(`${dir}: no such training folder`);
  }
  const valFraction = opts.valFraction ?? 0.2;
  const csv = opts.csv ?? (existsSync(join(dir, 'cases.csv')) ? join(dir, 'cases.csv') : undefined);
  const entries = csv ? parseCaseCsv(csv, dir, valFraction) : pairFolder(dir, valFraction);
  if (entries.length === 0) throw new TrainingDataError(`${csv ?? dir}: no image/mask pairs found`);
  for (const e of entries) {
    for (const p of [e.image, e.mask]) if (!existsSync(p)) throw new TrainingDataError(`${csv ?? dir}: ${p} does not exist`);
  }
  return { train: entries.filter((e) => e.split === 'train'), val: entries.filter((e) => e.split === 'val'), test: entries.filter((e) => e.split === 'test') };
}

/** A case ready for sampling: the volume reordered so the slicing axis is last, normalised as for inference. */
export interface LoadedCase {
  entry: CaseEntry;
  /** dims after the reorder: slices are (rows = dims[0], cols = dims[1]), dims[2] of them. */
  dims: [number, number, number];
  /** Recipe step 3 (percentile clamp + scale to [0, 1]), first axis fastest. */
  normalised: Float32Array;
  /** 0/1 bone labels on the same grid. */
  labels: Uint8Array;
  /** Slices (indices along the slicing axis) that contain bone. */
  boneSlices: Int32Array;
}

/** Reads an image/mask pair (grids must match) and prepares it as the inference pipeline does. */
export function loadCase(entry: CaseEntry, axis: Axis = 2): LoadedCase {
  const image = readVolume(entry.image);
  const mask = readVolume(entry.mask);
  if (image.dims.some((d, a) => d !== mask.dims[a])) {
    throw new TrainingDataError(`${entry.mask}: mask dims ${mask.dims.join('x')} differ from the image ${entry.image} (${image.dims.join('x')})`);
  }
  const order = axesWithSliceLast(axis);
  const { data, dims } = permuteVoxels(image.data, image.dims, order);
  const m = permuteVoxels(mask.data, mask.dims, order).data;
  const labels = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) labels[i] = m[i]! > 0 ? 1 : 0;
  const normalised = normaliseVolume({ data, dims }, percentileBounds(data));
  const plane = dims[0] * dims[1];
  const bone: number[] = [];
  for (let k = 0; k < dims[2]; k++) {
    for (let p = k * plane; p < (k + 1) * plane; p++) {
      if (labels[p]) {
        bone.push(k);
        break;
      }
    }
  }
  return { entry, dims, normalised, labels, boneSlices: Int32Array.from(bone) };
}

/** A slice index: with probability `boneProbability` one of the bone slices (when any), else any slice. */
export function sampleSliceIndex(c: LoadedCase, rand: () => number, boneProbability = 0.8): number {
  const nk = c.dims[2];
  if (c.boneSlices.length > 0 && rand() < boneProbability) return c.boneSlices[Math.min(Math.floor(rand() * c.boneSlices.length), c.boneSlices.length - 1)]!;
  return Math.min(Math.floor(rand() * nk), nk - 1);
}

export interface SliceSampleOptions {
  /** Augmentations (default: none). */
  augment?: AugmentOptions;
  /** Hybrid prompting (default: automatic mode, full mask as target). */
  prompts?: HybridPromptOptions;
  encoderSize?: number;
}

export interface SliceSample {
  caseIndex?: number;
  k: number;
  /** The slice fed to the encoder path (after augmentation), rows x cols: image uint8 as the pipeline makes it. */
  sliceU8: Uint8Array;
  mask: Uint8Array;
  rows: number;
  cols: number;
  /** (3, 1024, 1024) ImageNet-normalised encoder input and its (1024, 1024) pre-normalisation channel. */
  encoderInput: Float32Array;
  prenorm: Float32Array;
  /** (256, 256) 0/1 training target (the prompted regions, or the whole mask). */
  target256: Float32Array;
  prompts: SampledPrompts;
}

/**
 * One training slice built exactly as inference prepares its input (recipe steps 4-9: uint8 slice,
 * Pillow bilinear to 1024, quantile clamp, gamma, ImageNet normalisation) with the target from
 * trainTarget256; augmentations, when asked for, act on the native-size slice (intensities /255)
 * and its mask before the resize, and prompts are drawn on the augmented mask.
 */
export function makeSliceSample(c: LoadedCase, k: number, rand: () => number, opts: SliceSampleOptions = {}): SliceSample {
  const [rows, cols] = c.dims;
  let u8 = sliceToUint8(c.normalised, c.dims, k);
  let mask = sliceOf({ data: c.labels, dims: c.dims }, k);
  if (opts.augment) {
    const img = new Float32Array(u8.length);
    for (let p = 0; p < u8.length; p++) img[p] = u8[p]! / 255;
    const aug: Slice2D = augmentSlice({ image: img, mask, rows, cols }, rand, opts.augment);
    u8 = new Uint8Array(u8.length);
    for (let p = 0; p < u8.length; p++) {
      const v = aug.image[p]!;
      u8[p] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
    }
    mask = aug.mask;
  }
  const size = opts.encoderSize ?? 1024;
  const enc = encoderInputFromSlice(resizeBilinearPillow(u8, rows, cols, size, size), size, size);
  const prompts = sampleHybridPrompts(mask, rows, cols, rand, { promptedFraction: 0, ...opts.prompts, encoderSize: size });
  return { k, sliceU8: u8, mask, rows, cols, encoderInput: enc.input, prenorm: enc.prenorm, target256: trainTarget256(prompts.target, rows, cols, size), prompts };
}

/** A batch: each item from a uniformly drawn case and a bone-preferring slice. */
export function sampleBatch(cases: readonly LoadedCase[], batch: number, rand: () => number, opts: SliceSampleOptions & { boneProbability?: number } = {}): SliceSample[] {
  if (cases.length === 0) throw new TrainingDataError('no training cases to sample from');
  return Array.from({ length: batch }, () => {
    const ci = Math.min(Math.floor(rand() * cases.length), cases.length - 1);
    const c = cases[ci]!;
    const s = makeSliceSample(c, sampleSliceIndex(c, rand, opts.boneProbability), rand, opts);
    s.caseIndex = ci;
    return s;
  });
}

/** VNet input (1, 1, 64, 64, 64) and its 64^3 target for a case, as the pipeline and the golden training recipe make them. */
export function vnetSample(c: LoadedCase): { input: Float32Array; target: Float32Array } {
  return { input: vnetInputFromVolume(c.normalised, c.dims), target: vnetTarget64({ data: c.labels, dims: c.dims }) };
}
