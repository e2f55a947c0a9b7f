import type { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ExecutionProvider } from '../../graph/runtime.js';
import { formatOfPath } from '../../io/dispatch.js';
import type { DicomwebClient } from '../../io/dicomweb/client.js';
import { segAlgorithm } from '../../segment/segAlgorithm.js';
import { openInputWithProgress } from '../input.js';
import { pushSeg, pushTarget } from '../seg-output.js';
import { ENCODER_PRECISIONS, type EncoderPrecision } from '../../model/segmentAnyBone.js';
import type { VNetBatchNormMode } from '../../model/vnet.js';
import type { VoxelPrompt } from '../../pipeline/prompts.js';
import { loadModel, type BoneSegmenter, type SegmentedVolume } from '../../pipeline/segmenter.js';
import { peakRssMiB } from '../../segment/peakMemory.js';
import { expandInputs, outputNameFor } from '../../segment/inputs.js';
import { segmentFile, type MaskCleanupOptions } from '../../segment/segmentFile.js';
import { axesWithSliceLast, type Axis } from '../../volume/permute.js';
import type { SlicingAxisChoice } from '../../volume/slicing-axis.js';
import { collect, FILL_HOLES, integerOption, KEEP_LARGEST, MIN_SIZE, parseNumbers, SERIES, SLICES, VOLUME_INDEX } from '../parse.js';
import { progressBar } from '../progress.js';
import { ALLOW_EXTERNAL_DATA, cliReadOptions } from '../read-options.js';

interface SegmentCliOptions extends MaskCleanupOptions {
  output: string;
  weights?: string;
  attention: boolean;
  axis: string;
  slices?: string;
  point: string[];
  box: string[];
  promptedOnly?: boolean;
  threads?: number;
  device: string;
  batch: number;
  probabilities?: string;
  series?: string;
  volumeIndex?: number;
  vnetBn: string;
  precision: string;
  json?: boolean;
  force?: boolean;
  allowExternalData?: boolean;
  push?: string;
  ca?: string;
}

export function register(program: Command): void {
  program
    .command('segment')
    .description(
      'Segment every bone in an MRI volume (NIfTI, NRRD, or a DICOM folder/zip). Several inputs, a folder of volumes ' +
        'or a glob pattern segment in batch into the -o folder, skipping inputs already done.',
    )
    .argument('<inputs...>', 'input volume(s), a folder of volumes, or a quoted glob like "scans/*.nii.gz"')
    .requiredOption('-o, --output <path>', 'output mask file (.nii, .nii.gz, .nrrd, .dcm for DICOM-SEG) or, in batch, a folder')
    .option('--weights <dir>', 'folder with bone_sam.pth and atten.pth (default: $SAB_WEIGHTS, then ~/.cache/segment-any-bone)')
    .option('--no-attention', '2D-only mode: no VNet depth attention (the paper\'s gate g fixed to the 2D branch)')
    .option('--axis <n|auto>', 'slicing axis in voxel order (official: 2); auto = the largest-spacing axis of an anisotropic volume (in-plane slices)', '2')
    .option(...SLICES)
    .option('--point <i,j,k[,label]>', 'prompt point in voxel coordinates, label 1 = bone (default) or 0 = not bone (repeatable)', collect, [])
    .option('--box <a0,b0,a1,b1@s>', 'prompt box: in-plane voxel corners (the two non-slicing axes in order) on slice s (repeatable)', collect, [])
    .option('--prompted-only', 'leave slices without prompts empty instead of segmenting them automatically')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', integerOption('--threads', 1))
    .option('--device <cpu|cuda>', 'execution provider', 'cpu')
    .option('--batch <n>', 'slices per encoder run', integerOption('--batch', 1), 1)
    .option(...KEEP_LARGEST)
    .option(...MIN_SIZE)
    .option(...FILL_HOLES)
    .option('--probabilities <file>', 'also write bone probabilities (float32) to this file')
    .option(...SERIES)
    .option(...VOLUME_INDEX)
    .option('--vnet-bn <mode>', 'VNet BatchNorm: batchstats (official behaviour) or eval (running stats)', 'batchstats')
    .option('--precision <float32|int8>', 'image encoder arithmetic: float32 (faithful) or int8 (faster, opt-in; README "Faster: int8")', 'float32')
    .option('--json', 'print a machine-readable JSON summary instead of text (no progress bar)')
    .option('--force', 'batch: segment again even when the output exists')
    .option(...ALLOW_EXTERNAL_DATA)
    .option('--push <base-url>', 'store the DICOM-SEG output on this DICOMweb server (STOW-RS); credentials from SAB_DICOMWEB_*')
    .option('--ca <file>', 'DICOMweb over https: extra CA certificate (PEM)')
    .action(async (inputs: string[], opts: SegmentCliOptions) => {
      const axis = parseAxisChoice(opts.axis);
      if (opts.device !== 'cpu' && opts.device !== 'cuda') throw new Error(`--device ${opts.device}: expected cpu or cuda`);
      if (opts.vnetBn !== 'batchstats' && opts.vnetBn !== 'eval') throw new Error(`--vnet-bn ${opts.vnetBn}: expected batchstats or eval`);
      if (!(ENCODER_PRECISIONS as readonly string[]).includes(opts.precision)) throw new Error(`--precision ${opts.precision}: expected float32 or int8`);
      const expanded = expandInputs(inputs);
      const batchInputs = expanded.batch ? expanded.inputs : undefined;
      if (opts.push && !batchInputs && formatOfPath(opts.output, true) !== 'dicom-seg') throw new Error(`--push stores a DICOM-SEG: give -o a .dcm file (got ${opts.output})`);
      const push = opts.push ? await pushTarget(opts.push, opts.ca) : undefined;
      const segmenter = loadModel(opts.weights, {
        device: opts.device as ExecutionProvider,
        ...(opts.threads ? { threads: opts.threads } : {}),
        vnetBatchNorm: opts.vnetBn as VNetBatchNormMode,
        precision: opts.precision as EncoderPrecision,
        onNotice: (m) => process.stderr.write(`sab: ${m}\n`),
      });
      try {
        if (batchInputs) await runBatch(segmenter, batchInputs, opts, axis, push);
        else await runOne(segmenter, inputs[0]!, opts.output, opts, axis, true, push);
      } finally {
        await segmenter.release();
      }
    });
}

