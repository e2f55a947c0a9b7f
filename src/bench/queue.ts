// `npm run bench queue`: distributed segmentation through BullMQ + a real redis-server (started here) on this
// machine: jobs/hour with 1 and 2 `sab worker` processes, and the queue's per-job overhead against plain
// `sab segment folder/` of the same volumes, measured in the same run (target: <= 3 %).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeVolume } from '../io/dispatch.js';
import type { SegmentJobResult } from '../queue/results.js';
import { makePhantom } from '../train/data/phantom.js';
import { HAVE_REDIS, REDIS_SERVER, RedisServer } from './_redisServer.js';
import { GOLDEN } from './_fixtures.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const VOLUMES = Number(process.env['SAB_BENCH_QUEUE_VOLUMES'] ?? 4);
const SLICES = Number(process.env['SAB_BENCH_QUEUE_SLICES'] ?? 4);

function sab(args: string[]): Promise<{ code: number; ms: number; stderr: string; startedAt: number }> {
  const startedAt = Date.now();
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SAB_REDIS: '' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, ms: performance.now() - t0, stderr, startedAt }));
  });
}

function check(r: { code: number; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}`);
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function run(): Promise<void> {
  if (!HAVE_REDIS) {
    console.log(`skipped: no redis-server at ${REDIS_SERVER} (install it with .ci/install.d/redis)`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sab-bench-queue-'));
  const redisDir = path.join(dir, 'redis');
  mkdirSync(redisDir);
  const redis = await RedisServer.start(redisDir);
  try {
    const inDir = path.join(dir, 'in');
    mkdirSync(inDir);
    for (let i = 0; i < VOLUMES; i++) writeVolume(path.join(inDir, `case_${i}.nii.gz`), makePhantom(i).image);
    const seg = ['--no-attention', '--slices', `0:${SLICES}`];
    const cores = os.availableParallelism();
    console.log(`${VOLUMES} phantom volumes 96x96x48, ${SLICES} slices each, 2D-only, synthetic golden weights, ${cores} cores`);

    const plain = async (n: number) => {
      const r = await sab(['segment', inDir, '-o', path.join(dir, `plain${n}`), '--weights', GOLDEN, ...seg]);
      check(r, 'sab segment');
      return r.ms;
    };
    const queued = async (name: string, workers: number) => {
      const q = ['--redis', redis.url, '--queue', name];
      const outDir = path.join(dir, name);
      const add = await sab(['queue', 'add', inDir, ...q, '--out', outDir, ...seg]);
      check(add, 'sab queue add');
      const threads = String(Math.max(1, Math.floor(cores / workers)));
      const runs = await Promise.all(
        Array.from({ length: workers }, () => sab(['worker', ...q, '--weights', GOLDEN, '--threads', threads, '--drain'])),
      );
      runs.forEach((r) => check(r, 'sab worker'));
      const results = readFileSync(path.join(outDir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SegmentJobResult);
      if (results.length !== VOLUMES) throw new Error(`${name}: ${results.length} results for ${VOLUMES} jobs`);
      // Worker start to the last job's end: the drain check's final poll (up to 1 s) is not per-job work.
      const start = Math.min(...runs.map((r) => r.startedAt));
      const end = Math.max(...results.map((r) => Date.parse(r.finishedAt)));
      const t = (r: SegmentJobResult, k: string) => r.timingsMs[k]!;
      const bookkeepingMs = results.reduce((a, r) => a + t(r, 'jobMs') - t(r, 'segmentFileMs'), 0) / VOLUMES;
      const segmentFileMs = results.reduce((a, r) => a + t(r, 'segmentFileMs'), 0) / VOLUMES;
      // Between jobs in one worker: BullMQ completing one job and handing over the next.
      const jobStart = (r: SegmentJobResult) => Date.parse(r.finishedAt) - t(r, 'jobMs');
      const sorted = [...results].sort((a, b) => jobStart(a) - jobStart(b));
      const gaps = sorted.slice(1).map((r, i) => jobStart(r) - Date.parse(sorted[i]!.finishedAt));
      const gapMs = workers === 1 && gaps.length ? gaps.reduce((a, g) => a + g, 0) / gaps.length : NaN;
      return { addMs: add.ms, wallMs: end - start, processMs: Math.max(...runs.map((r) => r.ms)), bookkeepingMs, segmentFileMs, gapMs };
    };

    const plainA = await plain(1);
    const one = await queued('w1', 1);
    const two = await queued('w2', 2);
    const plainB = await plain(2);
    const plainMs = (plainA + plainB) / 2;
    const perHour = (ms: number) => ((VOLUMES * 3600_000) / ms).toFixed(0);
    console.log(`plain sab segment folder/ (1 process, ${cores} threads): ${s(plainA)} and ${s(plainB)} (before/after the queue runs) -> ${perHour(plainMs)} volumes/h`);
    console.log(
      `queue, 1 worker (${cores} threads): ${s(one.wallMs)} from worker start to last result (process ${s(one.processMs)}) -> ${perHour(one.wallMs)} jobs/h; ` +
        `queue add (hash + enqueue ${VOLUMES} jobs): ${s(one.addMs)}`,
    );
    console.log(
      `queue, 2 workers (${Math.max(1, Math.floor(cores / 2))} threads each): ${s(two.wallMs)} -> ${perHour(two.wallMs)} jobs/h (${(one.wallMs / two.wallMs).toFixed(2)}x of 1 worker)`,
    );
    const overhead = one.wallMs - plainMs;
    console.log(
      `queue overhead, end to end (1 worker vs the mean of the two plain runs): ${(overhead / VOLUMES / 1000).toFixed(2)} s per job = ` +
        `${((overhead / plainMs) * 100).toFixed(1)} % (target <= 3 %; the two plain runs differ by ${((Math.abs(plainA - plainB) / plainMs) * 100).toFixed(0)} % here, ` +
        `so this figure is only as good as the machine is quiet)`,
    );
    const perJob = one.bookkeepingMs + one.gapMs;
    console.log(
      `queue overhead, per job inside the worker: ${one.bookkeepingMs.toFixed(0)} ms bookkeeping (input hash check, output sha256, results.jsonl) + ` +
        `${one.gapMs.toFixed(0)} ms between jobs (BullMQ complete + fetch) = ${perJob.toFixed(0)} ms against ${(one.segmentFileMs / 1000).toFixed(1)} s of ` +
        `sab segment's own work per volume = ${((perJob / one.segmentFileMs) * 100).toFixed(1)} % (target <= 3 %)`,
    );
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
