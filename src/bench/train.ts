import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RowJob, RowResult } from './_trainRow.js';
import { samTrainWeights } from './_fixtures.js';
import { pytorchStage1Iteration, pytorchStep, type TorchModel, type TorchReference } from './pytorch/reference.js';

/**
 * Fine-tuning speed and memory, the table of issue 13: each row beside the official PyTorch code's
 * figures (torch 1.13 CPU, 2 threads, measured on this kind of machine and quoted from the issue) and
 * beside the forward-only time of the same stage (a graph with the same train-mode forward and loss
 * and no backward ops: ONNX Runtime runs every node of a session whatever is fetched). Every measurement runs in a fresh child process, so "peak RSS" is
 * that row's own. "step" = one trainer step (forward + loss + backward); "iteration" = a whole
 * `sab finetune` iteration (sampling, augmentation, step, BatchNorm statistics, AdamW; stage 1 also
 * runs the VNet step), compared with the trainer step(s) it contains.
 *
 * Every row also gets a PyTorch step measured in this run, in a child Python
 * with torch (torch 1.13 from Debian's `python3-torch`), just before ours: the quoted figures come from a day this
 * machine ran faster (see DESIGN.md), so only the same-run figure compares like with like. The official code needs
 * PyPI packages this machine cannot install (timm, einops, MONAI), so these are our own torch-only PyTorch versions of
 * the computation our graphs do: `pytorch/stage2_step.py` (fusion + adapted mask decoder, automatic mode, Dice + CE,
 * stage 2's trainable set; its `--check` matches the golden decoder outputs), `pytorch/stage1_step.py` (TinyViT with
 * its adapters + that decoder from the image, the adapters trained; its `--check` matches the golden embedding and
 * logits) and `pytorch/vnet_step.py` (MONAI's VNet layout). Stage-1 iterations are also compared with
 * `pytorch/stage1_iteration.py`: both stage-1 networks and their AdamW states in one process, one step of each per
 * iteration, so the iteration's peak has a like-for-like reference (not the sum of two processes' step peaks).
 *
 * Env: SAB_BENCH_PYTHON (the Python to try first), SAB_SAM_WEIGHTS (the SAM checkpoint; default the golden one), SAB_THREADS, SAB_BENCH_REPEATS (default 3), SAB_BENCH_ROWS (comma-separated row numbers, 1-based),
 * SAB_BENCH_ARENA=1 (ORT CPU arena on; off by default, as in `sab finetune`), SAB_BENCH_MEMPATTERN=1 (memory pattern on;
 * off by default, as in `sab finetune`),
 * SAB_BENCH_FINETUNE=0 (steps only), SAB_BENCH_NCHWC=0 (convs without the NCHWc lowering, as before round five),
 * SAB_BENCH_CONV3D_CHUNK=P[/minVoxels] (training's 3-D convs on the NCHWc kernels, P output depths at a time).
 */

interface Row {
  name: string;
  model: RowJob['model'];
  batch: number;
  torch: { ms: number; gib: number };
  /** Whole finetune iterations to run (stage rows only); the first and last are not timed, so stage 1 runs 6 (4 timed:
   *  with 2, one slow interval moved the median from 9.0 to 11.1 s between two idle runs). */
  iterations?: number;
}

const ROWS: Row[] = [
  { name: 'stage 2 (fusion + decoder from cached embeddings), batch 1', model: 'sam2', batch: 1, torch: { ms: 392, gib: 0.64 }, iterations: 10 },
  { name: 'stage 2, batch 8', model: 'sam2', batch: 8, torch: { ms: 2960, gib: 1.93 }, iterations: 7 },
  { name: 'stage 1 (encoder + decoder adapters), batch 1', model: 'sam1', batch: 1, torch: { ms: 3090, gib: 1.8 }, iterations: 6 },
  { name: 'stage 1, batch 2', model: 'sam1', batch: 2, torch: { ms: 6000, gib: 2.87 }, iterations: 6 },
  { name: 'VNet (BCE + Tversky, 64^3), batch 1', model: 'vnet', batch: 1, torch: { ms: 1650, gib: 1.32 } },
];

