import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../../checkpoint/load-checkpoint.js';
import type { StateDict } from '../../checkpoint/tensor.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { withTrainedParams, writeSafetensorsCheckpoint, writeTorchCheckpoint } from '../export/index.js';
import type { RunningStats } from './batchNormTrainer.js';
import type { AdamW } from '../step/index.js';

/**
 * Resumable fine-tuning checkpoints: `<out>/checkpoint/` holds the weights in the official format
 * (bone_sam.pth, atten.pth), one AdamW state per trained model and state.json (stage, iterations
 * done, RNG state, settings). A checkpoint is written to `checkpoint.partial/` and swapped in by
 * renames, so an interruption never leaves a half-written checkpoint where --resume looks.
 */

export class FinetuneStateError extends Error {
  override name = 'FinetuneStateError';
}

export const CHECKPOINT_DIR = 'checkpoint';
const STATE_FORMAT = 'sab-finetune-state';

export interface FinetuneState {
  format: typeof STATE_FORMAT;
  version: 1;
  /** Stages this run does ('both' = 1 then 2) and the one in progress. */
  stages: 'both' | '1' | '2';
  stage: 1 | 2;
  /** Iterations completed in `stage`. */
  iteration: number;
  /** Iterations the stage runs in all. */
  totalIterations: number;
  /** True when every stage of the run has finished. */
  done: boolean;
  /** ResumableRandom state after the last completed iteration. */
  rng: number;
  seed: number;
  batch: number;
  lr: number;
  warmup: number;
  /** Best validation result of `stage` so far (see BestCheckpoint). */
  best?: BestRecord;
}

/** A model's weights as a full state dict: the base checkpoint with trained parameters and updated BatchNorm buffers put in. */
export function assembleWeights(base: StateDict, params: ReadonlyMap<string, Float32Array>, buffers: RunningStats): StateDict {
  const out = withTrainedParams(base, params);
  for (const [key, data] of buffers) {
    const t = base.get(key);
    if (!t) continue;
    out.set(key, { dtype: t.dtype, shape: [...t.shape], data: data instanceof BigInt64Array ? BigInt64Array.from(data) : Float32Array.from(data) });
  }
  return out;
}

/**
 * A model's weights to write: a state dict, or an existing .pth that already holds them (stage 2 leaves
 * the VNet as it was; re-encoding its 182 MB at every checkpoint would cost seconds for nothing).
 */
export type WeightsToWrite = StateDict | { file: string };

/** Puts an existing file at `target`: a hard link (files here are never modified in place, only replaced), else a copy. */
function placeFile(source: string, target: string): void {
  const tmp = `${target}.${process.pid}.link.tmp`;
  rmSync(tmp, { force: true });
  try {
    linkSync(source, tmp);
  } catch {
    copyFileSync(source, tmp);
  }
  renameSync(tmp, target);
}

function writePth(path: string, w: WeightsToWrite): void {
  if (w instanceof Map) writeTorchCheckpoint(path, w);
  else placeFile(w.file, path);
}

/** bone_sam.pth and atten.pth (and, with `safetensors`, the same as .safetensors) in `dir`, each written atomically. */
export function writeWeights(dir: string, sam: StateDict, vnet: WeightsToWrite, safetensors = false, vnetDict?: () => StateDict): void {
  writeTorchCheckpoint(join(dir, 'bone_sam.pth'), sam);
  writePth(join(dir, 'atten.pth'), vnet);
  if (safetensors) {
    writeSafetensorsCheckpoint(join(dir, 'bone_sam.safetensors'), sam, { format: 'pt', source: 'sab finetune' });
    const v = vnet instanceof Map ? vnet : vnetDict?.();
    if (!v) throw new FinetuneStateError('atten.safetensors needs the VNet state dict');
    writeSafetensorsCheckpoint(join(dir, 'atten.safetensors'), v, { format: 'pt', source: 'sab finetune' });
  }
}

export interface CheckpointContents {
  sam: StateDict;
  vnet: WeightsToWrite;
  optimizers: Record<string, AdamW>;
  state: FinetuneState;
}

