import { readFileSync } from 'node:fs';
import os from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ExecutionProvider } from '../graph/runtime.js';
import { locateWeights } from '../weights/locate.js';
import { weightsFileSha256 } from '../weights/sha256.js';
import { fileSha256 } from './digest.js';
import { SegmentThread } from './segmentThreadClient.js';
import { KEY_PREFIX, openQueue, type OpenQueue, type QueueTarget } from './connection.js';
import { redactRedisUrl, asTarget } from './redis.js';
import { appendResult, findResult, type SegmentJobResult } from './results.js';
import { DEFAULT_QUEUE, parseJobData, SEGMENT_JOB } from './spec.js';

export interface WorkerOptions extends QueueTarget {
  /** Folder with bone_sam.pth (and atten.pth); default $SAB_WEIGHTS, then the user cache, as `sab segment`. */
  weights?: string;
  device?: ExecutionProvider;
  threads?: number;
  /** Jobs at once in this process, each in its own thread with its own loaded model (default 1). */
  concurrency?: number;
  /**
   * Seconds a job stays claimed by a worker that stops renewing its lock (died, lost its machine) before
   * another worker takes it over (default 30). Must exceed the longest stretch the process is busy without
   * returning to its event loop (reading and writing one volume).
   */
  lockSeconds?: number;
  /** Exit once nothing is waiting, delayed or active in the queue (a batch job on a cluster). */
  drain?: boolean;
  /** Shown in `sab queue status` next to the active job (default host:pid). */
  name?: string;
  log?: (line: string) => void;
}

export interface WorkerSummary {
  name: string;
  completed: number;
  failed: number;
}

export interface QueueWorker {
  name: string;
  /** Resolves when the worker has stopped. */
  closed: Promise<WorkerSummary>;
  /** Stop taking jobs, finish the ones running, then close. */
  stop(): Promise<WorkerSummary>;
}

/** Progress as stored on a job: slices done of the job's total. */
export interface SegmentJobProgress {
  slicesDone: number;
  slicesTotal: number;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** sha256 of each weight file the worker loaded, for every result it records. */
function weightsFingerprint(dir: string | undefined): Record<string, string> {
  const paths = locateWeights(dir);
  const out: Record<string, string> = { 'bone_sam.pth': weightsFileSha256(paths.boneSam) };
  if (paths.atten) out['atten.pth'] = weightsFileSha256(paths.atten);
  return out;
}

/**
 * Loads the model once, then takes segmentation jobs from the queue until stopped: each output is written
 * atomically under the name `sab segment folder/` gives it, its result returned to BullMQ and appended to
 * `<out>/results.jsonl`. A job whose result is already recorded (and whose output is intact) is not redone.
 */
export async function startWorker(opts: WorkerOptions): Promise<QueueWorker> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = opts.name ?? `${os.hostname()}:${process.pid}`;
  const target = asTarget(opts.redis);
  const where = redactRedisUrl(target.url);
  const queueName = opts.queue ?? DEFAULT_QUEUE;
  const lockMs = Math.round((opts.lockSeconds ?? 30) * 1000);