async function runBatch(segmenter: BoneSegmenter, inputs: string[], opts: SegmentCliOptions, axis: SlicingAxisChoice, push?: DicomwebClient): Promise<void> {
  if (opts.point.length || opts.box.length) throw new Error('prompts (--point/--box) apply to one volume; run them without batch inputs');
  if (opts.probabilities) throw new Error('--probabilities names one file; it cannot be used in batch mode');
  mkdirSync(opts.output, { recursive: true });
  const results: { input: string; output: string; status: 'done' | 'skipped' | 'failed'; error?: string; boneVolumeMl?: number; peakRssMiB?: number }[] = [];
  let opened = false;
  for (const [n, input] of inputs.entries()) {
    const output = outputNameFor(input, opts.output);
    if (!opts.force && existsSync(output)) {
      results.push({ input, output, status: 'skipped' });
      if (!opts.json) process.stderr.write(`[${n + 1}/${inputs.length}] ${input}: ${output} exists, skipped\n`);
      continue;
    }
    try {
      if (!opts.json) process.stderr.write(`[${n + 1}/${inputs.length}] ${input}\n`);
      // Each volume starts with no session open. Otherwise a later volume's VNet opens and runs beside the encoder
      // and decoder sessions, whose arenas the previous volume grew: 1073-1084 MiB peak instead of 786-824 (the first
      // volume's 632-658), for 0.1-0.3 s of reopening per volume (DESIGN.md, issue 15, round thirteen).
      if (opened) await segmenter.release();
      opened = true;
      const res = await runOne(segmenter, input, output, opts, axis, false, push);
      results.push({ input, output, status: 'done', boneVolumeMl: res.boneVolumeMl, peakRssMiB: peakRssMiB() });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      results.push({ input, output, status: 'failed', error });
      if (!opts.json) process.stderr.write(`sab: error: ${input}: ${error}\n`);
    }
  }
  const failed = results.filter((r) => r.status === 'failed').length;
  const done = results.filter((r) => r.status === 'done').length;
  const skipped = results.length - failed - done;
  if (opts.json) process.stdout.write(`${JSON.stringify({ done, skipped, failed, results }, null, 1)}\n`);
  else process.stdout.write(`batch: ${done} segmented, ${skipped} skipped (already done), ${failed} failed\n`);
  if (failed) process.exitCode = 1;
}