/** Fills `<out>/<name>.partial/` and swaps it in for `<out>/<name>/` by renames (the old one is `<name>.old` in between). */
function swapInFolder(outDir: string, name: string, fill: (dir: string) => void): void {
  const final = join(outDir, name);
  const partial = join(outDir, `${name}.partial`);
  const old = join(outDir, `${name}.old`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  fill(partial);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(partial, final);
  rmSync(old, { recursive: true, force: true });
}

const writeJson = (path: string, value: unknown) => writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 1) + '\n'));

/** Writes `<out>/checkpoint/` (via checkpoint.partial and renames). */
export function writeCheckpoint(outDir: string, c: CheckpointContents): void {
  swapInFolder(outDir, CHECKPOINT_DIR, (dir) => {
    writeWeights(dir, c.sam, c.vnet);
    for (const [name, opt] of Object.entries(c.optimizers)) opt.save(join(dir, `optimizer_${name}.safetensors`));
    writeJson(join(dir, 'state.json'), c.state);
  });
}

/** What best.json of a best-checkpoint folder records. */
export interface BestRecord {
  stage: 1 | 2;
  iteration: number;
  /** Validation DSC (all validation cases) that made it the best, and per location. */
  valDsc: number;
  byLocation: Record<string, number>;
}

export const bestDirName = (stage: 1 | 2): string => `checkpoint_best_stage${stage}`;

/**
 * The best weights of a stage by validation DSC (as the official script keeps checkpoint_best.pth):
 * `<out>/checkpoint_best_stage<N>/` with bone_sam.pth, atten.pth and best.json. The record as of each
 * resumable checkpoint is saved in its state.json, so a resumed run compares against the best as of
 * the resumed iteration (a folder written after it is simply written again, identically).
 */
export class BestCheckpoint {
  constructor(readonly outDir: string, readonly stage: 1 | 2, public record: BestRecord | undefined) {}

  get dir(): string {
    return join(this.outDir, bestDirName(this.stage));
  }

  /** Keeps these weights when their DSC beats the best so far (ties keep the earlier one); true when kept. */
  offer(iteration: number, score: { dsc: number; byLocation: Record<string, number> }, weights: () => { sam: StateDict; vnet: WeightsToWrite }): boolean {
    if (this.record && !(score.dsc > this.record.valDsc)) return false;
    const record: BestRecord = { stage: this.stage, iteration, valDsc: score.dsc, byLocation: score.byLocation };
    const w = weights();
    swapInFolder(this.outDir, bestDirName(this.stage), (dir) => {
      writeWeights(dir, w.sam, w.vnet);
      writeJson(join(dir, 'best.json'), record);
    });
    this.record = record;
    return true;
  }
}

/** The checkpoint folder to resume from: checkpoint/, or checkpoint.old/ when a swap was interrupted between its renames. */
export function findCheckpoint(outDir: string): string | undefined {
  for (const name of [CHECKPOINT_DIR, `${CHECKPOINT_DIR}.old`]) {
    const dir = join(outDir, name);
    if (existsSync(join(dir, 'state.json'))) return dir;
  }
  return undefined;
}

export function readState(dir: string): FinetuneState {
  const path = join(dir, 'state.json');
  let s: FinetuneState;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as FinetuneState;
  } catch (err) {
    throw new FinetuneStateError(`${path}: cannot read the training state (${(err as Error).message})`);
  }
  if (s.format !== STATE_FORMAT || s.version !== 1 || (s.stage !== 1 && s.stage !== 2) || !Number.isInteger(s.iteration) || !Number.isInteger(s.rng)) {
    throw new FinetuneStateError(`${path}: not a sab finetune state file (format ${JSON.stringify(s.format)}, version ${JSON.stringify(s.version)})`);
  }
  return s;
}

export function readCheckpointWeights(dir: string): { sam: StateDict; vnet: StateDict } {
  return { sam: loadCheckpoint(join(dir, 'bone_sam.pth')), vnet: loadCheckpoint(join(dir, 'atten.pth')) };
}

export const optimizerPath = (dir: string, name: string): string => join(dir, `optimizer_${name}.safetensors`);
