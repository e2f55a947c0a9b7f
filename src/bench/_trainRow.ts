// Child process of `npm run bench train`: measures ONE row in a fresh process, so its peak RSS is that
// row's own; prints one JSON line. Not a bench module itself (the leading '_' keeps run.js away).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { createNodeRuntime } from '../graph/runtimeNode.js';
import { writePhantomSet } from '../train/data/index.js';
import { finetune } from '../train/loop/index.js';
import { createTrainer, type SamBatch, type TrainerOptions, type VNetBatch } from '../train/step/index.js';
import { GOLDEN, samTrainWeights } from './_fixtures.js';

export interface RowJob {
  kind: 'step' | 'finetune';
  /** sam1 = encoder + decoder adapters from the image; sam2 = fusion + decoder from embeddings; vnet = the VNet. */
  model: 'sam1' | 'sam2' | 'vnet';
  batch: number;
  repeats: number;
  iterations?: number;
  cpuMemArena?: boolean;
  memPattern?: boolean;
  threads?: number;
  /** Runtime option nchwcConv (default on): false times the graphs without the NCHWc lowering. */
  nchwcConv?: boolean;
  /** Runtime option nchwcTrainingConv3d: the training graphs' 3-D convs chunked over output depth (off by default). */
  nchwcTrainingConv3d?: { depthChunk: number; minVoxels?: number };
}

export interface RowResult {
  stepMs?: number;
  forwardMs?: number;
  iterationMs?: number;
  iterationsTimed?: number;
  peakRssMiB: number;
  buildMs?: number;
}

function fill(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

async function stepRow(job: RowJob, runtime: ReturnType<typeof createNodeRuntime>): Promise<RowResult> {
  const b = job.batch;
  const sam = job.model !== 'vnet';
  const sd = loadCheckpoint(sam ? samTrainWeights() : `${GOLDEN}atten.pth`);
  const opts: TrainerOptions =
    job.model === 'sam1'
      ? { stage: 'sam', weights: sd, batch: b, samInput: 'image', attention: false, trainable: (k) => k.includes('Adapter.') && (k.startsWith('image_encoder.') || k.startsWith('mask_decoder.')) }
      : job.model === 'sam2'
        ? { stage: 'sam', weights: sd, batch: b, samInput: 'embedding', attention: true, trainable: ['attention_fusion.', 'mask_decoder.'] }
        : { stage: 'vnet', weights: sd, batch: b, trainable: () => true };
  const t0 = performance.now();
  const trainer = await createTrainer(runtime, opts);
  const buildMs = performance.now() - t0;
  const input: SamBatch | VNetBatch = sam
    ? {
        target: Float32Array.from(fill(b * 256 * 256, 3), (v) => (v > 0.6 ? 1 : 0)),
        ...(job.model === 'sam1' ? { image: fill(b * 3 * 1024 * 1024, 1, 2) } : { imageEmbedding: fill(b * 256 * 64 * 64, 1, 0.5), attentionMap: Float32Array.from(fill(b * 64 * 64, 2), (v) => 0.5 + 0.5 * v) }),
      }
    : { input: fill(b * 64 ** 3, 1), target: Float32Array.from(fill(b * 64 ** 3, 3), (v) => (v > 0.6 ? 1 : 0)) };
  const time = async (f: () => Promise<unknown>) => {
    await f(); // warm-up
    const ts: number[] = [];
    for (let i = 0; i < job.repeats; i++) {
      const t = performance.now();
      await f();
      ts.push(performance.now() - t);
    }
    return median(ts);
  };
  const stepMs = await time(() => trainer.step(input));
  // The step's own peak, before the forward-only graph (a second session) is opened.
  const stepPeak = peakRssMiB();
  const forwardMs = await time(() => trainer.forward(input));
  await trainer.release();
  return { stepMs, forwardMs, buildMs, peakRssMiB: stepPeak };
}

async function finetuneRow(job: RowJob, runtime: ReturnType<typeof createNodeRuntime>): Promise<RowResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sab-bench-finetune-'));
  try {
    const data = join(dir, 'data');
    writePhantomSet(data, { count: 3, seed: 1, dims: [64, 64, 16] });
    const stage = job.model === 'sam1' ? 1 : 2;
    const iterations = job.iterations ?? 4;
    const stamps: number[] = [];
    await finetune({
      data, weights: process.env['SAB_WEIGHTS_DIR'] ?? GOLDEN, outDir: join(dir, 'out'), stages: String(stage) as '1' | '2',
      iterations, batch: job.batch, warmup: 2, valEvery: 1000, checkpointEvery: 1000, valSlices: 1, seed: 1, runtime, evaluate: false, precomputeEmbeddings: true,
      onProgress: () => stamps.push(performance.now()),
    });
    // Steady state: intervals between completed iterations, without the first ones (graph build, embedding
    // cache filling) and the last (validation, checkpoint, export).
    const skip = stage === 2 ? Math.min(3, iterations - 3) : 0;
    const intervals = stamps.slice(1, -1).map((t, i) => t - stamps[i]!).slice(skip);
    return { iterationMs: intervals.length ? median(intervals) : NaN, iterationsTimed: intervals.length, peakRssMiB: peakRssMiB() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as RowJob;
const runtime = createNodeRuntime({
  ...(job.threads ? { threads: job.threads } : {}),
  ...(job.cpuMemArena !== undefined ? { cpuMemArena: job.cpuMemArena } : {}),
  ...(job.memPattern !== undefined ? { memPattern: job.memPattern } : {}),
  ...(job.nchwcConv !== undefined ? { nchwcConv: job.nchwcConv } : {}),
  ...(job.nchwcTrainingConv3d ? { nchwcTrainingConv3d: job.nchwcTrainingConv3d } : {}),
});
const result = job.kind === 'step' ? await stepRow(job, runtime) : await finetuneRow(job, runtime);
process.stdout.write(`${JSON.stringify(result)}\n`);