async function runOne(
  segmenter: BoneSegmenter,
  input: string,
  output: string,
  opts: SegmentCliOptions,
  axisChoice: SlicingAxisChoice,
  report: boolean,
  push?: DicomwebClient,
): Promise<SegmentedVolume> {
  if (push && formatOfPath(output, true) !== 'dicom-seg') throw new Error(`--push stores a DICOM-SEG, but ${output} is not .dcm`);
  const opened = await openInputWithProgress(input, { quiet: Boolean(opts.json), ...(opts.ca ? { ca: opts.ca } : {}) });
  const bar = progressBar(path.basename(opened.spec), Boolean(opts.json));
  let file;
  try {
    file = await segmentFile(segmenter, opened, output, {
      attention: opts.attention,
      axis: axisChoice,
      batch: opts.batch,
      prompts: (axis) => parsePrompts(opts, axis),
      ...(opts.promptedOnly ? { promptedOnly: true } : {}),
      ...(opts.slices ? { slices: opts.slices } : {}),
      ...(opts.keepLargest !== undefined ? { keepLargest: opts.keepLargest } : {}),
      ...(opts.minSize !== undefined ? { minSize: opts.minSize } : {}),
      ...(opts.fillHoles ? { fillHoles: true } : {}),
      ...(opts.probabilities ? { probabilities: opts.probabilities } : {}),
      ...(opts.series ? { series: opts.series } : {}),
      ...(opts.volumeIndex !== undefined ? { volumeIndex: opts.volumeIndex } : {}),
      readOptions: cliReadOptions(opts),
      segAlgorithm: (attention) => segAlgorithm(opts.weights, attention),
      onProgress: (done, total) => bar.update(done, total),
    });
  } finally {
    bar.stop();
  }
  const { result: res, dims, spacing } = file;
  const pushedTo = push ? await pushSeg(push, output) : undefined;
  if (report) {
    const summary = {
      input: opened.spec, // a URL without any user:password@ part
      output,
      probabilities: opts.probabilities ?? null,
      pushedTo: pushedTo ?? null,
      dims,
      spacing,
      axis: file.axis,
      attention: res.attention,
      slicesSegmented: res.slicesSegmented,
      boneVolumeMl: round(res.boneVolumeMl, 3),
      seconds: round(res.timings.totalMs / 1000, 2),
      timingsMs: Object.fromEntries(Object.entries(res.timings).map(([k, v]) => [k, Math.round(v)])),
      peakRssMiB: peakRssMiB(),
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
    else {
      process.stdout.write(
        `wrote ${output}: bone mask ${dims.join('x')}, bone volume ${summary.boneVolumeMl} mL, ` +
          `${res.slicesSegmented} slices in ${summary.seconds} s${res.attention ? '' : ' (2D-only)'}\n`,
      );
      if (opts.probabilities) process.stdout.write(`wrote ${opts.probabilities}: bone probabilities\n`);
      if (pushedTo) process.stdout.write(`stored ${output} on ${pushedTo} (STOW-RS)\n`);
    }
  }
  return res;
}

/** --point i,j,k[,label] and --box a0,b0,a1,b1@s, in voxel coordinates of the input. */
export function parsePrompts(opts: Pick<SegmentCliOptions, 'point' | 'box'>, axis: Axis): VoxelPrompt[] {
  const prompts: VoxelPrompt[] = [];
  for (const p of opts.point) {
    const [i, j, k, label = 1] = parseNumbers(p, [3, 4], '--point i,j,k[,label]');
    if (label !== 0 && label !== 1) throw new Error(`--point ${p}: label must be 1 (bone) or 0 (not bone)`);
    prompts.push({ kind: 'point', ijk: [i!, j!, k!], label });
  }
  const [inPlaneA, inPlaneB] = axesWithSliceLast(axis);
  for (const b of opts.box) {
    const m = /^([^@]+)@([^@]+)$/.exec(b);
    if (!m) throw new Error(`--box ${b}: expected a0,b0,a1,b1@s`);
    const [a0, b0, a1, b1] = parseNumbers(m[1]!, 4, '--box a0,b0,a1,b1@s');
    const [s] = parseNumbers(m[2]!, 1, '--box ...@s');
    const corner = (a: number, bb: number): [number, number, number] => {
      const c: [number, number, number] = [0, 0, 0];
      c[inPlaneA] = a;
      c[inPlaneB] = bb;
      c[axis] = s!;
      return c;
    };
    prompts.push({ kind: 'box', corner0: corner(a0!, b0!), corner1: corner(a1!, b1!) });
  }
  return prompts;
}

/** `0`, `1`, `2` or `auto` -> the slicing axis choice (auto: resolved per volume from its spacing). */
export function parseAxisChoice(v: string): SlicingAxisChoice {
  return v === 'auto' ? 'auto' : parseAxis(v);
}

/** `0`, `1` or `2` -> the slicing axis. */
export function parseAxis(v: string): Axis {
  if (v !== '0' && v !== '1' && v !== '2') throw new Error(`--axis ${v}: expected 0, 1, 2 or auto`);
  return Number(v) as Axis;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
