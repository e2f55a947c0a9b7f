import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { attentionMapForSlice } from '../../pipeline/attention.js';
import { trainTarget256 } from '../../pipeline/preprocess/index.js';
import type { SegmentAnyBone } from '../../model/segmentAnyBone.js';
import { makeSliceSample, vnetSample, type AugmentOptions, type LoadedCase } from '../data/index.js';
import { ResumableRandom, derivedSeed } from './rng.js';

/**
 * Stage 2 runs with the encoder frozen, so a slice's image embedding (eval-mode encoder, as at
 * inference) and its depth-attention map are computed once and kept. A slice's augmentation, when
 * on, is drawn from a stream seeded by (seed, case, slice), so a cache rebuilt after --resume holds
 * exactly what the first run computed. Only intensity augmentations apply here: geometric ones would
 * move the slice away from its attention map, which comes from the un-augmented volume.
 */

export const STAGE2_AUGMENT = (a: AugmentOptions): AugmentOptions => {
  const { crop: _crop, rotation: _rotation, ...intensity } = a;
  return intensity;
};

export interface CachedSlice {
  /** [256,64,64] image embedding. */
  embedding: Float32Array;
  /** [64,64] depth-attention map. */
  attention: Float32Array;
  /** rows x cols 0/1 mask of the (augmented) slice. */
  mask: Uint8Array;
  rows: number;
  cols: number;
}

const EMBEDDING_VALUES = 256 * 64 * 64;
const EMBEDDING_BYTES = EMBEDDING_VALUES * 4;

/** A cached slice whose embedding lives in memory, or at `slot` of the spill file. */
type Entry = Omit<CachedSlice, 'embedding'> & ({ embedding: Float32Array; slot?: undefined } | { embedding?: undefined; slot: number });

export interface SliceCacheOptions {
  seed: number;
  augment?: AugmentOptions;
  /** In-memory entries kept at most (least recently used dropped); default 512. Not used with `spillFile`. */
  maxEntries?: number;
  /** Slices encoded per encoder run; default 4. */
  encodeBatch?: number;
  /**
   * Keep the embeddings (4 MiB per slice) in this file instead of memory, so every slice of the
   * training set can be cached with a memory use independent of the data size; `close()` deletes it.
   */
  spillFile?: string;
}

export class SliceEmbeddingCache {
  private readonly entries = new Map<string, Entry>();
  private readonly sigmoids: (Float32Array | undefined)[];
  private fd: number | undefined;
  private slots = 0;

  constructor(
    private readonly model: SegmentAnyBone,
    readonly cases: readonly LoadedCase[],
    private readonly opts: SliceCacheOptions,
  ) {
    this.sigmoids = cases.map(() => undefined);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Number of slices of all cases (what `precompute` encodes). */
  get sliceCount(): number {
    return this.cases.reduce((p, c) => p + c.dims[2], 0);
  }

  /** VNet sigmoid (64^3) of every case, once; afterwards the VNet session can be closed. */
  async computeAttention(): Promise<void> {
    for (let i = 0; i < this.cases.length; i++) {
      if (!this.sigmoids[i]) this.sigmoids[i] = (await this.model.depthProbabilities(vnetSample(this.cases[i]!).input)).sigmoid;
    }
  }

  /**
   * Encodes every slice of every case now (in case/slice order; the contents do not depend on the
   * order), so that training iterations never wait for the encoder. `onProgress(done, total)`.
   */
  async precompute(onProgress?: (done: number, total: number) => void): Promise<void> {
    const all = this.cases.flatMap((c, caseIndex) => Array.from({ length: c.dims[2] }, (_, k) => ({ caseIndex, k })));
    const group = this.encodeGroup;
    for (let s = 0; s < all.length; s += group) {
      await this.encodeMissing(all.slice(s, s + group));
      onProgress?.(Math.min(s + group, all.length), all.length);
    }
  }

  /** The slices (case index, slice index), encoding the missing ones in groups. */
  async get(items: readonly { caseIndex: number; k: number }[]): Promise<CachedSlice[]> {
    await this.encodeMissing(items);
    return items.map((it) => {
      const e = this.entries.get(key(it))!;
      if (e.embedding) {
        // Re-insert: the Map's order is then least recently used first.
        this.entries.delete(key(it));
        this.entries.set(key(it), e);
        return e as CachedSlice;
      }
      const embedding = new Float32Array(EMBEDDING_VALUES);
      readSync(this.fd!, new Uint8Array(embedding.buffer), 0, EMBEDDING_BYTES, e.slot * EMBEDDING_BYTES);
      return { embedding, attention: e.attention, mask: e.mask, rows: e.rows, cols: e.cols };
    });
  }

  /** Slices per encoder run. */
  private get encodeGroup(): number {
    return Math.max(1, this.opts.encodeBatch ?? 4);
  }

  /** Deletes the spill file (the cache is empty afterwards). */
  close(): void {
    this.entries.clear();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.opts.spillFile) rmSync(this.opts.spillFile, { force: true });
  }