  // Reach Redis first: a wrong URL or password should not wait for the model to load.
  const control: OpenQueue = await openQueue(opts, { persistent: true, onProblem: (m) => log(`${name}: ${m}`) });
  const concurrency = opts.concurrency ?? 1;
  const threadConfig = {
    ...(opts.weights ? { weights: opts.weights } : {}),
    ...(opts.device ? { device: opts.device } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
  };
  const onNotice = (m: string) => log(`${name}: ${m}`);
  let weights: Record<string, string>;
  // One model per concurrent job, each in its own thread (ONNX Runtime runs sessions on the calling thread).
  const free: SegmentThread[] = [];
  try {
    weights = weightsFingerprint(opts.weights);
    free.push(...(await Promise.all(Array.from({ length: concurrency }, () => SegmentThread.start(threadConfig, onNotice)))));
  } catch (e) {
    await Promise.all(free.map((t) => t.release()));
    await control.close();
    throw e;
  }
  const sabVersion = packageVersion();
  const stats: WorkerSummary = { name, completed: 0, failed: 0 };

  const processJob = async (job: Job): Promise<SegmentJobResult> => {
    const id = job.id!;
    const spec = parseJobData(job.data, id);
    const prior = findResult(spec.outDir, id);
    if (prior && (await fileSha256(prior.output).catch(() => '')) === prior.outputSha256) {
      log(`${name}: job ${id} ${spec.input}: already done (${prior.output}), not redone`);
      return prior;
    }
    const t0 = performance.now();
    log(`${name}: job ${id} ${spec.input}: started (attempt ${job.attemptsMade + 1})`);
    let thread = free.pop()!;
    let lastReport = 0;
    let outcome;
    try {
      // A thread that died (it crashed, or ran out of memory) is replaced; the job that was on it was retried.
      if (thread.dead) thread = await SegmentThread.start(threadConfig, onNotice);
      outcome = await thread.run(spec, (done, total) => {
        const now = performance.now();
        if (done < total && now - lastReport < 1000) return;
        lastReport = now;
        const p: SegmentJobProgress = { slicesDone: done, slicesTotal: total };
        void job.updateProgress(p as unknown as object).catch(() => {});
      });
    } finally {
      free.push(thread);
    }
    const result: SegmentJobResult = {
      jobId: id,
      input: spec.input,
      inputSha256: spec.inputSha256,
      output: spec.output,
      outputSha256: outcome.outputSha256,
      ...(spec.probabilitiesOutput ? { probabilities: spec.probabilitiesOutput } : {}),
      options: spec.options,
      dims: outcome.dims,
      spacing: outcome.spacing,
      slicesSegmented: outcome.slicesSegmented,
      attention: outcome.attention,
      boneVolumeMl: outcome.boneVolumeMl,
      timingsMs: { jobMs: Math.round(performance.now() - t0), ...outcome.timingsMs },
      peakRssMiB: outcome.peakRssMiB,
      model: { sabVersion, weights },
      worker: name,
      finishedAt: new Date().toISOString(),
    };
    await appendResult(control.redis, `${KEY_PREFIX}:${queueName}`, spec.outDir, result);
    log(`${name}: job ${id}: wrote ${spec.output} (${result.boneVolumeMl} mL, ${(result.timingsMs['jobMs']! / 1000).toFixed(1)} s)`);
    return result;
  };

  const worker = new Worker(
    queueName,
    async (job: Job) => {
      if (job.name !== SEGMENT_JOB) throw new UnrecoverableError(`job ${job.id}: unknown job kind '${job.name}'`);
      return processJob(job);
    },
    {
      connection: control.redis,
      prefix: KEY_PREFIX,
      name,
      concurrency,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: 2,
      autorun: false,
    },
  );
  worker.on('completed', () => stats.completed++);
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (final) stats.failed++;
    log(`${name}: job ${job.id}: ${final ? 'failed' : `attempt ${job.attemptsMade} failed, will retry`}: ${err.message}`);
  });
  worker.on('error', () => {
    // Connection trouble is reported once by the connection itself; BullMQ retries on its own.
  });

  let closing: Promise<WorkerSummary> | undefined;
  let resolveClosed!: (s: WorkerSummary) => void;
  const closed = new Promise<WorkerSummary>((r) => (resolveClosed = r));
  let drainTimer: NodeJS.Timeout | undefined;
  const stop = (): Promise<WorkerSummary> => {
    closing ??= (async () => {
      if (drainTimer) clearInterval(drainTimer);
      await worker.close();
      await Promise.all(free.map((t) => t.release()));
      await control.close();
      log(`${name}: stopped (${stats.completed} completed, ${stats.failed} failed)`);
      resolveClosed(stats);
      return stats;
    })();
    return closing;
  };
  if (opts.drain) {
    let checking = false;
    drainTimer = setInterval(() => {
      if (checking || closing) return;
      checking = true;
      control.queue
        .getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'waiting-children')
        .then((c) => {
          if (Object.values(c).every((n) => n === 0)) {
            log(`${name}: queue drained`);
            void stop();
          }
        })
        .catch(() => {})
        .finally(() => (checking = false));
    }, 1000);
  }
  log(`${name}: ready: queue ${queueName} at ${where}, concurrency ${concurrency}, device ${opts.device ?? 'cpu'}`);
  void worker.run();
  return { name, closed, stop };
}

/** `sab worker` as a function: runs until `signal` aborts (graceful) or, with `drain`, until the queue is empty. */
export async function runWorker(opts: WorkerOptions & { signal?: AbortSignal }): Promise<WorkerSummary> {
  const w = await startWorker(opts);
  opts.signal?.addEventListener('abort', () => void w.stop(), { once: true });
  return w.closed;
}
