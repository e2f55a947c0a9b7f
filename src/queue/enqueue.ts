import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatOfPath } from '../io/dispatch.js';
import { isDicomInput, shownSeriesUrl } from '../io/input.js';
import { expandInputs, isUrlInput, outputNameFor, probabilitiesNameFor } from '../segment/inputs.js';
import { inputSha256 } from './digest.js';
import { openQueue, type QueueTarget } from './connection.js';
import { QueueError } from './errors.js';
import { JOB_SPEC_VERSION, SEGMENT_JOB, segmentJobId, type SegmentJobData, type SegmentJobOptions } from './spec.js';

export interface EnqueueOptions extends QueueTarget {
  /** Output folder on storage every worker shares (created if missing). */
  outDir: string;
  options?: Partial<SegmentJobOptions>;
  /** Tries per job before it is failed (default 3); a bad input fails at once. */
  attempts?: number;
  /** First retry delay, doubled each retry (default 10 s). */
  backoffSeconds?: number;
  /** Called after each input is hashed (hashing a cohort reads every file once). */
  onInput?: (done: number, total: number, input: string) => void;
}

export interface EnqueuedJob {
  jobId: string;
  input: string;
  output: string;
}

export interface EnqueueResult {
  added: EnqueuedJob[];
  /** Jobs that already exist (same input content, options and output), with their state. */
  existing: (EnqueuedJob & { state: string })[];
}

/**
 * One job per input volume (a folder expands to its volumes, as `sab segment folder/` does). Every input is
 * hashed before anything is added, so a missing or unreadable input adds nothing and names the file.
 */
export async function enqueueSegmentation(inputArgs: readonly string[], opts: EnqueueOptions): Promise<EnqueueResult> {
  const options: SegmentJobOptions = { attention: true, axis: 2, ...opts.options };
  const attempts = opts.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) throw new QueueError(`attempts must be an integer >= 1, got ${attempts}`);
  const outDir = path.resolve(opts.outDir);
  try {
    mkdirSync(outDir, { recursive: true });
    if (!statSync(outDir).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new QueueError(`${outDir}: cannot create the output folder (${(e as Error).message})`);
  }
  const { inputs } = expandInputs(inputArgs);
  const specs: { id: string; data: SegmentJobData }[] = [];
  const outputs = new Map<string, string>();
  for (const [n, arg] of inputs.entries()) {
    // A series URL is stored without any user:password@ part: workers authenticate from their own SAB_DICOMWEB_*.
    const input = isUrlInput(arg) ? shownSeriesUrl(arg) : path.resolve(arg);
    const output = outputNameFor(input, outDir, options.format);
    const other = outputs.get(output);
    if (other) throw new QueueError(`${input} and ${other} would both be written to ${output}; rename one or queue them into separate --out folders`);
    outputs.set(output, input);
    const sha = await inputSha256(isUrlInput(arg) ? arg : input);
    if (formatOfPath(output, true) === 'dicom-seg' && !isDicomInput(input)) {
      throw new QueueError(`${input}: DICOM-SEG output (--format dcm) needs a DICOM series input; use --format nii.gz or nrrd`);
    }
    const data: SegmentJobData = {
      version: JOB_SPEC_VERSION,
      input,
      inputSha256: sha,
      outDir,
      output,
      ...(options.probabilities ? { probabilitiesOutput: probabilitiesNameFor(output) } : {}),
      options,
    };
    specs.push({ id: segmentJobId(sha, output, options), data });
    opts.onInput?.(n + 1, inputs.length, input);
  }

  const q = await openQueue(opts);
  try {
    const result: EnqueueResult = { added: [], existing: [] };
    for (const { id, data } of specs) {
      const job = { jobId: id, input: data.input, output: data.output };
      const prior = await q.queue.getJob(id);
      if (prior) {
        result.existing.push({ ...job, state: await prior.getState() });
        continue;
      }
      // Same id again is a no-op in BullMQ, so a racing second `queue add` cannot duplicate the job.
      await q.queue.add(SEGMENT_JOB, data, {
        jobId: id,
        attempts,
        backoff: { type: 'exponential', delay: (opts.backoffSeconds ?? 10) * 1000 },
        removeOnComplete: false,
        removeOnFail: false,
      });
      result.added.push(job);
    }
    return result;
  } finally {
    await q.close();
  }
}
