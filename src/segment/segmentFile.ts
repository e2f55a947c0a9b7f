import { formatOfPath, writeVolume } from '../io/dispatch.js';
import type { SegAlgorithm } from '../io/dicom/seg.js';
import { VolumeIOError } from '../io/errors.js';
import { isDicomInput, readOpenedInput, type OpenedInput } from '../io/input.js';
import type { ReadOptions } from '../io/options.js';
import { fillHolesPerSlice, keepLargestComponents, removeSmallComponents } from '../metrics/postprocess.js';
import { SegmentationError, type VoxelPrompt } from '../pipeline/prompts.js';
import type { BoneSegmenter, SegmentedVolume } from '../pipeline/segmenter.js';
import type { SegmentVolumeOptions } from '../pipeline/segmentVolume.js';
import type { Axis } from '../volume/permute.js';
import { adviseSlicingAxis, type SlicingAxisChoice } from '../volume/slicing-axis.js';
import type { Vec3, Volume } from '../volume/types.js';

/** The mask clean-up after segmentation, as `sab segment` and `sab queue add` take it. */
export interface MaskCleanupOptions {
  /** Keep the k largest 3-D components (true: 1). */
  keepLargest?: number | true;
  minSize?: number;
  fillHoles?: boolean;
}

/** What shapes one file's segmentation: the `sab segment` options that are not about the model or the output. */
export interface SegmentFileOptions extends MaskCleanupOptions {
  attention: boolean;
  /**
   * Slicing axis, or 'auto': the largest-spacing axis of an anisotropic volume, else the third. A fixed axis that
   * cuts across the acquisition plane is used, with a warning (through readOptions.onWarning) naming the better one.
   */
  axis: SlicingAxisChoice;
  /** Slices per encoder run. */
  batch?: number;
  /** `a:b` (either end may be empty): only slices a..b-1 along the axis. */
  slices?: string;
  /** Prompts, or a function of the resolved slicing axis (box corners are given in its in-plane axes). */
  prompts?: VoxelPrompt[] | ((axis: Axis) => VoxelPrompt[]);
  promptedOnly?: boolean;
  /** Also write bone probabilities (float32) to this file. */
  probabilities?: string;
  /** DICOM: the series to read when the folder holds several. */
  series?: string;
  /** 4-D input: which volume (0-based). */
  volumeIndex?: number;
  /** Keep the VNet session open between volumes (a long-running worker), instead of freeing its memory. */
  keepDepthSession?: boolean;
  /** Reader options: detached-data policy (default: refuse data outside the header's folder) and warnings. */
  readOptions?: Pick<ReadOptions, 'allowExternalData' | 'onWarning'>;
  /** DICOM-SEG output: the algorithm identification to record, given whether depth attention ran. */
  segAlgorithm?: (attention: boolean) => SegAlgorithm;
  onProgress?: (done: number, total: number) => void;
}

export interface SegmentedFile {
  input: string;
  output: string;
  dims: Vec3;
  spacing: Vec3;
  /** The slicing axis used. */
  axis: Axis;
  result: SegmentedVolume;
}

/**
 * One input file to one mask file, as `sab segment` does it: read, segment, postprocess, write (atomically,
 * never over the input). Errors name the file and the problem; nothing is written when one is thrown.
 */
export async function segmentFile(segmenter: BoneSegmenter, source: string | OpenedInput, output: string, opts: SegmentFileOptions): Promise<SegmentedFile> {
  const opened: OpenedInput = typeof source === 'string' ? { spec: source, kind: 'file' } : source;
  const input = opened.spec;
  const outFormat = formatOfPath(output, true);
  if (!outFormat) throw new VolumeIOError(output, 'unknown output format: use .nii, .nii.gz, .nrrd or .dcm (DICOM-SEG)');
  if (outFormat === 'dicom-seg' && !isDicomInput(input)) {
    throw new VolumeIOError(output, `DICOM-SEG output needs a DICOM series input (got ${input}); write .nii.gz or .nrrd instead`);
  }
  const volume = readOpenedInput(opened, {
    ...opts.readOptions,
    ...(opts.series ? { seriesUid: opts.series } : {}),
    ...(opts.volumeIndex !== undefined ? { volumeIndex: opts.volumeIndex } : {}),
  });
  const { axis, warning } = adviseSlicingAxis(opts.axis, volume.spacing);
  if (warning) opts.readOptions?.onWarning?.(`${input}: ${warning}`);
  const segOpts: SegmentVolumeOptions = {
    attention: opts.attention,
    axis,
    batch: opts.batch ?? 1,
    prompts: typeof opts.prompts === 'function' ? opts.prompts(axis) : (opts.prompts ?? []),
    probabilities: Boolean(opts.probabilities),
  };
  if (opts.promptedOnly) segOpts.promptedOnly = true;
  if (opts.slices) segOpts.slices = parseSlices(opts.slices, volume.dims[axis]);
  if (opts.keepDepthSession) segOpts.keepDepthSession = true;
  if (opts.onProgress) segOpts.onProgress = opts.onProgress;
  const res = await segmenter.segmentVolume(volume, segOpts);
  postprocess(res.mask, opts);
  res.boneVolumeMl = boneMl(res.mask);
  if (opts.probabilities && res.probabilities) writeVolume(opts.probabilities, res.probabilities, { inputs: [input] });
  writeVolume(output, res.mask, { inputs: [input], ...(outFormat === 'dicom-seg' && opts.segAlgorithm ? { algorithm: opts.segAlgorithm(res.attention) } : {}) });
  return { input, output, dims: volume.dims, spacing: volume.spacing, axis, result: res };
}

function postprocess(mask: Volume, opts: SegmentFileOptions): void {
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

/** `a:b` -> [a, b] within 0..n (an empty end means the volume's end). */
export function parseSlices(v: string, n: number): [number, number] {
  const m = /^(\d*):(\d*)$/.exec(v);
  if (!m) throw new SegmentationError(`--slices ${v}: expected a:b (e.g. 10:40)`);
  const a = m[1] ? Number(m[1]) : 0;
  const b = m[2] ? Number(m[2]) : n;
  if (a >= b || b > n) throw new SegmentationError(`--slices ${v}: must satisfy 0 <= a < b <= ${n}`);
  return [a, b];
}

