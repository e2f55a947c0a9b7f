import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis, type ConnectOptions, type RedisTargetLike } from './redis.js';
import { DEFAULT_QUEUE } from './spec.js';

/** BullMQ's key prefix (its default), so other BullMQ tools (dashboards) find the queue. */
export const KEY_PREFIX = 'bull';

export interface QueueTarget {
  /** redis:// or rediss:// URL, or { url, tlsCa }. */
  redis: RedisTargetLike;
  /** Queue name (default sab-segment): separate cohorts or groups of machines. */
  queue?: string;
}

export interface OpenQueue {
  queue: Queue;
  redis: Redis;
  close(): Promise<void>;
}

/** A checked Redis connection and the BullMQ queue on it. */
export async function openQueue(target: QueueTarget, opts: ConnectOptions = {}): Promise<OpenQueue> {
  const redis = await connectRedis(target.redis, opts);
  const queue = new Queue(target.queue ?? DEFAULT_QUEUE, { connection: redis, prefix: KEY_PREFIX });
  // BullMQ re-emits connection errors on the queue; connectRedis already reports them.
  queue.on('error', () => {});
  return {
    queue,
    redis,
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}
