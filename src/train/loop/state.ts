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

/** Writes `<out>/checkpoint/` (via checkpoint.partial and renames). */
export function writeCheckpoint(outDir: string, c: CheckpointContents): void {
  const final = join(outDir, CHECKPOINT_DIR);
  const partial = join(outDir, `${CHECKPOINT_DIR}.partial`);
  const old = join(outDir, `${CHECKPOINT_DIR}.old`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  writeWeights(partial, c.sam, c.vnet);
  for (const [name, opt] of Object.entries(c.optimizers)) opt.save(join(partial, `optimizer_${name}.safetensors`));
  writeFileAtomic(join(partial, 'state.json'), new TextEncoder().encode(JSON.stringify(c.state, null, 1) + '\n'));
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(partial, final);
  rmSync(old, { recursive: true, force: true });
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
