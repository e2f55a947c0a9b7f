import type { StateDict } from '../../checkpoint/tensor.js';
import type { GraphBuilder } from '../../graph/builder.js';
import type { RunTensor, Runtime, Session } from '../../graph/runtime.js';
import { consumersOf, producersOf } from '../../graph/walk.js';
import { Trainer, TrainerError, buildStageTrainGraph, forwardOpener, type TrainerOptions } from '../step/index.js';

/**
 * A Trainer whose graph also outputs every train-mode BatchNorm's batch mean and variance, so the
 * running statistics can move as torch's do in train mode (momentum 0.1, unbiased variance). Without
 * this the exported checkpoint would keep the starting running statistics while the weights were
 * trained against batch statistics, and eval-mode inference (fusion, encoder) would drift from training.
 */

export const BN_MOMENTUM = 0.1;
const BUFFER_SUFFIXES = ['.running_mean', '.running_var', '.num_batches_tracked'];
const STAT_MEAN = 'bnstat_mean:';
const STAT_VAR = 'bnstat_var:';

/** One train-mode BatchNorm of a graph: its checkpoint prefix and the values holding its batch statistics. */
export interface BatchNormStat {
  prefix: string;
  /** Elements per channel the statistics were taken over (N x spatial). */
  count: number;
}

/**
 * Finds the batch-statistics BatchNorms emitted by the model code (`(x - mean) * (Reciprocal(Sqrt(var + eps))
 * * Unsqueeze(gamma)) + Unsqueeze(beta)`, gamma named `<prefix>.weight`, with `<prefix>.running_mean` in the
 * checkpoint) and adds their mean and variance as graph outputs.
 */
export function addBatchNormStatOutputs(g: GraphBuilder, sd: StateDict): BatchNormStat[] {
  const producer = producersOf(g.records);
  const consumers = consumersOf(g.records);
  const stats: BatchNormStat[] = [];
  const seen = new Set<string>();
  for (const r of g.records) {
    if (r.opType !== 'Unsqueeze' || !r.inputs[0]!.endsWith('.weight')) continue;
    const prefix = r.inputs[0]!.slice(0, -'.weight'.length);
    if (seen.has(prefix) || !sd.has(`${prefix}.running_mean`)) continue;
    const scale = (consumers.get(r.outputs[0]!) ?? []).find((c) => c.opType === 'Mul' && producer.get(c.inputs[0]!)?.opType === 'Reciprocal');
    if (!scale) continue;
    const sqrt = producer.get(producer.get(scale.inputs[0]!)!.inputs[0]!);
    const addEps = sqrt?.opType === 'Sqrt' ? producer.get(sqrt.inputs[0]!) : undefined;
    if (addEps?.opType !== 'Add') continue;
    const variance = addEps.inputs[0]!;
    // variance = nested ReduceMean of Mul(centred, centred); centred = Sub(x, mean).
    let v = producer.get(variance);
    while (v?.opType === 'ReduceMean') v = producer.get(v.inputs[0]!);
    const sub = v?.opType === 'Mul' ? producer.get(v.inputs[0]!) : undefined;
    if (sub?.opType !== 'Sub') continue;
    const xShape = g.values.get(sub.inputs[0]!)?.shape;
    if (!xShape || xShape.some((d) => typeof d !== 'number')) throw new TrainerError(`batch norm ${prefix}: the input shape is not static`);
    const dims = xShape as number[];
    seen.add(prefix);
    g.output(g.values.get(sub.inputs[1]!)!, `${STAT_MEAN}${prefix}`);
    g.output(g.values.get(variance)!, `${STAT_VAR}${prefix}`);
    stats.push({ prefix, count: dims.reduce((p, d) => p * d, 1) / dims[1]! });
  }
  return stats;
}

/** BatchNorm buffers being updated during training: running_mean/var (float32) and num_batches_tracked. */
export type RunningStats = Map<string, Float32Array | BigInt64Array>;

/** Copies of the running-statistics buffers of `prefixes` from a checkpoint. */
export function runningStatsOf(sd: StateDict, prefixes: readonly string[]): RunningStats {
  const out: RunningStats = new Map();
  for (const p of prefixes) {
    for (const s of BUFFER_SUFFIXES) {
      const t = sd.get(`${p}${s}`);
      if (!t) continue;
      out.set(`${p}${s}`, t.dtype === 'int64' ? BigInt64Array.from(t.data as BigInt64Array) : Float32Array.from(t.data as Float32Array));
    }
  }
  return out;
}

/** torch's train-mode update: running = (1 - m) * running + m * batch (variance unbiased), num_batches_tracked += 1. */
export function updateRunningStats(buffers: RunningStats, stats: readonly BatchNormStat[], outputs: Record<string, RunTensor>): void {
  const f32 = Math.fround;
  const m = f32(BN_MOMENTUM);
  const keep = f32(1 - BN_MOMENTUM);
  for (const { prefix, count } of stats) {
    const mean = outputs[`${STAT_MEAN}${prefix}`]!.data as Float32Array;
    const variance = outputs[`${STAT_VAR}${prefix}`]!.data as Float32Array;
    const rm = buffers.get(`${prefix}.running_mean`) as Float32Array | undefined;
    const rv = buffers.get(`${prefix}.running_var`) as Float32Array | undefined;
    if (!rm || !rv) continue;
    const unbias = count > 1 ? count / (count - 1) : 1;
    for (let c = 0; c < rm.length; c++) {
      rm[c] = f32(f32(m * mean[c]!) + f32(keep * rm[c]!));
      rv[c] = f32(f32(m * f32(variance[c]! * unbias)) + f32(keep * rv[c]!));
    }
    const n = buffers.get(`${prefix}.num_batches_tracked`) as BigInt64Array | undefined;
    if (n) n[0] = n[0]! + 1n;
  }
}

export interface FinetuneTrainer {
  trainer: Trainer;
  /** Train-mode BatchNorms of the graph. */
  batchNorms: BatchNormStat[];
  /** Every output of the latest step (loss terms, logits, gradients, batch statistics). */
  lastOutputs(): Record<string, RunTensor>;
  /** Trainable parameters the loss reaches (only those get an optimizer update, as torch skips grad=None). */
  reached: Set<string>;
}

/** createTrainer with BatchNorm statistics outputs (see addBatchNormStatOutputs). */
export async function openFinetuneTrainer(runtime: Runtime, options: TrainerOptions): Promise<FinetuneTrainer> {
  const { graph, keys } = buildStageTrainGraph(options);
  const batchNorms = addBatchNormStatOutputs(graph.g, options.weights);
  await runtime.lower(graph.g, { training: true });
  const bytes = graph.g.toBytes();
  graph.g.initializers.clear();
  const session = await runtime.session(bytes, graph.g.name);
  let last: Record<string, RunTensor> = {};
  // The Trainer reads only its own outputs; this view of the session keeps the rest of the latest run.
  const recording = Object.create(session) as Session;
  recording.run = async (feeds, outputs) => (last = await session.run(feeds, outputs));
  const trainer = new Trainer(graph, recording, options, keys, forwardOpener(runtime, options));
  return { trainer, batchNorms, lastOutputs: () => last, reached: new Set(graph.params) };
}
