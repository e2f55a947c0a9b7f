import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadCheckpoint } from '../../checkpoint/load-checkpoint.js';
import type { StateDict } from '../../checkpoint/tensor.js';
import type { ExecutionProvider, Runtime } from '../../graph/runtime.js';
import { createNodeRuntime } from '../../graph/runtimeNode.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { SegmentAnyBone } from '../../model/segmentAnyBone.js';
import { trainTarget256 } from '../../pipeline/preprocess/index.js';
import { locateWeights, WeightsError } from '../../weights/locate.js';
import {
  DEFAULT_AUGMENT, isPromptedIteration, listCases, loadCase, sampleBatch, sampleSliceIndex, samplePromptedTarget, TrainingDataError, vnetSample,
  type AugmentOptions, type LoadedCase, type PromptTokens,
} from '../data/index.js';
import { ResumableRandom } from './rng.js';
import { locationsOf, SliceEmbeddingCache, STAGE2_AUGMENT, validateFromCache, validateSam2d, validateVNet, type ValidationScore } from './slices.js';
import {
  assembleWeights, BestCheckpoint, findCheckpoint, optimizerPath, readCheckpointWeights, readState, writeCheckpoint, writeWeights, type BestRecord, type FinetuneState,
} from './state.js';
import { evaluateValidation, type ValidationReport } from './evaluate.js';
import { openFinetuneTrainer, runningStatsOf, updateRunningStats, type FinetuneTrainer, type RunningStats } from './batchNormTrainer.js';
import { TrainingLog } from './log.js';
import { AdamW, learningRate, type SamBatch, type StepResult } from '../step/index.js';

/**
 * `sab finetune`: the paper's two-stage fine-tuning (4.2.3).
 * Stage 1: encoder + decoder adapters in automatic mode from the image (CE + Dice), and the VNet on
 * 64^3 volumes (BCE + Tversky), one step of each per iteration. Stage 2: encoder frozen; embeddings and
 * attention maps are computed once per slice and cached; attention fusion + mask decoder train with
 * hybrid prompting (30% of iterations prompted, target = the prompted regions).
 */

export class FinetuneError extends Error {
  override name = 'FinetuneError';
}

export type FinetuneStages = 'both' | '1' | '2';

export interface FinetuneOptions {
  /** Training folder (image/mask pairs, optional cases.csv) or a case-list CSV. */
  data: string;
  /** Folder with bone_sam.pth and atten.pth to start from (not needed with resume). */
  weights?: string;
  outDir: string;
  stages?: FinetuneStages;
  /** Iterations per stage; default `epochs` x iterations per epoch (train slices / batch). */
  iterations?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  warmup?: number;
  /** Checkpoint every N iterations (default: each epoch). */
  checkpointEvery?: number;
  resume?: boolean;
  seed?: number;
  threads?: number;
  device?: ExecutionProvider;
  /** Validate every N iterations (default: each epoch). */
  valEvery?: number;
  augment?: boolean;
  /** Validation slices per val case (evenly spaced; default 8). */
  valSlices?: number;
  /** Stop after this many iterations in this call, with a checkpoint (as an interruption would). */
  stopAfter?: number;
  /** Abort: the current iteration finishes, a checkpoint is written, the run returns. */
  signal?: AbortSignal;
  onProgress?: (p: FinetuneProgress) => void;
  onNotice?: (message: string) => void;
  /** Use this runtime instead of creating one from device/threads. */
  runtime?: Runtime;
  /** ONNX Runtime's CPU memory arena for the run's sessions (default off: lower peak memory; see DESIGN.md). */
  cpuMemArena?: boolean;
  /** ONNX Runtime's memory-pattern planning for the run's sessions (default off: lower peak memory; see DESIGN.md). */
  memPattern?: boolean;
  /** After the last stage, segment each validation volume whole and write the evaluate-style table (default true). */
  evaluate?: boolean;
  /**
   * Stage 2: encode every training slice before the first iteration (default: when the stage draws at
   * least as many slices as the training set has); otherwise slices are encoded when first drawn.
   */
  precomputeEmbeddings?: boolean;
}

