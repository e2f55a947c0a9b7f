// The segmentation side of `sab worker`, in a worker thread: onnxruntime-node runs each session synchronously
// on its calling thread, so a slice would stall the BullMQ thread's lock renewals; here it stalls only this one.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { ExecutionProvider } from '../graph/runtime.js';
import { VolumeIOError } from '../io/errors.js';
import { openInput } from '../io/input.js';
import { SegmentationError } from '../pipeline/prompts.js';
import { loadModel, type BoneSegmenter } from '../pipeline/segmenter.js';
import { peakRssMiB } from '../segment/peakMemory.js';
import { segAlgorithm } from '../segment/segAlgorithm.js';
import { segmentFile } from '../segment/segmentFile.js';
import type { Vec3 } from '../volume/types.js';
import { fileSha256, inputSha256 } from './digest.js';
import { QueueError } from './errors.js';
import { segmentFileOptions, type SegmentJobData } from './spec.js';

export interface SegmentThreadConfig {
  weights?: string;
  device?: ExecutionProvider;
  threads?: number;
}

export type ToThread = { kind: 'job'; spec: SegmentJobData } | { kind: 'release' };

export interface SegmentOutcome {
  dims: Vec3;
  spacing: Vec3;
  slicesSegmented: number;
  attention: boolean;
  boneVolumeMl: number;
  outputSha256: string;
  timingsMs: Record<string, number>;
  /** The worker process's peak resident memory so far (MiB), after this job. */
  peakRssMiB: number;
}

export type FromThread =
  | { kind: 'ready' }
  | { kind: 'notice'; message: string }
  | { kind: 'progress'; done: number; total: number }
  | { kind: 'done'; outcome: SegmentOutcome }
  | { kind: 'failed'; message: string; inputError: boolean }
  | { kind: 'released' };

/**
 * Errors another try cannot fix: the input is bad, or the job asks for something impossible. A problem with
 * the output (storage not mounted on this machine, disk full) is worth retrying, possibly on another worker.
 */
function isInputError(e: unknown, outputs: readonly (string | undefined)[]): boolean {
  if (e instanceof VolumeIOError) return !outputs.includes(e.file);
  return e instanceof SegmentationError || e instanceof QueueError;
}

async function segmentJob(segmenter: BoneSegmenter, cfg: SegmentThreadConfig, spec: SegmentJobData, post: (m: FromThread) => void): Promise<SegmentOutcome> {
  const sha = await inputSha256(spec.input);
  if (sha !== spec.inputSha256) throw new QueueError(`${spec.input}: the file changed after it was queued; queue it again`);
  if (spec.options.attention) await segmenter.model.prepare(true);
  const t0 = performance.now();
  const file = await segmentFile(segmenter, await openInput(spec.input), spec.output, {
    ...segmentFileOptions(spec),
    keepDepthSession: true,
    segAlgorithm: (attention) => segAlgorithm(cfg.weights, attention),
    onProgress: (done, total) => post({ kind: 'progress', done, total }),
  });
  const segmentFileMs = performance.now() - t0;
  const r = file.result;
  return {
    dims: file.dims,
    spacing: file.spacing,
    slicesSegmented: r.slicesSegmented,
    attention: r.attention,
    boneVolumeMl: Math.round(r.boneVolumeMl * 1000) / 1000,
    outputSha256: await fileSha256(spec.output),
    timingsMs: {
      // What `sab segment` does for one input (read, segment, postprocess, write).
      segmentFileMs: Math.round(segmentFileMs),
      ...Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, Math.round(v)])),
    },
    peakRssMiB: peakRssMiB(),
  };
}

async function main(): Promise<void> {
  const port = parentPort!;
  const post = (m: FromThread) => port.postMessage(m);
  const cfg = workerData as SegmentThreadConfig;
  let segmenter: BoneSegmenter;
  try {
    segmenter = loadModel(cfg.weights, {
      ...(cfg.device ? { device: cfg.device } : {}),
      ...(cfg.threads ? { threads: cfg.threads } : {}),
      onNotice: (message) => post({ kind: 'notice', message }),
    });
    // Build the graphs before the first job.
    await segmenter.model.prepare(false);
  } catch (e) {
    post({ kind: 'failed', message: e instanceof Error ? e.message : String(e), inputError: false });
    return;
  }
  post({ kind: 'ready' });
  port.on('message', (m: ToThread) => {
    if (m.kind === 'release') {
      void segmenter.release().finally(() => {
        post({ kind: 'released' });
        port.close();
      });
      return;
    }
    segmentJob(segmenter, cfg, m.spec, post).then(
      (outcome) => post({ kind: 'done', outcome }),
      (e: unknown) =>
        post({
          kind: 'failed',
          message: e instanceof Error ? e.message : String(e),
          inputError: isInputError(e, [m.spec.output, m.spec.probabilitiesOutput]),
        }),
    );
  });
}

if (!isMainThread && parentPort) void main();
