import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { createNodeRuntime } from '../graph/runtimeNode.js';
import { createTrainer, type SamBatch, type TrainerOptions } from '../train/step/index.js';

const GOLDEN = fileURLToPath(new URL('../../../shared/fixtures/golden/', import.meta.url));

/** Deterministic pseudo-random fill (the timing does not depend on the values). */
function fill(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/**
 * ms per training iteration (forward + loss + backward, no optimizer) on CPU:
 * stage 1 = encoder + decoder adapters from the image (automatic mode, no attention);
 * stage 2 = fusion + whole decoder from precomputed embeddings with attention.
 * Batch 1 always; batch 8 for stage 2, and for stage 1 when SAB_BENCH_BATCH8_STAGE1=1 (slow on 2 cores).
 * Weights: golden bone_sam.pth or SAB_SAM_WEIGHTS; threads: SAB_THREADS; repeats: SAB_BENCH_REPEATS (default 3).
 */
export async function run(): Promise<void> {
  const sd = loadCheckpoint(process.env['SAB_SAM_WEIGHTS'] ?? `${GOLDEN}bone_sam.pth`);
  const threads = Number(process.env['SAB_THREADS'] ?? 0) || undefined;
  const runtime = createNodeRuntime(threads ? { threads } : {});
  const repeats = Number(process.env['SAB_BENCH_REPEATS'] ?? 3);
  const stage1: Omit<TrainerOptions, 'batch'> = {
    stage: 'sam',
    weights: sd,
    trainable: (k) => k.includes('Adapter.') && (k.startsWith('image_encoder.') || k.startsWith('mask_decoder.')),
    samInput: 'image',
    attention: false,
  };
  const stage2: Omit<TrainerOptions, 'batch'> = {
    stage: 'sam',
    weights: sd,
    trainable: ['attention_fusion.', 'mask_decoder.'],
    samInput: 'embedding',
    attention: true,
  };
  const runs: [string, Omit<TrainerOptions, 'batch'>, number][] = [
    ['stage 1 (encoder+decoder adapters)', stage1, 1],
    ['stage 2 (fusion+decoder)', stage2, 1],
    ['stage 2 (fusion+decoder)', stage2, 8],
  ];
  if (process.env['SAB_BENCH_BATCH8_STAGE1'] === '1') runs.push(['stage 1 (encoder+decoder adapters)', stage1, 8]);
  for (const [label, opts, batch] of runs) {
    const t0 = performance.now();
    const trainer = await createTrainer(runtime, { ...opts, batch });
    const buildMs = performance.now() - t0;
    const input: SamBatch = {
      target: Float32Array.from(fill(batch * 256 * 256, 3), (v) => (v > 0.6 ? 1 : 0)),
      ...(opts.samInput === 'image' ? { image: fill(batch * 3 * 1024 * 1024, 1, 2) } : { imageEmbedding: fill(batch * 256 * 64 * 64, 1, 0.5) }),
      ...(opts.attention ? { attentionMap: Float32Array.from(fill(batch * 64 * 64, 2), (v) => 0.5 + 0.5 * v) } : {}),
    };
    await trainer.step(input); // warm-up
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < repeats; i++) {
      const t = performance.now();
      await trainer.step(input);
      times.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpu0);
    await trainer.release();
    times.sort((p, q) => p - q);
    const nParams = [...trainer.params.values()].reduce((p, a) => p + a.length, 0);
    process.stdout.write(
      `${label}, batch ${batch}: ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms/iteration (median of ${repeats}; min ${times[0]!.toFixed(0)}), ` +
        `process CPU ${((cpu.user + cpu.system) / 1000 / repeats).toFixed(0)} ms/iteration, build+session ${buildMs.toFixed(0)} ms, ` +
        `${trainer.paramNames.length} tensors / ${nParams} trainable values, ${trainer.graph.differentiatedOps} ops differentiated, ` +
        `peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n`,
    );
  }
  if (process.env['SAB_BENCH_FINETUNE'] !== '0') await finetuneIterations(runtime);
}

// ---------------------------------------------------------------------------------------------------
// sab finetune iterations (the whole loop: sampling/augmentation, training step, BatchNorm running
// statistics, AdamW update). Stage 1 = SAM encoder+decoder adapters from the image AND one VNet step
// (64^3) per iteration; stage 2 = fusion + decoder from cached embeddings with hybrid prompting.
// ---------------------------------------------------------------------------------------------------

async function finetuneIterations(runtime: ReturnType<typeof createNodeRuntime>): Promise<void> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { writePhantomSet } = await import('../train/data/index.js');
  const { finetune } = await import('../train/loop/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'sab-bench-finetune-'));
  try {
    const data = join(dir, 'data');
    writePhantomSet(data, { count: 3, seed: 1, dims: [64, 64, 16] });
    const stage1Batch8 = process.env['SAB_BENCH_BATCH8_STAGE1'] === '1';
    // Stage 1 at batch 8 needs minutes per iteration on 2 cores (8 encoder backward passes + 8 VNet volumes): batch 2 by default.
    const runs: [1 | 2, number, number][] = [[2, 1, 10], [2, 8, 8], [1, 1, 3], [1, stage1Batch8 ? 8 : 2, 3]];
    for (const [stage, batch, iterations] of runs) {
      const stamps: number[] = [];
      const t0 = performance.now();
      await finetune({
        data, weights: process.env['SAB_WEIGHTS_DIR'] ?? GOLDEN, outDir: join(dir, `out-${stage}-${batch}`), stages: String(stage) as '1' | '2',
        iterations, batch, warmup: 2, valEvery: 1000, checkpointEvery: 1000, valSlices: 1, seed: 1, runtime,
        onProgress: () => stamps.push(performance.now()),
      });
      const total = performance.now() - t0;
      // Steady state: intervals between completed iterations, without the first ones (embedding cache filling) and the last (validation, export).
      const skip = stage === 2 ? Math.min(3, iterations - 2) : 0;
      const intervals = stamps.slice(1, -1).map((t, i) => t - stamps[i]!).slice(skip);
      intervals.sort((p, q) => p - q);
      const med = intervals.length ? intervals[Math.floor(intervals.length / 2)]!.toFixed(0) : 'n/a';
      const note = stage === 1 && batch === 2 ? ' (batch 2 instead of 8: batch 8 is minutes per iteration here; SAB_BENCH_BATCH8_STAGE1=1 runs it)' : '';
      process.stdout.write(
        `finetune stage ${stage}, batch ${batch}: ${med} ms/iteration (median of ${intervals.length} steady iterations; first iteration ${(stamps[0]! - t0).toFixed(0)} ms incl. graph build` +
          `${stage === 2 ? ', VNet attention and embedding precompute' : ''}; whole run ${(total / 1000).toFixed(1)} s for ${iterations} iterations incl. validation and export), ` +
          `peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB${note}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