export interface FinetuneProgress {
  stage: 1 | 2;
  iteration: number;
  total: number;
  loss: number;
  valDsc?: number;
}

export interface ValidationPoint {
  iteration: number;
  /** DSC pooled over all validation cases, and per location (cases CSV). */
  dsc: number;
  byLocation: Record<string, number>;
}

export interface StageSummary {
  stage: 1 | 2;
  iterations: number;
  /** Validation DSC by iteration (SAM part; stage 1 also has vnetValDsc). */
  valDsc: ValidationPoint[];
  vnetValDsc?: ValidationPoint[];
  /** The best checkpoint kept by validation DSC (SAM part), when there are validation cases. */
  best?: BestRecord;
  losses: number[];
  /** Iterations run with prompts (stage 2 hybrid prompting). */
  prompted: number;
}

export interface FinetuneResult {
  outDir: string;
  stages: StageSummary[];
  /** True when stopAfter or the signal ended the run early (a checkpoint was written). */
  stopped: boolean;
  files: string[];
  /** Whole-volume metrics of the final weights on the validation split (unless evaluate is false). */
  evaluation?: ValidationReport;
}

const STAGE1_TRAINABLE = (k: string) => k.includes('Adapter.') && (k.startsWith('image_encoder.') || k.startsWith('mask_decoder.'));
const STAGE2_TRAINABLE = ['attention_fusion.', 'mask_decoder.'];
const PROMPTED_FRACTION = 0.3;
// Prompted batches come in several token counts, one graph each; opening one costs ~0.3-0.5 s and an
// idle one holds only its graph (~15-30 MB, CPU arena off), so enough stay open that a run stops reopening them.
const MAX_PROMPT_GRAPHS = 8;

interface Settings {
  stages: FinetuneStages;
  batch: number;
  lr: number;
  warmup: number;
  seed: number;
  epochs: number;
  iterations?: number;
  checkpointEvery?: number;
  valEvery?: number;
  valSlices: number;
  augment?: AugmentOptions;
}

function positiveInt(v: number | undefined, what: string, min = 1): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new FinetuneError(`${what} must be an integer >= ${min}, got ${v}`);
}

function settingsOf(o: FinetuneOptions): Settings {
  positiveInt(o.batch, '--batch');
  positiveInt(o.iterations, '--iterations');
  positiveInt(o.epochs, '--epochs');
  positiveInt(o.checkpointEvery, '--checkpoint-every');
  positiveInt(o.valEvery, '--val-every');
  positiveInt(o.warmup, '--warmup', 0);
  positiveInt(o.seed, '--seed', 0);
  positiveInt(o.valSlices, 'valSlices');
  if (o.lr !== undefined && !(o.lr > 0 && Number.isFinite(o.lr))) throw new FinetuneError(`--lr must be a positive number, got ${o.lr}`);
  const stages = o.stages ?? 'both';
  if (stages !== 'both' && stages !== '1' && stages !== '2') throw new FinetuneError(`--stage must be 1, 2 or both, got ${String(stages)}`);
  const s: Settings = {
    stages, batch: o.batch ?? 8, lr: o.lr ?? 5e-4, warmup: o.warmup ?? 200, seed: o.seed ?? 0, epochs: o.epochs ?? 10, valSlices: o.valSlices ?? 8,
  };
  if (o.iterations !== undefined) s.iterations = o.iterations;
  if (o.checkpointEvery !== undefined) s.checkpointEvery = o.checkpointEvery;
  if (o.valEvery !== undefined) s.valEvery = o.valEvery;
  if (o.augment ?? true) s.augment = DEFAULT_AUGMENT;
  return s;
}

function prepareOutDir(outDir: string): void {
  try {
    mkdirSync(outDir, { recursive: true });
    if (!statSync(outDir).isDirectory()) throw new Error('not a directory');
    const probe = join(outDir, '.sab-finetune-write-test');
    writeFileAtomic(probe, new Uint8Array(1));
    rmSync(probe);
  } catch (err) {
    throw new FinetuneError(`${outDir}: cannot write the output folder (${(err as Error).message})`);
  }
}