  private async encodeMissing(items: readonly { caseIndex: number; k: number }[]): Promise<void> {
    const missing = [...new Map(items.filter((it) => !this.entries.has(key(it))).map((it) => [key(it), it])).values()];
    const group = this.encodeGroup;
    for (let s = 0; s < missing.length; s += group) {
      const part = missing.slice(s, s + group);
      const samples = part.map(({ caseIndex, k }) => {
        const rand = new ResumableRandom(derivedSeed(this.opts.seed, caseIndex, k)).next;
        return makeSliceSample(this.cases[caseIndex]!, k, rand, this.opts.augment ? { augment: this.opts.augment } : {});
      });
      const images = new Float32Array(part.length * 3 * 1024 * 1024);
      samples.forEach((smp, i) => images.set(smp.encoderInput, i * smp.encoderInput.length));
      const emb = await this.model.encode(images, part.length);
      part.forEach(({ caseIndex, k }, i) => {
        const c = this.cases[caseIndex]!;
        const sig = this.sigmoids[caseIndex];
        if (!sig) throw new Error(`attention of case ${caseIndex} not computed`);
        const rest = { attention: attentionMapForSlice(sig, k, c.dims[2]), mask: samples[i]!.mask, rows: c.dims[0], cols: c.dims[1] };
        const embedding = emb.subarray(i * EMBEDDING_VALUES, (i + 1) * EMBEDDING_VALUES);
        if (this.opts.spillFile) this.entries.set(key({ caseIndex, k }), { ...rest, slot: this.spill(embedding) });
        else this.put(key({ caseIndex, k }), { ...rest, embedding: embedding.slice() });
      });
    }
  }

  private spill(embedding: Float32Array): number {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.opts.spillFile!), { recursive: true });
      this.fd = openSync(this.opts.spillFile!, 'w+');
    }
    const slot = this.slots++;
    writeSync(this.fd, new Uint8Array(embedding.buffer, embedding.byteOffset, EMBEDDING_BYTES), 0, EMBEDDING_BYTES, slot * EMBEDDING_BYTES);
    return slot;
  }

  private put(k: string, e: Entry): void {
    this.entries.set(k, e);
    const max = this.opts.maxEntries ?? 512;
    while (this.entries.size > max) this.entries.delete(this.entries.keys().next().value!);
  }
}

const key = (it: { caseIndex: number; k: number }) => `${it.caseIndex}:${it.k}`;

/** Validation slices of a case: up to `n` evenly spaced slice indices. */
export function validationSlices(c: LoadedCase, n: number): number[] {
  const nk = c.dims[2];
  const count = Math.min(n, nk);
  return Array.from({ length: count }, (_, i) => Math.min(nk - 1, Math.floor(((i + 0.5) * nk) / count)));
}

/** Dice overlap accumulator: DSC = 2|A and B| / (|A| + |B|) over everything added (1 when both are empty). */
export class DiceAccumulator {
  private inter = 0;
  private sum = 0;

