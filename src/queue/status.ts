import type { Job, Queue } from 'bullmq';
import { openQueue, type QueueTarget } from './connection.js';
import { asTarget, redactRedisUrl } from './redis.js';
import { DEFAULT_QUEUE } from './spec.js';
import type { SegmentJobProgress } from './worker.js';

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

export interface ActiveJob {
  jobId: string;
  input: string;
  worker: string | null;
  slicesDone: number | null;
  slicesTotal: number | null;
  startedAt: string | null;
}

export interface FailedJob {
  jobId: string;
  input: string;
  reason: string;
  attempts: number;
  failedAt: string | null;
}

export interface QueueStatus {
  queue: string;
  /** The Redis URL with its password masked. */
  redis: string;
  counts: QueueCounts;
  workers: number;
  active: ActiveJob[];
  failed: FailedJob[];
  /** Jobs per hour over the most recent completions (up to 100), null before two have finished. */
  jobsPerHour: number | null;
  /** Seconds until waiting + active jobs are done at that rate. */
  etaSeconds: number | null;
}

const iso = (ms: number | undefined): string | null => (ms ? new Date(ms).toISOString() : null);
const inputOf = (job: Job): string => String((job.data as { input?: unknown } | undefined)?.input ?? '?');

async function countsOf(queue: Queue): Promise<QueueCounts> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'completed', 'failed');
  return {
    waiting: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0) + (c['waiting-children'] ?? 0),
    active: c['active'] ?? 0,
    delayed: c['delayed'] ?? 0,
    completed: c['completed'] ?? 0,
    failed: c['failed'] ?? 0,
  };
}

/** Counts, each active job's progress and worker, failed jobs with reasons, throughput and ETA. */
export async function queueStatus(target: QueueTarget, opts: { failedLimit?: number } = {}): Promise<QueueStatus> {
  const q = await openQueue(target);
  try {
    const queue = q.queue;
    const counts = await countsOf(queue);
    const [activeJobs, failedJobs, recent, workers] = await Promise.all([
      queue.getJobs(['active'], 0, 999),
      queue.getJobs(['failed'], 0, (opts.failedLimit ?? 100) - 1),
      queue.getJobs(['completed'], 0, 99),
      queue.getWorkersCount(),
    ]);
    const active = activeJobs.filter(Boolean).map((job): ActiveJob => {
      const p = job.progress as Partial<SegmentJobProgress> | number;
      return {
        jobId: job.id!,
        input: inputOf(job),
        worker: job.processedBy ?? null,
        slicesDone: typeof p === 'object' && p ? (p.slicesDone ?? null) : null,
        slicesTotal: typeof p === 'object' && p ? (p.slicesTotal ?? null) : null,
        startedAt: iso(job.processedOn),
      };
    });
    const failed = failedJobs.filter(Boolean).map(
      (job): FailedJob => ({ jobId: job.id!, input: inputOf(job), reason: job.failedReason ?? '', attempts: job.attemptsMade, failedAt: iso(job.finishedOn) }),
    );
    let jobsPerHour: number | null = null;
    const done = recent.filter((j) => j && j.processedOn && j.finishedOn);
    if (done.length >= 2) {
      const first = Math.min(...done.map((j) => j.processedOn!));
      const last = Math.max(...done.map((j) => j.finishedOn!));
      if (last > first) jobsPerHour = (done.length * 3600_000) / (last - first);
    }
    const left = counts.waiting + counts.active + counts.delayed;
    const etaSeconds = jobsPerHour ? Math.round((left / jobsPerHour) * 3600) : left === 0 ? 0 : null;
    return {
      queue: target.queue ?? DEFAULT_QUEUE,
      redis: redactRedisUrl(asTarget(target.redis).url),
      counts,
      workers,
      active,
      failed,
      jobsPerHour: jobsPerHour === null ? null : Math.round(jobsPerHour * 10) / 10,
      etaSeconds,
    };
  } finally {
    await q.close();
  }
}

export interface WaitResult {
  counts: QueueCounts;
  timedOut: boolean;
}

/** Blocks until nothing is waiting, delayed or active (or `timeoutSeconds` pass); reports counts as they change. */
export async function waitForQueue(
  target: QueueTarget,
  opts: { timeoutSeconds?: number; pollMs?: number; onChange?: (c: QueueCounts) => void } = {},
): Promise<WaitResult> {
  const q = await openQueue(target);
  try {
    const deadline = opts.timeoutSeconds !== undefined ? Date.now() + opts.timeoutSeconds * 1000 : Infinity;
    let last = '';
    for (;;) {
      const counts = await countsOf(q.queue);
      const key = JSON.stringify(counts);
      if (key !== last) opts.onChange?.(counts);
      last = key;
      if (counts.waiting + counts.active + counts.delayed === 0) return { counts, timedOut: false };
      if (Date.now() >= deadline) return { counts, timedOut: true };
      await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 1000, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    await q.close();
  }
}

/** Moves every failed job back to waiting; returns how many. */
export async function retryFailed(target: QueueTarget): Promise<number> {
  const q = await openQueue(target);
  try {
    const n = (await q.queue.getJobCounts('failed'))['failed'] ?? 0;
    if (n > 0) await q.queue.retryJobs({ state: 'failed', count: 1000 });
    return n;
  } finally {
    await q.close();
  }
}

export type CleanState = 'completed' | 'failed';

/**
 * Removes finished jobs (completed and/or failed) older than `graceSeconds`. Outputs and results.jsonl stay;
 * a cleaned job added again is taken by a worker, which finds its recorded result and does not redo it.
 */
export async function cleanQueue(target: QueueTarget, states: CleanState[], graceSeconds = 0): Promise<Record<CleanState, number>> {
  const q = await openQueue(target);
  try {
    const out = { completed: 0, failed: 0 };
    for (const s of states) {
      for (;;) {
        const ids = await q.queue.clean(graceSeconds * 1000, 1000, s);
        out[s] += ids.length;
        if (ids.length < 1000) break;
      }
    }
    return out;
  } finally {
    await q.close();
  }
}