function loadCases(data: string): { train: LoadedCase[]; val: LoadedCase[] } {
  let lists;
  if (existsSync(data) && statSync(data).isFile()) lists = listCases(dirname(data), { csv: data });
  else lists = listCases(data);
  if (lists.train.length === 0) throw new TrainingDataError(`${data}: no training cases (every case is in the val or test split)`);
  const load = (e: (typeof lists.train)[number]) => {
    const c = loadCase(e);
    if (c.boneSlices.length === 0) throw new TrainingDataError(`${e.mask}: the mask has no bone voxel`);
    return c;
  };
  return { train: lists.train.map(load), val: lists.val.map(load) };
}

/** The run's weights: from --weights (both files required), or from the checkpoint on resume. */
function startingWeights(o: FinetuneOptions, checkpointDir: string | undefined): { sam: StateDict; vnet: StateDict; vnetFile: string } {
  if (checkpointDir) return { ...readCheckpointWeights(checkpointDir), vnetFile: join(checkpointDir, 'atten.pth') };
  if (o.weights !== undefined && !existsSync(o.weights)) throw new WeightsError(`${o.weights}: no such weights folder`);
  const w = locateWeights(o.weights);
  if (!w.atten) throw new WeightsError(`${w.dir}: atten.pth is missing; fine-tuning needs both bone_sam.pth and atten.pth`);
  return { sam: loadCheckpoint(w.boneSam), vnet: loadCheckpoint(w.atten), vnetFile: w.atten };
}

/** Mutable training state of one model: parameters being trained, BatchNorm buffers, optimizer. */
interface ModelState {
  base: StateDict;
  params: Map<string, Float32Array>;
  buffers: RunningStats;
  optimizer: AdamW;
}

function modelState(base: StateDict, ft: FinetuneTrainer, lr: number, resumeFrom?: string): ModelState {
  const buffers = runningStatsOf(base, ft.batchNorms.map((b) => b.prefix));
  const optimizer = resumeFrom ? AdamW.load(resumeFrom, { lr }) : new AdamW({ lr });
  return { base, params: ft.trainer.params, buffers, optimizer };
}

function applyStep(m: ModelState, ft: FinetuneTrainer, step: StepResult, lr: number): void {
  const grads = new Map([...step.grads].filter(([k]) => ft.reached.has(k)));
  updateRunningStats(m.buffers, ft.batchNorms, ft.lastOutputs());
  m.optimizer.step(m.params, grads, lr);
}

const current = (m: ModelState): StateDict => assembleWeights(m.base, m.params, m.buffers);

const SAM_LOSSES = ['loss_dice', 'loss_ce', 'loss_total'];
const VNET_LOSSES = ['loss_bce', 'loss_tversky', 'loss_total'];

function openLog(path: string, names: string[], locations: string[], resumeAt: number | undefined): TrainingLog {
  return resumeAt !== undefined && resumeAt > 0 && existsSync(path) ? TrainingLog.resume(path, resumeAt + 1, locations) : TrainingLog.create(path, names, locations);
}

const point = (iteration: number, v: ValidationScore): ValidationPoint => ({ iteration, dsc: v.dsc, byLocation: v.byLocation });
const valColumns = (v: ValidationScore | undefined) => (v ? { valDsc: v.dsc, valByLocation: v.byLocation } : {});
const plotPath = (csv: string) => csv.replace(/\.csv$/, '.png');
const STAGE_TITLES = { 1: 'Stage 1: encoder + decoder adapters (automatic mode)', 2: 'Stage 2: attention fusion + mask decoder (hybrid prompting)' } as const;

async function writePlot(log: TrainingLog, csv: string, title: string, best: BestCheckpoint | undefined): Promise<void> {
  const b = best?.record;
  await log.writePlot(plotPath(csv), { title, ...(b ? { best: { iteration: b.iteration, dsc: b.valDsc } } : {}) });
}

