import { createHash } from 'node:crypto';
import type { OutputFormat } from '../segment/inputs.js';
import type { SegmentFileOptions } from '../segment/segmentFile.js';
import type { Axis } from '../volume/permute.js';
import { QueueError } from './errors.js';

/** Default BullMQ queue name. */
export const DEFAULT_QUEUE = 'sab-segment';
/** BullMQ job name of a segmentation (one queue could carry other kinds later). */
export const SEGMENT_JOB = 'segment';
export const JOB_SPEC_VERSION = 1;

/** The `sab segment` options that travel with a job (everything that changes the output's bytes). */
export interface SegmentJobOptions {
  attention: boolean;
  axis: Axis;
  slices?: string;
  keepLargest?: number;
  minSize?: number;
  fillHoles?: boolean;
  /** Also write `<stem>_bone_probabilities<ext>`. */
  probabilities?: boolean;
  series?: string;
  volumeIndex?: number;
  /** Output format; default: the input's, as `sab segment folder/` names it. */
  format?: OutputFormat;
}

/** A job's data in Redis: plain paths on shared storage and options. Never a credential. */
export interface SegmentJobData {
  version: typeof JOB_SPEC_VERSION;
  input: string;
  inputSha256: string;
  outDir: string;
  output: string;
  probabilitiesOutput?: string;
  options: SegmentJobOptions;
}

/** JSON with sorted keys and no undefined members: the same options always hash the same. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The job id: what is segmented (the input's content hash), how (the options) and where the result goes (the
 * output path). Adding the same work again maps to the same id, which BullMQ adds only once.
 */
export function segmentJobId(inputSha256: string, output: string, options: SegmentJobOptions): string {
  const key = canonicalJson({ v: JOB_SPEC_VERSION, inputSha256, output, options });
  return `seg-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** Checks a job's data as read back from Redis (another version of sab may have queued it). */
export function parseJobData(data: unknown, jobId: string): SegmentJobData {
  const d = data as Partial<SegmentJobData> | null;
  if (!d || d.version !== JOB_SPEC_VERSION || typeof d.input !== 'string' || typeof d.output !== 'string' || typeof d.outDir !== 'string' || !d.options) {
    throw new QueueError(`job ${jobId}: not a segmentation job of this sab version (spec version ${String(d?.version)})`);
  }
  return d as SegmentJobData;
}

/** The segmentFile options of a job. */
export function segmentFileOptions(d: SegmentJobData): SegmentFileOptions {
  const o = d.options;
  return {
    attention: o.attention,
    axis: o.axis,
    ...(o.slices ? { slices: o.slices } : {}),
    ...(o.keepLargest ? { keepLargest: o.keepLargest } : {}),
    ...(o.minSize ? { minSize: o.minSize } : {}),
    ...(o.fillHoles ? { fillHoles: true } : {}),
    ...(d.probabilitiesOutput ? { probabilities: d.probabilitiesOutput } : {}),
    ...(o.series ? { series: o.series } : {}),
    ...(o.volumeIndex !== undefined ? { volumeIndex: o.volumeIndex } : {}),
  };
}
