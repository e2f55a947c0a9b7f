import type { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ExecutionProvider } from '../../graph/runtime.js';
import { readVolume, writeVolume, formatOfPath } from '../../io/dispatch.js';
import { fillHolesPerSlice, keepLargestComponents, removeSmallComponents } from '../../metrics/postprocess.js';
import type { VNetBatchNormMode } from '../../model/vnet.js';
import type { VoxelPrompt } from '../../pipeline/prompts.js';
import { loadModel, type BoneSegmenter, type SegmentedVolume } from '../../pipeline/segmenter.js';
import type { SegmentVolumeOptions } from '../../pipeline/segmentVolume.js';
import { axesWithSliceLast, type Axis } from '../../volume/permute.js';
import { adviseSlicingAxis, type SlicingAxisChoice } from '../../volume/slicing-axis.js';
import type { Volume } from '../../volume/types.js';
import { collect, integerOption, parseNumbers } from '../parse.js';
import { progressBar } from '../progress.js';
import { ALLOW_EXTERNAL_DATA, cliReadOptions } from '../read-options.js';

interface SegmentCliOptions {
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
  keepLargest?: number | true;
  minSize?: number;
  fillHoles?: boolean;
  probabilities?: string;
  series?: string;
  volumeIndex?: number;
  vnetBn: string;
  json?: boolean;
  force?: boolean;
  allowExternalData?: boolean;
}

const VOLUME_EXTS = ['.nii', '.nii.gz', '.nrrd', '.nhdr'];

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
    .option('--slices <a:b>', 'segment only slices a..b-1 along the axis')
    .option('--point <i,j,k[,label]>', 'prompt point in voxel coordinates, label 1 = bone (default) or 0 = not bone (repeatable)', collect, [])
    .option('--box <a0,b0,a1,b1@s>', 'prompt box: in-plane voxel corners (the two non-slicing axes in order) on slice s (repeatable)', collect, [])
    .option('--prompted-only', 'leave slices without prompts empty instead of segmenting them automatically')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', integerOption('--threads', 1))
    .option('--device <cpu|cuda>', 'execution provider', 'cpu')
    .option('--batch <n>', 'slices per encoder run', integerOption('--batch', 1), 1)
    .option('--keep-largest [k]', 'keep only the k largest 3-D components (default 1)', integerOption('--keep-largest', 1))
    .option('--min-size <n>', 'remove 3-D components smaller than n voxels', integerOption('--min-size', 1))
    .option('--fill-holes', 'fill enclosed holes slice by slice')
    .option('--probabilities <file>', 'also write bone probabilities (float32) to this file')
    .option('--series <uid>', 'DICOM: the SeriesInstanceUID to segment when the folder holds several')
    .option('--volume-index <n>', '4-D input: which volume to segment (0-based)', integerOption('--volume-index', 0))
    .option('--vnet-bn <mode>', 'VNet BatchNorm: batchstats (official behaviour) or eval (running stats)', 'batchstats')
    .option('--json', 'print a machine-readable JSON summary instead of text (no progress bar)')
    .option('--force', 'batch: segment again even when the output exists')
    .option(...ALLOW_EXTERNAL_DATA)
    .action(async (inputs: string[], opts: SegmentCliOptions) => {
      const axis = parseAxis(opts.axis);
      if (opts.device !== 'cpu' && opts.device !== 'cuda') throw new Error(`--device ${opts.device}: expected cpu or cuda`);
      if (opts.vnetBn !== 'batchstats' && opts.vnetBn !== 'eval') throw new Error(`--vnet-bn ${opts.vnetBn}: expected batchstats or eval`);
      const batchInputs = expandInputs(inputs);
      const segmenter = loadModel(opts.weights, {
        device: opts.device as ExecutionProvider,
        ...(opts.threads ? { threads: opts.threads } : {}),
        vnetBatchNorm: opts.vnetBn as VNetBatchNormMode,
        onNotice: (m) => process.stderr.write(`sab: ${m}\n`),
      });
      try {
        if (batchInputs) await runBatch(segmenter, batchInputs, opts, axis);
        else await runOne(segmenter, inputs[0]!, opts.output, opts, axis, true);
      } finally {
        await segmenter.release();
      }
    });
}

/** Several inputs, a folder of volume files, or a glob: the list to segment in batch; undefined for one input. */
function expandInputs(inputs: string[]): string[] | undefined {
  const files: string[] = [];
  let batch = inputs.length > 1;
  for (const input of inputs) {
    if (/[*?]/.test(path.basename(input))) {
      batch = true;
      files.push(...globBasename(input));
    } else if (existsSync(input) && statSync(input).isDirectory() && volumeFilesIn(input).length > 0) {
      batch = true;
      files.push(...volumeFilesIn(input));
    } else files.push(input);
  }
  if (!batch) return undefined;
  if (files.length === 0) throw new Error(`no input volumes match ${inputs.join(' ')}`);
  return files;
}

function volumeFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => VOLUME_EXTS.some((e) => f.toLowerCase().endsWith(e)))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Minimal glob: * and ? in the last path component (the shell usually expands patterns itself). */
function globBasename(pattern: string): string[] {
  const dir = path.dirname(pattern);
  const re = new RegExp(
    `^${path
      .basename(pattern)
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

function outputNameFor(input: string, outDir: string): string {
  const base = path.basename(input.replace(/[\\/]+$/, ''));
  const lower = base.toLowerCase();
  const ext = VOLUME_EXTS.find((e) => lower.endsWith(e));
  if (ext) return path.join(outDir, `${base.slice(0, base.length - ext.length)}_bone${ext === '.nhdr' ? '.nrrd' : ext}`);
  // A DICOM folder or zip: a DICOM-SEG next to the others.
  return path.join(outDir, `${base.replace(/\.zip$/i, '')}_bone.dcm`);
}

async function runBatch(segmenter: BoneSegmenter, inputs: string[], opts: SegmentCliOptions, axis: SlicingAxisChoice): Promise<void> {
  if (opts.point.length || opts.box.length) throw new Error('prompts (--point/--box) apply to one volume; run them without batch inputs');
  if (opts.probabilities) throw new Error('--probabilities names one file; it cannot be used in batch mode');
  mkdirSync(opts.output, { recursive: true });
  const results: { input: string; output: string; status: 'done' | 'skipped' | 'failed'; error?: string; boneVolumeMl?: number }[] = [];
  for (const [n, input] of inputs.entries()) {
    const output = outputNameFor(input, opts.output);
    if (!opts.force && existsSync(output)) {
      results.push({ input, output, status: 'skipped' });
      if (!opts.json) process.stderr.write(`[${n + 1}/${inputs.length}] ${input}: ${output} exists, skipped\n`);
      continue;
    }
    try {
      if (!opts.json) process.stderr.write(`[${n + 1}/${inputs.length}] ${input}\n`);
      const res = await runOne(segmenter, input, output, opts, axis, false);
      results.push({ input, output, status: 'done', boneVolumeMl: res.boneVolumeMl });
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
): Promise<SegmentedVolume> {
  const outFormat = formatOfPath(output, true);
  if (!outFormat) throw new Error(`${output}: unknown output format: use .nii, .nii.gz, .nrrd or .dcm (DICOM-SEG)`);
  if (outFormat === 'dicom-seg' && formatOfPath(input) !== 'dicom') {
    throw new Error(`${output}: DICOM-SEG output needs a DICOM series input (got ${input}); write .nii.gz or .nrrd instead`);
  }
  const volume = readVolume(input, {
    ...cliReadOptions(opts),
    ...(opts.series ? { seriesUid: opts.series } : {}),
    ...(opts.volumeIndex !== undefined ? { volumeIndex: opts.volumeIndex } : {}),
  });
  const { axis, warning } = adviseSlicingAxis(axisChoice, volume.spacing);
  if (warning) process.stderr.write(`sab: warning: ${input}: ${warning}\n`);
  const segOpts: SegmentVolumeOptions = {
    attention: opts.attention,
    axis,
    batch: opts.batch,
    prompts: parsePrompts(opts, axis),
    probabilities: Boolean(opts.probabilities),
  };
  if (opts.promptedOnly) segOpts.promptedOnly = true;
  if (opts.slices) segOpts.slices = parseSlices(opts.slices, volume.dims[axis]);
  const bar = progressBar(path.basename(input), Boolean(opts.json));
  segOpts.onProgress = (done, total) => bar.update(done, total);
  let res: SegmentedVolume;
  try {
    res = await segmenter.segmentVolume(volume, segOpts);
  } finally {
    bar.stop();
  }
  postprocess(res.mask, opts);
  res.boneVolumeMl = boneMl(res.mask);
  if (opts.probabilities && res.probabilities) writeVolume(opts.probabilities, res.probabilities, { inputs: [input] });
  writeVolume(output, res.mask, { inputs: [input] });
  if (report) {
    const summary = {
      input,
      output,
      probabilities: opts.probabilities ?? null,
      dims: volume.dims,
      spacing: volume.spacing,
      axis,
      attention: res.attention,
      slicesSegmented: res.slicesSegmented,
      boneVolumeMl: round(res.boneVolumeMl, 3),
      seconds: round(res.timings.totalMs / 1000, 2),
      timingsMs: Object.fromEntries(Object.entries(res.timings).map(([k, v]) => [k, Math.round(v)])),
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
    else {
      process.stdout.write(
        `wrote ${output}: bone mask ${volume.dims.join('x')}, bone volume ${summary.boneVolumeMl} mL, ` +
          `${res.slicesSegmented} slices in ${summary.seconds} s${res.attention ? '' : ' (2D-only)'}\n`,
      );
      if (opts.probabilities) process.stdout.write(`wrote ${opts.probabilities}: bone probabilities\n`);
    }
  }
  return res;
}

function postprocess(mask: Volume, opts: SegmentCliOptions): void {
  let data = mask.data as Uint8Array;
  if (opts.fillHoles) data = fillHolesPerSlice(data, mask.dims);
  if (opts.minSize) data = removeSmallComponents(data, mask.dims, opts.minSize);
  if (opts.keepLargest) data = keepLargestComponents(data, mask.dims, opts.keepLargest === true ? 1 : opts.keepLargest);
  mask.data = data;
}

function boneMl(mask: Volume): number {
  let n = 0;
  const d = mask.data as Uint8Array;
  for (let i = 0; i < d.length; i++) n += d[i]!;
  return (n * mask.spacing[0] * mask.spacing[1] * mask.spacing[2]) / 1000;
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

function parseAxis(v: string): SlicingAxisChoice {
  if (v === 'auto') return 'auto';
  if (v !== '0' && v !== '1' && v !== '2') throw new Error(`--axis ${v}: expected 0, 1, 2 or auto`);
  return Number(v) as Axis;
}

function parseSlices(v: string, n: number): [number, number] {
  const m = /^(\d*):(\d*)$/.exec(v);
  if (!m) throw new Error(`--slices ${v}: expected a:b (e.g. 10:40)`);
  const a = m[1] ? Number(m[1]) : 0;
  const b = m[2] ? Number(m[2]) : n;
  if (a >= b || b > n) throw new Error(`--slices ${v}: must satisfy 0 <= a < b <= ${n}`);
  return [a, b];
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