/** Shared run context. */
interface Run {
  o: FinetuneOptions;
  s: Settings;
  runtime: Runtime;
  train: LoadedCase[];
  val: LoadedCase[];
  rng: ResumableRandom;
  sam: StateDict;
  vnet: StateDict;
  /** A .pth file holding exactly `vnet` (the starting file, or the last one written), linked instead of re-encoded. */
  vnetFile: string | undefined;
  /** Iterations done by this call (for stopAfter). */
  done: number;
  /** The best record of the resumed stage, from its state.json. */
  resumedBest?: BestRecord;
  files: Set<string>;
}

function stageIterations(r: Run): { total: number; perEpoch: number } {
  const slices = r.train.reduce((p, c) => p + c.dims[2], 0);
  const perEpoch = Math.max(1, Math.ceil(slices / r.s.batch));
  return { total: r.s.iterations ?? r.s.epochs * perEpoch, perEpoch };
}

function shouldStop(r: Run): boolean {
  return (r.o.stopAfter !== undefined && r.done >= r.o.stopAfter) || (r.o.signal?.aborted ?? false);
}

function stateOf(r: Run, stage: 1 | 2, iteration: number, total: number, done = false, best?: BestRecord): FinetuneState {
  return {
    format: 'sab-finetune-state', version: 1, stages: r.s.stages, stage, iteration, totalIterations: total, done,
    rng: r.rng.state, seed: r.s.seed, batch: r.s.batch, lr: r.s.lr, warmup: r.s.warmup, ...(best ? { best } : {}),
  };
}

/**
 * The VNet weights to write: the file that holds them when there is one. Checkpoint files are hard
 * links of it (or copies), so `checkpoint/atten.pth` stays a valid source across checkpoint swaps.
 */
function vnetWeights(r: Run): StateDict | { file: string } {
  return r.vnetFile && existsSync(r.vnetFile) ? { file: r.vnetFile } : r.vnet;
}

