import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Vec3 } from '../volume/types.js';
import type { SegmentJobOptions } from './spec.js';

export const RESULTS_FILE = 'results.jsonl';

/** A finished job: its return value in BullMQ and one line of `<out>/results.jsonl`. */
export interface SegmentJobResult {
  jobId: string;
  input: string;
  inputSha256: string;
  output: string;
  outputSha256: string;
  probabilities?: string;
  options: SegmentJobOptions;
  dims: Vec3;
  spacing: Vec3;
  slicesSegmented: number;
  attention: boolean;
  boneVolumeMl: number;
  /** Wall time of the job and the pipeline's stages, milliseconds. */
  timingsMs: Record<string, number>;
  /** The worker process's peak resident memory after this job, MiB (every thread of a --concurrency worker together). */
  peakRssMiB?: number;
  model: { sabVersion: string; weights: Record<string, string> };
  worker: string;
  finishedAt: string;
}

export function resultsPath(outDir: string): string {
  return path.join(outDir, RESULTS_FILE);
}

/** The recorded result of `jobId` in `outDir`'s results.jsonl, if any (a torn last line is ignored). */
export function findResult(outDir: string, jobId: string): SegmentJobResult | undefined {
  return findIn(readResults(outDir), jobId);
}

function readResults(outDir: string): string {
  const file = resultsPath(outDir);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function findIn(text: string, jobId: string): SegmentJobResult | undefined {
  const needle = `"jobId":${JSON.stringify(jobId)}`;
  for (const line of text.split('\n')) {
    if (!line.includes(needle)) continue;
    try {
      const r = JSON.parse(line) as SegmentJobResult;
      if (r.jobId === jobId) return r;
    } catch {
      // A line cut short by a machine that died mid-write: not a result.
    }
  }
  return undefined;
}

const LOCK_MS = 10_000;
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Appends one result line, once per job id. Workers on several machines share `outDir` (NFS appends are not
 * atomic), so appends are serialised by a short Redis lock; the file is opened after the lock is held, so
 * NFS close-to-open consistency shows each writer the lines before it.
 */
export async function appendResult(redis: Redis, lockPrefix: string, outDir: string, result: SegmentJobResult): Promise<void> {
  const key = `${lockPrefix}:results-lock:${path.resolve(outDir)}`;
  const token = randomUUID();
  const deadline = Date.now() + 60_000;
  while ((await redis.set(key, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    if (Date.now() > deadline) throw new Error(`${resultsPath(outDir)}: could not get the results lock for 60 s`);
    await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
  }
  try {
    const before = readResults(outDir);
    if (findIn(before, result.jobId)) return;
    const fd = openSync(resultsPath(outDir), 'a');
    try {
      // After a torn line (a writer killed mid-line) start on a fresh line, so only that one line is lost.
      const torn = before.length > 0 && !before.endsWith('\n');
      const line = Buffer.from(`${torn ? '\n' : ''}${JSON.stringify(result)}\n`);
      let off = 0;
      while (off < line.length) off += writeSync(fd, line, off, line.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } finally {
    await redis.eval(RELEASE, 1, key, token);
  }
}