  /** `logits` channel `channel` of a [C, n] block thresholded at logit > 0 against a 0/1 target of n values. */
  addLogits(logits: Float32Array, target: ArrayLike<number>, channel = 0): void {
    const n = target.length;
    const off = channel * n;
    for (let p = 0; p < n; p++) {
      const a = logits[off + p]! > 0 ? 1 : 0;
      const b = target[p]! > 0.5 ? 1 : 0;
      this.inter += a & b;
      this.sum += a + b;
    }
  }

  get dsc(): number {
    return this.sum === 0 ? 1 : (2 * this.inter) / this.sum;
  }
}

/** Validation DSC pooled over every validation voxel, and per body location (the cases CSV's `location`). */
export interface ValidationScore {
  dsc: number;
  byLocation: Record<string, number>;
}

/** Location label of a case without one in the cases CSV. */
export const NO_LOCATION = 'unspecified';

/** One Dice accumulator for everything and one per location. */
class LocationDice {
  private readonly all = new DiceAccumulator();
  private readonly byLocation = new Map<string, DiceAccumulator>();

  add(c: LoadedCase, logits: Float32Array, target: ArrayLike<number>, channel: number): void {
    const loc = c.entry.location ?? NO_LOCATION;
    let acc = this.byLocation.get(loc);
    if (!acc) this.byLocation.set(loc, (acc = new DiceAccumulator()));
    acc.addLogits(logits, target, channel);
    this.all.addLogits(logits, target, channel);
  }

  get score(): ValidationScore {
    const byLocation: Record<string, number> = {};
    for (const loc of [...this.byLocation.keys()].sort()) byLocation[loc] = this.byLocation.get(loc)!.dsc;
    return { dsc: this.all.dsc, byLocation };
  }
}

/** Locations of the validation cases, sorted (the per-location columns of the log). */
export const locationsOf = (cases: readonly LoadedCase[]): string[] => [...new Set(cases.map((c) => c.entry.location ?? NO_LOCATION))].sort();

/** Stage-2 validation: automatic mode with attention over cached embeddings, DSC at 256x256 against the full mask. */
export async function validateFromCache(model: SegmentAnyBone, cache: SliceEmbeddingCache, slicesPerCase: number): Promise<ValidationScore> {
  const acc = new LocationDice();
  for (let ci = 0; ci < cache.cases.length; ci++) {
    for (const k of validationSlices(cache.cases[ci]!, slicesPerCase)) {
      const [s] = await cache.get([{ caseIndex: ci, k }]);
      const out = await model.decode(s!.embedding, s!.attention);
      acc.add(cache.cases[ci]!, out.lowResLogits, trainTarget256(s!.mask, s!.rows, s!.cols), 1);
    }
  }
  return acc.score;
}

/** Stage-1 validation of the SAM part: eval-mode encoder + automatic decoder without attention (the branch stage 1 trains). */
export async function validateSam2d(model: SegmentAnyBone, cases: readonly LoadedCase[], slicesPerCase: number): Promise<ValidationScore> {
  const acc = new LocationDice();
  const noRandom = () => 0.5;
  for (const c of cases) {
    for (const k of validationSlices(c, slicesPerCase)) {
      const s = makeSliceSample(c, k, noRandom);
      const emb = await model.encode(s.encoderInput, 1);
      const out = await model.decode(emb, null);
      acc.add(c, out.lowResLogits, s.target256, 1);
    }
  }
  return acc.score;
}

/** VNet validation: logit > 0 against the 64^3 target, over all val cases. */
export async function validateVNet(model: SegmentAnyBone, cases: readonly LoadedCase[]): Promise<ValidationScore> {
  const acc = new LocationDice();
  for (const c of cases) {
    const { input, target } = vnetSample(c);
    acc.add(c, (await model.depthProbabilities(input)).logits, target, 0);
  }
  return acc.score;
}