const exec = promisify(execFile);
const child = fileURLToPath(new URL('./_trainRow.js', import.meta.url));

async function measure(job: RowJob): Promise<RowResult> {
  const { stdout } = await exec(process.execPath, [child, JSON.stringify(job)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as RowResult;
}

const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);
const gib = (mib: number | undefined) => (mib === undefined ? '-' : `${(mib / 1024).toFixed(2)} GiB`);
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? '-' : `${(a / b).toFixed(2)}x`);

export async function run(): Promise<void> {
  const repeats = Number(process.env['SAB_BENCH_REPEATS'] ?? 3);
  const threads = Number(process.env['SAB_THREADS'] ?? 0) || undefined;
  // Default as `sab finetune` runs: CPU arena and memory pattern off (SAB_BENCH_ARENA=1, SAB_BENCH_MEMPATTERN=1 turn them on).
  const memory = { cpuMemArena: process.env['SAB_BENCH_ARENA'] === '1', memPattern: process.env['SAB_BENCH_MEMPATTERN'] === '1' };
  const wanted = process.env['SAB_BENCH_ROWS']?.split(',').map(Number);
  const nchwc = process.env['SAB_BENCH_NCHWC'] === '0' ? { nchwcConv: false } : {};
  // SAB_BENCH_CONV3D_CHUNK=P[/minVoxels]: training's 3-D convs on the NCHWc kernels, P output depths at a time.
  const chunk = process.env['SAB_BENCH_CONV3D_CHUNK']?.split('/').map(Number);
  const chunked = chunk?.[0] ? { nchwcTrainingConv3d: { depthChunk: chunk[0], ...(chunk[1] ? { minVoxels: chunk[1] } : {}) } } : {};
  const base = { repeats, ...(threads ? { threads } : {}), ...memory, ...nchwc, ...chunked };
  process.stdout.write(
    `ONNX Runtime CPU${threads ? `, ${threads} threads` : ''}, CPU arena ${memory.cpuMemArena === false ? 'off' : 'on'}, memory pattern ${memory.memPattern === false ? 'off' : 'on'}, NCHWc lowering ${nchwc.nchwcConv === false ? 'off' : 'on'}${chunk?.[0] ? ` (training 3-D convs chunked by ${chunk.join('/')})` : ''}; ` +
      `median of ${repeats} after a warm-up; "quoted" PyTorch figures from issue 13 (torch 1.13 CPU, 2 threads, a faster day).\n`,
  );
  // The SAM checkpoint PyTorch trains in this run: ours, when present (random weights otherwise).
  const torchSamWeights = existsSync(samTrainWeights()) ? samTrainWeights() : undefined;
  // PyTorch in this run: each row's step timed in a child Python just before ours.
  const torchRow = async (row: Row): Promise<TorchReference | undefined> => {
    const weights = row.model !== 'vnet' ? torchSamWeights : undefined;
    const ref = await pytorchStep(row.model satisfies TorchModel, threads ?? 2, repeats, row.batch, weights);
    process.stdout.write(
      ref.ok
        ? `PyTorch measured in this run for "${row.name}": torch ${ref.step.torch} (${ref.python}), ${threads ?? 2} threads, ` +
            `${ref.step.parameters} parameters trained${row.model !== 'vnet' ? ` (weights: ${weights ? 'the same checkpoint as ours' : 'random'})` : ''}, median of ${repeats} after a warm-up; step = forward + loss + backward, AdamW ${ms(ref.step.adamwMs)} apart.\n` +
            (ref.blasWarning ? `WARNING: ${ref.blasWarning}.\n` : '')
        : `PyTorch not measured in this run for "${row.name}": ${ref.reason}.\n`,
    );
    return ref;
  };
  const lines = [
    '| row | PyTorch ms/it, peak (quoted) | PyTorch in this run: step, forward, peak | ours: step | forward only | step / forward | step RSS | sab finetune iteration | iteration / step(s) | iteration RSS | step vs PyTorch quoted (time, memory) | step vs PyTorch in this run (time, memory) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const vnetSteps = new Map<number, number>();
  // Stage-1 iterations against a PyTorch process training both networks the same way (stage1_iteration.py).
  const iterationLines: string[] = [];
  for (const [i, row] of ROWS.entries()) {
    if (wanted && !wanted.includes(i + 1)) continue;
    const torchRef = await torchRow(row);
    const step = await measure({ kind: 'step', model: row.model, batch: row.batch, ...base });
    let it: RowResult | undefined;
    let reference = step.stepMs;
    if (row.iterations && process.env['SAB_BENCH_FINETUNE'] !== '0') {
      it = await measure({ kind: 'finetune', model: row.model, batch: row.batch, iterations: row.iterations, ...base });
      if (row.model === 'sam1') {
        // A stage-1 iteration also runs one VNet step at the same batch: compare with both steps.
        if (!vnetSteps.has(row.batch)) vnetSteps.set(row.batch, (await measure({ kind: 'step', model: 'vnet', batch: row.batch, ...base })).stepMs!);
        reference = step.stepMs! + vnetSteps.get(row.batch)!;
      }
    }
    const refNote = row.model === 'sam1' && it ? ` (SAM + VNet steps ${ms(reference)})` : '';
    if (row.model === 'sam1' && it) {
      const torchIt = await pytorchStage1Iteration(threads ?? 2, repeats, row.batch, torchSamWeights);
      const t = torchIt.ok ? torchIt.iteration : undefined;
      iterationLines.push(
        `| ${row.name} | ${t ? `${ms(t.iterationMs)}, ${gib(t.peakRssMiB)}` : `- (${torchIt.ok ? '' : torchIt.reason})`} | ${ms(it.iterationMs)}, ${gib(it.peakRssMiB)} | ` +
          `${t ? `${ratio(it.iterationMs, t.iterationMs)}, ${ratio(it.peakRssMiB, t.peakRssMiB)}` : '-'} |${torchIt.ok && torchIt.blasWarning ? ` WARNING: ${torchIt.blasWarning}` : ''}`,
      );
      process.stdout.write(`stage-1 iteration vs PyTorch ${iterationLines.at(-1)}\n`);
    }
    const same = torchRef?.ok ? torchRef.step : undefined;
    lines.push(
      `| ${row.name} | ${ms(row.torch.ms)}, ${row.torch.gib.toFixed(2)} GiB | ${same ? `${ms(same.stepMs)}, ${ms(same.forwardMs)}, ${gib(same.peakRssMiB)}` : '-'} | ${ms(step.stepMs)} | ${ms(step.forwardMs)} | ${ratio(step.stepMs, step.forwardMs)} | ${gib(step.peakRssMiB)} | ` +
        `${it ? `${ms(it.iterationMs)} (median of ${it.iterationsTimed})` : '-'} | ${it ? ratio(it.iterationMs, reference) + refNote : '-'} | ${it ? gib(it.peakRssMiB) : '-'} | ` +
        `${ratio(step.stepMs, row.torch.ms)}, ${ratio(step.peakRssMiB / 1024, row.torch.gib)} | ` +
        `${same ? `${ratio(step.stepMs, same.stepMs)}, ${ratio(step.peakRssMiB, same.peakRssMiB)}` : '-'} |`,
    );
    process.stdout.write(`${lines.at(-1)}\n`);
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
  if (iterationLines.length) {
    process.stdout.write(
      '\nStage-1 `sab finetune` iteration (SAM step + AdamW, VNet step + AdamW; peak RSS of the whole run, with its validation and export) ' +
        'against PyTorch training both networks in one process on synthetic inputs (stage1_iteration.py, same run, same checkpoint):\n' +
        '| row | PyTorch iteration, peak RSS | ours: iteration, peak RSS | ours / PyTorch (time, memory) |\n|---|---|---|---|\n' +
        `${iterationLines.join('\n')}\n`,
    );
  }
}
