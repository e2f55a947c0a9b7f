import type { Command } from 'commander';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../../checkpoint/load-checkpoint.js';
import { createNodeRuntime } from '../../graph/runtimeNode.js';
import { readVolume } from '../../io/dispatch.js';
import type { FramePrompt } from '../../pipeline/prompts.js';
import { traceSlice, type TracedTensor } from '../../pipeline/trace.js';
import { traceTrainingStep } from '../../train/step/index.js';
import { locateWeights, WeightsError } from '../../weights/locate.js';
import { collect, parseNumbers } from '../parse.js';

export function register(program: Command): void {
  program
    .command('trace')
    .description(
      'Run one slice through the whole pipeline and write every intermediate tensor (raw little-endian float32, uint8 masks) ' +
        'with a manifest.json, under the same names as the official golden fixtures, to compare with PyTorch.',
    )
    .requiredOption('--volume <file>', 'input volume (NIfTI, NRRD or DICOM folder)')
    .requiredOption('--slice <n>', 'slice index along the third voxel axis', (v) => parseInt(v, 10))
    .option('--weights <dir>', 'folder with bone_sam.pth and atten.pth')
    .option('--point <x,y,label>', 'prompt point in the 1024x1024 encoder frame (repeatable)', collect, [])
    .option('--box <x0,y0,x1,y1>', 'prompt box in the 1024x1024 encoder frame')
    .option('--out <dir>', 'output folder', 'trace')
    .option('--threads <n>', 'ONNX Runtime threads', (v) => parseInt(v, 10))
    .option('--train', 'trace one training step instead (losses, train-mode logits, gradients, targets); needs --mask')
    .option('--mask <file>', 'label volume on the same grid (with --train)')
    .action(async (opts: { volume: string; slice: number; weights?: string; point: string[]; box?: string; out: string; threads?: number; train?: boolean; mask?: string }) => {
      const weights = locateWeights(opts.weights);
      if (!weights.atten) throw new WeightsError(`${weights.dir}: atten.pth is missing; sab trace needs both checkpoints`);
      if (opts.train) {
        if (!opts.mask) throw new Error('sab trace --train needs --mask <file> (the label volume)');
        const runtime = createNodeRuntime(opts.threads ? { threads: opts.threads } : {});
        const res = await traceTrainingStep(
          runtime,
          loadCheckpoint(weights.boneSam),
          loadCheckpoint(weights.atten),
          readVolume(opts.volume),
          readVolume(opts.mask),
          opts.slice,
        );
        writeTrace(opts.out, res.tensors, {
          what: 'segment-any-bone training trace: raw little-endian C-order tensors named as in the golden manifest training section',
          volume: path.resolve(opts.volume),
          mask: path.resolve(opts.mask),
          slice_id: opts.slice,
        });
        writeFileAtomic(path.join(opts.out, 'scalars.json'), `${JSON.stringify(res.scalars, null, 1)}\n`);
        process.stdout.write(`wrote ${res.tensors.length} tensors and scalars.json to ${opts.out}\n`);
        return;
      }
      const prompt: FramePrompt = {};
      if (opts.point.length) {
        prompt.points = opts.point.map((p) => {
          const [x, y, label] = parseNumbers(p, 3, '--point x,y,label');
          if (label !== 0 && label !== 1) throw new Error(`--point ${p}: label must be 1 (positive) or 0 (negative)`);
          return [x!, y!, label];
        });
      }
      if (opts.box) prompt.box = parseNumbers(opts.box, 4, '--box x0,y0,x1,y1') as [number, number, number, number];
      const volume = readVolume(opts.volume);
      const runtime = createNodeRuntime(opts.threads ? { threads: opts.threads } : {});
      const tensors = await traceSlice(runtime, loadCheckpoint(weights.boneSam), loadCheckpoint(weights.atten), volume, {
        sliceIndex: opts.slice,
        prompt,
      });
      writeTrace(opts.out, tensors, {
        what: 'segment-any-bone trace: raw little-endian C-order tensors named as in the official golden manifest',
        volume: path.resolve(opts.volume),
        slice_id: opts.slice,
        prompt,
      });
      process.stdout.write(`wrote ${tensors.length} tensors to ${opts.out}\n`);
    });
}

/** Write each tensor as <name>.bin plus manifest.json (each file via a temp file and rename). */
function writeTrace(out: string, tensors: TracedTensor[], header: Record<string, unknown>): void {
  mkdirSync(out, { recursive: true });
  for (const t of tensors) {
    writeFileAtomic(path.join(out, `${t.name}.bin`), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const manifest = {
    ...header,
    tensors: tensors.map((t) => ({ name: t.name, file: `${t.name}.bin`, dtype: t.dtype, shape: t.shape, description: t.description })),
  };
  writeFileAtomic(path.join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
}

function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}