/** Stage 1: SAM adapters (automatic, no attention) and the VNet, one step each per iteration. */
async function stage1(r: Run, start: number, resumeDir: string | undefined): Promise<{ summary: StageSummary; stopped: boolean }> {
  const locations = locationsOf(r.val);
  const best = new BestCheckpoint(r.o.outDir, 1, start > 0 && r.resumedBest?.stage === 1 ? r.resumedBest : undefined);
  const { total, perEpoch } = stageIterations(r);
  const b = r.s.batch;
  // The run loaded r.sam and r.vnet itself and replaces them with the trained weights at the end of the stage, so the
  // trainers update their tensors in place rather than holding a second copy (the VNet's is 182 MB).
  const samFt = await openFinetuneTrainer(r.runtime, { stage: 'sam', weights: r.sam, trainable: STAGE1_TRAINABLE, batch: b, samInput: 'image', attention: false, mode: 'auto', adoptWeights: true });
  const vnetFt = await openFinetuneTrainer(r.runtime, { stage: 'vnet', weights: r.vnet, trainable: () => true, batch: b, adoptWeights: true });
  const resumeOpt = start > 0 && resumeDir;
  const sam = modelState(r.sam, samFt, r.s.lr, resumeOpt ? optimizerPath(resumeDir, 'sam') : undefined);
  const vnet = modelState(r.vnet, vnetFt, r.s.lr, resumeOpt ? optimizerPath(resumeDir, 'vnet') : undefined);
  const samLogPath = join(r.o.outDir, 'log_stage1_sam.csv');
  const vnetLogPath = join(r.o.outDir, 'log_stage1_vnet.csv');
  const samLog = openLog(samLogPath, SAM_LOSSES, locations, start);
  const vnetLog = openLog(vnetLogPath, VNET_LOSSES, locations, start);
  for (const p of [samLogPath, vnetLogPath]) r.files.add(p).add(plotPath(p));
  const summary: StageSummary = { stage: 1, iterations: total, valDsc: [], vnetValDsc: [], losses: [], prompted: 0 };
  const validate = async (iteration: number) => {
    if (r.val.length === 0) return undefined;
    const model = new SegmentAnyBone(r.runtime, current(sam), current(vnet), { vnetBatchNorm: 'batchstats' });
    try {
      const dsc = await validateSam2d(model, r.val, r.s.valSlices);
      const vdsc = await validateVNet(model, r.val);
      summary.valDsc.push(point(iteration, dsc));
      summary.vnetValDsc!.push(point(iteration, vdsc));
      // Best by the SAM part's DSC (the model a user segments with); both files are kept with it.
      best.offer(iteration, dsc, () => ({ sam: current(sam), vnet: current(vnet) }));
      return { dsc, vdsc };
    } finally {
      await model.release();
    }
  };
  const checkpoint = async (iteration: number) => {
    writeCheckpoint(r.o.outDir, { sam: current(sam), vnet: current(vnet), optimizers: { sam: sam.optimizer, vnet: vnet.optimizer }, state: stateOf(r, 1, iteration, total, false, best.record) });
    await writePlot(samLog, samLogPath, `${STAGE_TITLES[1]}: SAM`, best);
    await writePlot(vnetLog, vnetLogPath, 'Stage 1: VNet depth attention (BCE + Tversky)', undefined);
  };
  let stopped = false;
  try {
    if (start === 0) {
      const v = await validate(0);
      if (v) {
        samLog.append({ iteration: 0, lr: 0, losses: {}, ...valColumns(v.dsc) });
        vnetLog.append({ iteration: 0, lr: 0, losses: {}, ...valColumns(v.vdsc) });
      }
    }
    for (let i = start; i < total; i++) {
      const lr = learningRate(i, { baseLr: r.s.lr, warmup: r.s.warmup, maxIterations: total });
      const samples = sampleBatch(r.train, b, r.rng.next, r.s.augment ? { augment: r.s.augment } : {});
      const image = new Float32Array(b * 3 * 1024 * 1024);
      const target = new Float32Array(b * 256 * 256);
      samples.forEach((smp, j) => {
        image.set(smp.encoderInput, j * smp.encoderInput.length);
        target.set(smp.target256, j * 256 * 256);
      });
      const samStep = await samFt.trainer.step({ image, target });
      applyStep(sam, samFt, samStep, lr);
      const vin = new Float32Array(b * 64 ** 3);
      const vtarget = new Float32Array(b * 64 ** 3);
      for (let j = 0; j < b; j++) {
        const v = vnetSample(r.train[Math.min(Math.floor(r.rng.next() * r.train.length), r.train.length - 1)]!);
        vin.set(v.input, j * 64 ** 3);
        vtarget.set(v.target, j * 64 ** 3);
      }
      const vnetStep = await vnetFt.trainer.step({ input: vin, target: vtarget });
      applyStep(vnet, vnetFt, vnetStep, lr);
      r.done++;
      const it = i + 1;
      const validateNow = it === total || it % (r.s.valEvery ?? perEpoch) === 0;
      const v = validateNow ? await validate(it) : undefined;
      samLog.append({ iteration: it, lr, losses: { loss_dice: samStep.terms['dice']!, loss_ce: samStep.terms['ce']!, loss_total: samStep.loss }, ...valColumns(v?.dsc) });
      vnetLog.append({ iteration: it, lr, losses: { loss_bce: vnetStep.terms['bce']!, loss_tversky: vnetStep.terms['tversky']!, loss_total: vnetStep.loss }, ...valColumns(v?.vdsc) });
      summary.losses.push(samStep.loss);
      r.o.onProgress?.({ stage: 1, iteration: it, total, loss: samStep.loss, ...(v ? { valDsc: v.dsc.dsc } : {}) });
      stopped = it < total && shouldStop(r);
      if (it === total || stopped || it % (r.s.checkpointEvery ?? perEpoch) === 0) await checkpoint(it);
      if (stopped) break;
    }
  } finally {
    await samFt.trainer.release();
    await vnetFt.trainer.release();
  }
  r.sam = current(sam);
  r.vnet = current(vnet);
  if (best.record) (summary.best = best.record), r.files.add(best.dir);
  // Every stage-1 checkpoint wrote the VNet as trained so far; the latest one is its file from now on.
  r.vnetFile = join(r.o.outDir, 'checkpoint', 'atten.pth');
  return { summary, stopped };
}

