import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../../checkpoint/load-checkpoint.js';
import { createNodeRuntime } from '../../graph/runtimeNode.js';
import { readVolume } from '../../io/dispatch.js';
import type { FramePrompt } from '../../pipeline/prompts.js';
import { traceSlice } from '../../pipeline/trace.js';
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
    .action(async (opts: { volume: string; slice: number; weights?: string; point: string[]; box?: string; out: string; threads?: number }) => {
      const weights = locateWeights(opts.weights);
      if (!weights.atten) throw new WeightsError(`${weights.dir}: atten.pth is missing; sab trace needs both checkpoints`);
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
      mkdirSync(opts.out, { recursive: true });
      for (const t of tensors) {
        writeFileSync(path.join(opts.out, `${t.name}.bin`), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      }
      const manifest = {
        what: 'segment-any-bone trace: raw little-endian C-order tensors named as in the official golden manifest',
        volume: path.resolve(opts.volume),
        slice_id: opts.slice,
        prompt,
        tensors: tensors.map((t) => ({ name: t.name, file: `${t.name}.bin`, dtype: t.dtype, shape: t.shape, description: t.description })),
      };
      writeFileSync(path.join(opts.out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
      process.stdout.write(`wrote ${tensors.length} tensors to ${opts.out}\n`);
    });
}
