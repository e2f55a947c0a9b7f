// Distributed batch segmentation on BullMQ + Redis: `sab queue` and `sab worker` as library functions.
export { QueueError } from './errors.js';
export { redactRedisUrl, type RedisTarget, type RedisTargetLike } from './redis.js';
export { DEFAULT_QUEUE, segmentJobId, type SegmentJobData, type SegmentJobOptions } from './spec.js';
export { inputSha256 } from './digest.js';
export { RESULTS_FILE, type SegmentJobResult } from './results.js';
export { enqueueSegmentation, type EnqueueOptions, type EnqueueResult, type EnqueuedJob } from './enqueue.js';
export { runWorker, startWorker, type QueueWorker, type WorkerOptions, type WorkerSummary, type SegmentJobProgress } from './worker.js';
export {
  cleanQueue,
  queueStatus,
  retryFailed,
  waitForQueue,
  type ActiveJob,
  type CleanState,
  type FailedJob,
  type QueueCounts,
  type QueueStatus,
  type WaitResult,
} from './status.js';
export type { QueueTarget } from './connection.js';