/** Prompt tokens of a batch padded to one length with SAM padding tokens (label -1). */
function padTokens(tokens: PromptTokens[]): { coords: Float32Array; labels: Float32Array; count: number } {
  const count = Math.max(1, ...tokens.map((t) => t.count));
  const coords = new Float32Array(tokens.length * count * 2);
  const labels = new Float32Array(tokens.length * count).fill(-1);
  tokens.forEach((t, j) => {
    coords.set(t.coords, j * count * 2);
    labels.set(t.labels, j * count);
  });
  return { coords, labels, count };
}

const NO_PROMPT: PromptTokens = { coords: new Float32Array(2), labels: Float32Array.from([-1]), count: 1 };

/** Stage 2: fusion + decoder from cached embeddings/attention maps with hybrid prompting. */
async function stage2(r: Run, start: number, resumeDir: string | undefined): Promise<{ summary: StageSummary; stopped: boolean }> {
  const locations = locationsOf(r.val);
  const best = new BestCheckpoint(r.o.outDir, 2, start > 0 && r.resumedBest?.stage === 2 ? r.resumedBest : undefined);
  const { total, perEpoch } = stageIterations(r);
  const b = r.s.batch;
  const frozen = new SegmentAnyBone(r.runtime, r.sam, r.vnet, { vnetBatchNorm: 'batchstats' });
  // Every training slice is encoded once before the first iteration and kept in a file beside the
  // checkpoint (4 MiB per slice; deleted at the end of the stage), so no iteration waits for the encoder
  // and the memory use does not grow with the data.
  const trainCache = new SliceEmbeddingCache(frozen, r.train, {
    seed: r.s.seed, encodeBatch: Math.min(4, b), spillFile: join(r.o.outDir, '.stage2-embeddings.bin'), ...(r.s.augment ? { augment: STAGE2_AUGMENT(r.s.augment) } : {}),
  });
  const valCache = new SliceEmbeddingCache(frozen, r.val, { seed: r.s.seed });
  const trainers = new Map<number, FinetuneTrainer>();
  const logPath = join(r.o.outDir, 'log_stage2.csv');
  r.files.add(logPath).add(plotPath(logPath));
  const log = openLog(logPath, SAM_LOSSES, locations, start);
  const summary: StageSummary = { stage: 2, iterations: total, valDsc: [], losses: [], prompted: 0 };
  let state: ModelState | undefined;
  // One graph per prompt-token count (0 = automatic); all share one parameter store.
  const trainerFor = async (points: number): Promise<FinetuneTrainer> => {
    let ft = trainers.get(points);
    if (ft) {
      // Map order = least recently used first.
      trainers.delete(points);
      trainers.set(points, ft);
      return ft;
    }
    // Each prompt length is its own graph with its own ONNX Runtime arena: keep a few open (parameters live in the shared store).
    const prompts = [...trainers.keys()].filter((p) => p !== 0);
    if (prompts.length >= MAX_PROMPT_GRAPHS) {
      await trainers.get(prompts[0]!)!.trainer.release();
      trainers.delete(prompts[0]!);
    }
    ft = await openFinetuneTrainer(r.runtime, {
      stage: 'sam', weights: r.sam, trainable: STAGE2_TRAINABLE, batch: b, samInput: 'embedding', attention: true,
      ...(points === 0 ? { mode: 'auto' as const } : { mode: 'prompt' as const, points }),
    });
    if (!state) state = modelState(r.sam, ft, r.s.lr, start > 0 && resumeDir ? optimizerPath(resumeDir, 'sam') : undefined);
    else for (const [k, v] of state.params) if (ft.trainer.params.has(k)) ft.trainer.setParam(k, v);
    trainers.set(points, ft);
    return ft;
  };
  const validate = async (iteration: number) => {
    if (r.val.length === 0) return undefined;
    const model = new SegmentAnyBone(r.runtime, current(state!), undefined);
    try {
      const dsc = await validateFromCache(model, valCache, r.s.valSlices);
      summary.valDsc.push(point(iteration, dsc));
      best.offer(iteration, dsc, () => ({ sam: current(state!), vnet: vnetWeights(r) }));
      return dsc;
    } finally {
      await model.release();
    }
  };
  const checkpoint = async (iteration: number) => {
    writeCheckpoint(r.o.outDir, { sam: current(state!), vnet: vnetWeights(r), optimizers: { sam: state!.optimizer }, state: stateOf(r, 2, iteration, total, false, best.record) });
    await writePlot(log, logPath, STAGE_TITLES[2], best);
  };
  // One set of step inputs for the whole stage, refilled each iteration (ORT reads them during the step only).
  const imageEmbedding = new Float32Array(b * 256 * 64 * 64);
  const attentionMap = new Float32Array(b * 64 * 64);
  const target = new Float32Array(b * 256 * 256);
  let stopped = false;
  try {
    await trainerFor(0);
    await trainCache.computeAttention();
    await valCache.computeAttention();
    await frozen.releaseDepthAttention();
    // Runs shorter than one epoch's draws (smoke tests) encode lazily: most slices would never be drawn.
    if (r.o.precomputeEmbeddings ?? total * b >= trainCache.sliceCount) {
      r.o.onNotice?.(`stage 2: encoding the ${trainCache.sliceCount} training slices once (frozen encoder)`);
      await trainCache.precompute();
    }
    if (start === 0) {
      const dsc = await validate(0);
      if (dsc !== undefined) log.append({ iteration: 0, lr: 0, losses: {}, ...valColumns(dsc) });
    }
    for (let i = start; i < total; i++) {
      const lr = learningRate(i, { baseLr: r.s.lr, warmup: r.s.warmup, maxIterations: total });
      const prompted = isPromptedIteration(r.rng.next, PROMPTED_FRACTION);
      const items = Array.from({ length: b }, () => {
        const caseIndex = Math.min(Math.floor(r.rng.next() * r.train.length), r.train.length - 1);
        return { caseIndex, k: sampleSliceIndex(r.train[caseIndex]!, r.rng.next) };
      });
      const slices = await trainCache.get(items);
      const tokens: PromptTokens[] = [];
      slices.forEach((s, j) => {
        imageEmbedding.set(s.embedding, j * s.embedding.length);
        attentionMap.set(s.attention, j * s.attention.length);
        let t = s.mask;
        if (prompted) {
          const p = samplePromptedTarget(s.mask, s.rows, s.cols, r.rng.next);
          t = p.target;
          tokens.push(p.tokens ?? NO_PROMPT);
        }
        target.set(trainTarget256(t, s.rows, s.cols), j * 256 * 256);
      });
      const batch: SamBatch = { imageEmbedding, attentionMap, target };
      let points = 0;
      if (prompted) {
        summary.prompted++;
        const padded = padTokens(tokens);
        points = padded.count;
        batch.pointCoords = padded.coords;
        batch.pointLabels = padded.labels;
      }
      const ft = await trainerFor(points);
      const step = await ft.trainer.step(batch);
      applyStep(state!, ft, step, lr);
      r.done++;
      const it = i + 1;
      const validateNow = it === total || it % (r.s.valEvery ?? perEpoch) === 0;
      const dsc = validateNow ? await validate(it) : undefined;
      log.append({ iteration: it, lr, losses: { loss_dice: step.terms['dice']!, loss_ce: step.terms['ce']!, loss_total: step.loss }, ...valColumns(dsc) });
      summary.losses.push(step.loss);
      r.o.onProgress?.({ stage: 2, iteration: it, total, loss: step.loss, ...(dsc !== undefined ? { valDsc: dsc.dsc } : {}) });
      stopped = it < total && shouldStop(r);
      if (it === total || stopped || it % (r.s.checkpointEvery ?? perEpoch) === 0) await checkpoint(it);
      if (stopped) break;
    }
  } finally {
    for (const ft of trainers.values()) await ft.trainer.release();
    await frozen.release();
    trainCache.close();
  }
  r.sam = current(state!);
  if (best.record) (summary.best = best.record), r.files.add(best.dir);
  return { summary, stopped };
}

