import { formatOfPath, readVolume, writeVolume } from '../io/dispatch.js';
import { VolumeIOError } from '../io/errors.js';
import { fillHolesPerSlice, keepLargestComponents, removeSmallComponents } from '../metrics/postprocess.js';
import { SegmentationError, type VoxelPrompt } from '../pipeline/prompts.js';
import type { BoneSegmenter, SegmentedVolume } from '../pipeline/segmenter.js';
import type { SegmentVolumeOptions } from '../pipeline/segmentVolume.js';
import type { Axis } from '../volume/permute.js';
import type { Vec3, Volume } from '../volume/types.js';

/** What shapes one file's segmentation: the `sab segment` options that are not about the model or the output. */
export interface SegmentFileOptions {
  attention: boolean;
  axis: Axis;
  /** Slices per encoder run. */
  batch?: number;
  /** `a:b` (either end may be empty): only slices a..b-1 along the axis. */
  slices?: string;
  prompts?: VoxelPrompt[];
  promptedOnly?: boolean;
  /** Keep the k largest 3-D components (true: 1). */
  keepLargest?: number | true;
  minSize?: number;
  fillHoles?: boolean;
  /** Also write bone probabilities (float32) to this file. */
  probabilities?: string;
  /** DICOM: the series to read when the folder holds several. */
  series?: string;
  /** 4-D input: which volume (0-based). */
  volumeIndex?: number;
  /** Keep the VNet session open between volumes (a long-running worker), instead of freeing its memory. */
  keepDepthSession?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SegmentedFile {
  input: string;
  output: string;
  dims: Vec3;
  spacing: Vec3;
  result: SegmentedVolume;
}

/**
 * One input file to one mask file, as `sab segment` does it: read, segment, postprocess, write (atomically,
 * never over the input). Errors name the file and the problem; nothing is written when one is thrown.
 */
export async function segmentFile(segmenter: BoneSegmenter, input: string, output: string, opts: SegmentFileOptions): Promise<SegmentedFile> {
  const outFormat = formatOfPath(output, true);
  if (!outFormat) throw new VolumeIOError(output, 'unknown output format: use .nii, .nii.gz, .nrrd or .dcm (DICOM-SEG)');
  if (outFormat === 'dicom-seg' && formatOfPath(input) !== 'dicom') {
    throw new VolumeIOError(output, `DICOM-SEG output needs a DICOM series input (got ${input}); write .nii.gz or .nrrd instead`);
  }
  const volume = readVolume(input, {
    ...(opts.series ? { seriesUid: opts.series } : {}),
    ...(opts.volumeIndex !== undefined ? { volumeIndex: opts.volumeIndex } : {}),
  });
  const segOpts: SegmentVolumeOptions = {
    attention: opts.attention,
    axis: opts.axis,
    batch: opts.batch ?? 1,
    prompts: opts.prompts ?? [],
    probabilities: Boolean(opts.probabilities),
  };
  if (opts.promptedOnly) segOpts.promptedOnly = true;
  if (opts.slices) segOpts.slices = parseSlices(opts.slices, volume.dims[opts.axis]);
  if (opts.keepDepthSession) segOpts.keepDepthSession = true;
  if (opts.onProgress) segOpts.onProgress = opts.onProgress;
  const res = await segmenter.segmentVolume(volume, segOpts);
  postprocess(res.mask, opts);
  res.boneVolumeMl = boneMl(res.mask);
  if (opts.probabilities && res.probabilities) writeVolume(opts.probabilities, res.probabilities, { inputs: [input] });
  writeVolume(output, res.mask, { inputs: [input] });
  return { input, output, dims: volume.dims, spacing: volume.spacing, result: res };
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