/** Runs (or resumes) the fine-tuning and exports bone_sam.pth / atten.pth (+ .safetensors) into outDir. */
export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  const s = settingsOf(o);
  prepareOutDir(o.outDir);
  const existing = findCheckpoint(o.outDir);
  if (o.resume && !existing) throw new FinetuneError(`${o.outDir}: no checkpoint to resume (expected ${join(o.outDir, 'checkpoint', 'state.json')})`);
  if (!o.resume && existing) throw new FinetuneError(`${o.outDir} already holds a training checkpoint; pass --resume to continue it or choose another output folder`);
  const saved = o.resume ? readState(existing!) : undefined;
  if (saved && (saved.batch !== s.batch || saved.stages !== s.stages)) {
    throw new FinetuneError(`${existing}: the checkpoint was made with --stage ${saved.stages} --batch ${saved.batch}; resume with the same settings (got --stage ${s.stages} --batch ${s.batch})`);
  }
  const { train, val } = loadCases(o.data);
  const weights = startingWeights(o, existing && o.resume ? existing : undefined);
  // ORT's CPU arena keeps each session's peak allocations for the session's life; a run holds several
  // sessions (training graphs per prompt length, the frozen encoder), so without it the peak RSS of a
  // stage-2 run at batch 1 measured 1.09 instead of 2.02 GiB (npm run bench train, SAB_BENCH_ARENA).
  // The memory pattern (one block per run laid out from the first run) costs more than the plain
  // per-tensor allocations it replaces: stage 1 step 2.36 -> 1.49 GiB, VNet step 1.43 -> 1.27 GiB without it.
  const runtime = o.runtime ?? createNodeRuntime({
    device: o.device ?? 'cpu', cpuMemArena: o.cpuMemArena ?? false, memPattern: o.memPattern ?? false,
    ...(o.threads ? { threads: o.threads } : {}), ...(o.onNotice ? { onNotice: o.onNotice } : {}),
  });
  const rng = new ResumableRandom(s.seed);
  if (saved) rng.state = saved.rng;
  if (val.length === 0) o.onNotice?.('no validation cases (split val): validation DSC is not computed');
  const r: Run = { o, s, runtime, train, val, rng, sam: weights.sam, vnet: weights.vnet, vnetFile: weights.vnetFile, done: 0, files: new Set() };
  if (saved?.best) r.resumedBest = saved.best;
  const stages: StageSummary[] = [];
  const plan: (1 | 2)[] = s.stages === 'both' ? [1, 2] : [Number(s.stages) as 1 | 2];
  let stopped = false;
  if (!saved?.done) {
    for (const stage of plan) {
      if (saved && (stage < saved.stage || (stage === saved.stage && saved.iteration >= stageIterations(r).total))) continue;
      if (shouldStop(r)) {
        stopped = true;
        break;
      }
      const start = saved && saved.stage === stage ? saved.iteration : 0;
      const res = stage === 1 ? await stage1(r, start, existing) : await stage2(r, start, existing);
      stages.push(res.summary);
      if (res.stopped) {
        stopped = true;
        break;
      }
    }
  }
  if (!stopped) {
    const last = plan[plan.length - 1]!;
    writeCheckpoint(o.outDir, { sam: r.sam, vnet: r.vnet, optimizers: {}, state: { ...stateOf(r, last, stageIterations(r).total, stageIterations(r).total, true) } });
    writeWeights(o.outDir, r.sam, r.vnet, true);
    for (const f of ['bone_sam.pth', 'atten.pth', 'bone_sam.safetensors', 'atten.safetensors']) r.files.add(join(o.outDir, f));
  }
  r.files.add(join(o.outDir, 'checkpoint'));
  let evaluation: ValidationReport | undefined;
  if (!stopped && val.length > 0 && (o.evaluate ?? true)) {
    o.onNotice?.(`evaluating the final weights on ${val.length} validation volume(s)`);
    evaluation = await evaluateValidation(runtime, r.sam, r.vnet, val, o.outDir);
    for (const f of evaluation.files) r.files.add(f);
  }
  return { outDir: o.outDir, stages, stopped, files: [...r.files], ...(evaluation ? { evaluation } : {}) };
}
