import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeVolume } from '../../src/io/dispatch.js';
import type { QueueStatus } from '../../src/queue/status.js';
import type { SegmentJobResult } from '../../src/queue/results.js';
import { makePhantom } from '../../src/train/data/phantom.js';
import { GOLDEN_DIR, sab, scratch } from '../cli/helpers.js';
import { HAVE_REDIS, REDIS_SERVER, RedisServer } from '../../src/bench/_redisServer.js';
import { spawnWorker } from './workers.js';

// `sab queue` + `sab worker` against a real redis-server (started here, AOF on) with real BullMQ and
// real worker processes running the synthetic golden weights on small phantoms, one slice per job.

const IN_CI = Boolean(process.env['CI']);
if (!HAVE_REDIS && !IN_CI) console.warn(`test/queue skipped: no redis-server at ${REDIS_SERVER} (install it with .ci/install.d/redis)`);

const dir = scratch('queue');
const SEG = ['--no-attention', '--slices', '3:4'];
const WORKER = ['--weights', GOLDEN_DIR, '--threads', '1', '--lock-seconds', '3'];

/** n phantom volumes (24x24x16) in a fresh folder. */
function phantoms(name: string, n: number, seed0 = 0): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  for (let i = 0; i < n; i++) writeVolume(path.join(d, `case_${i}.nii.gz`), makePhantom(seed0 + i, { dims: [24, 24, 16] }).image);
  return d;
}

function resultLines(outDir: string): SegmentJobResult[] {
  return readFileSync(path.join(outDir, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SegmentJobResult);
}

describe.skipIf(!HAVE_REDIS && !IN_CI)('sab queue + sab worker on BullMQ and a real redis-server', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    const rdir = path.join(dir, 'redis');
    mkdirSync(rdir);
    redis = await RedisServer.start(rdir);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const status = async (queue: string): Promise<QueueStatus> => {
    const r = await sab(['queue', 'status', '--redis', redis.url, '--queue', queue, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as QueueStatus;
  };

  it('6 volumes, 3 workers, one SIGKILLed mid-job: every output once, byte-identical to sab segment; re-adding adds nothing', async () => {
    const q = ['--redis', redis.url, '--queue', 'kill'];
    const inDir = phantoms('kill-in', 6);
    const outDir = path.join(dir, 'kill-out');
    const add = await sab(['queue', 'add', inDir, ...q, '--out', outDir, ...SEG, '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect((JSON.parse(add.stdout) as { added: unknown[] }).added).toHaveLength(6);

    const victim = spawnWorker([...q, ...WORKER, '--name', 'victim']);
    await victim.waitFor(/job seg-\w+ .*: started/);
    const others = [0, 1].map((i) => spawnWorker([...q, ...WORKER, '--drain', '--name', `w${i}`]));
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const ends = await Promise.all(others.map((w) => w.exited));
    expect(ends.map((e) => e.code), others.map((w) => w.log()).join('\n')).toEqual([0, 0]);
    // The killed worker's job was handed over by BullMQ's stalled-job check and done by another worker.
    const killedJob = /job (seg-\w+) .*: started/.exec(victim.log())![1]!;
    expect(others.some((w) => w.log().includes(`job ${killedJob}: wrote`))).toBe(true);
    // ...and nothing else was started twice (the BullMQ thread keeps renewing locks while a slice runs).
    const started = others.flatMap((w) => w.log().match(/job seg-\w+ \S+: started/g) ?? []);
    expect(started).toHaveLength(6);
    expect(new Set(started).size).toBe(6);

    const s = await status('kill');
    expect([s.counts.completed, s.counts.failed, s.counts.waiting, s.counts.active]).toEqual([6, 0, 0, 0]);
    const lines = resultLines(outDir);
    expect(lines).toHaveLength(6);
    expect(new Set(lines.map((l) => l.jobId)).size).toBe(6);
    const names = readdirSync(outDir).filter((f) => !f.startsWith('.')).sort();
    expect(names).toEqual([...Array.from({ length: 6 }, (_, i) => `case_${i}_bone.nii.gz`), 'results.jsonl']);
    expect(lines.every((l) => l.model.weights['bone_sam.pth']?.length === 64 && l.slicesSegmented === 1)).toBe(true);
    // Each result carries its worker's peak memory so far (for sizing machines): a worker process with a model.
    expect(lines.every((l) => l.peakRssMiB! > 100 && l.peakRssMiB! < 4096), JSON.stringify(lines.map((l) => l.peakRssMiB))).toBe(true);

    // The same work through `sab segment folder/`: the same bytes (voxels and header).
    const refDir = path.join(dir, 'kill-ref');
    const ref = await sab(['segment', inDir, '-o', refDir, '--weights', GOLDEN_DIR, '--threads', '1', ...SEG]);
    expect(ref.code, ref.stderr).toBe(0);
    for (let i = 0; i < 6; i++) {
      const name = `case_${i}_bone.nii.gz`;
      expect(readFileSync(path.join(outDir, name)).equals(readFileSync(path.join(refDir, name))), name).toBe(true);
    }

    // Re-adding the same inputs adds nothing; another option is other work.
    const again = await sab(['queue', 'add', inDir, ...q, '--out', outDir, ...SEG]);
    expect(again.stdout).toMatch(/queued 0 new job\(s\); 6 already queued or done/);
    const other = await sab(['queue', 'add', inDir, ...q, '--out', outDir, ...SEG, '--keep-largest', '--json']);
    expect((JSON.parse(other.stdout) as { added: unknown[] }).added).toHaveLength(6);
    expect((await status('kill')).counts.waiting).toBe(6);
  });

  it('a corrupt input fails its own job with a reason naming the file; the others complete; wait, retry and clean', async () => {
    const q = ['--redis', redis.url, '--queue', 'corrupt'];
    const inDir = phantoms('corrupt-in', 2, 10);
    writeFileSync(path.join(inDir, 'case_9.nii.gz'), Buffer.from('not a nifti at all'));
    const outDir = path.join(dir, 'corrupt-out');
    expect((await sab(['queue', 'add', inDir, ...q, '--out', outDir, ...SEG])).stdout).toMatch(/queued 3 new job/);
    const w = spawnWorker([...q, ...WORKER, '--drain']);
    const wait = await sab(['queue', 'wait', ...q, '--timeout', '200']);
    expect(wait.code, wait.stdout + wait.stderr).toBe(1);
    expect(wait.stdout).toMatch(/2 completed, 1 failed/);
    expect((await w.exited).code).toBe(0);
    const s = await status('corrupt');
    expect([s.counts.completed, s.counts.failed]).toEqual([2, 1]);
    // The one-line error `sab segment` prints, failed at once (no retries of a bad input).
    expect(s.failed[0]!.reason).toMatch(/case_9\.nii\.gz: /);
    expect(s.failed[0]!.attempts).toBe(1);
    const text = await sab(['queue', 'status', ...q]);
    expect(text.stdout).toMatch(/failed +seg-\w+ +\S*case_9\.nii\.gz: .*case_9\.nii\.gz/);
    expect(resultLines(outDir)).toHaveLength(2);

    // retry: failed -> waiting; with no worker, wait runs into its timeout (exit 2).
    expect((await sab(['queue', 'retry', ...q])).stdout).toMatch(/moved 1 failed job/);
    const timedOut = await sab(['queue', 'wait', ...q, '--timeout', '1']);
    expect(timedOut.code).toBe(2);
    expect(timedOut.stderr).toMatch(/--timeout 1 s passed/);
    // clean: completed jobs leave Redis; outputs and results.jsonl stay.
    expect((await sab(['queue', 'clean', ...q])).stdout).toMatch(/removed 2 completed/);
    const after = await status('corrupt');
    expect([after.counts.completed, after.counts.waiting]).toEqual([0, 1]);
    expect(resultLines(outDir)).toHaveLength(2);
  });

  it('SIGTERM on a busy worker: the job finishes and the worker exits 0; a cleaned, re-added finished job is not redone', async () => {
    const q = ['--redis', redis.url, '--queue', 'term'];
    const inDir = phantoms('term-in', 2, 20);
    const outDir = path.join(dir, 'term-out');
    expect((await sab(['queue', 'add', path.join(inDir, 'case_0.nii.gz'), ...q, '--out', outDir, ...SEG])).stdout).toMatch(/queued 1 new/);
    const w = spawnWorker([...q, ...WORKER]);
    await w.waitFor(/: started/);
    w.child.kill('SIGTERM');
    expect((await w.exited).code, w.log()).toBe(0);
    expect(w.log()).toMatch(/SIGTERM: finishing the current job/);
    expect(w.log()).toMatch(/wrote .*case_0_bone\.nii\.gz/);
    expect((await status('term')).counts.completed).toBe(1);

    // After `queue clean` the job id is free again: the job is re-added, and the worker finds its recorded result.
    expect((await sab(['queue', 'clean', ...q])).stdout).toMatch(/removed 1 completed/);
    expect((await sab(['queue', 'add', inDir, ...q, '--out', outDir, ...SEG])).stdout).toMatch(/queued 2 new/);
    const w2 = spawnWorker([...q, ...WORKER, '--drain']);
    expect((await w2.exited).code).toBe(0);
    expect(w2.log()).toMatch(/case_0\.nii\.gz: already done .*not redone/);
    expect(w2.log()).toMatch(/wrote .*case_1_bone\.nii\.gz/);
    expect(resultLines(outDir).map((l) => path.basename(l.output))).toEqual(['case_0_bone.nii.gz', 'case_1_bone.nii.gz']);
  });

  it('Redis stopped and restarted (same AOF) while jobs wait and while a worker runs: no job lost or done twice', async () => {
    const q = ['--redis', redis.url, '--queue', 'restart'];
    const inDir = phantoms('restart-in', 3, 30);
    const outDir = path.join(dir, 'restart-out');
    expect((await sab(['queue', 'add', inDir, ...q, '--out', outDir, ...SEG])).stdout).toMatch(/queued 3 new/);
    await redis.restart();
    expect((await status('restart')).counts.waiting).toBe(3);

    const w = spawnWorker([...q, ...WORKER, '--lock-seconds', '15', '--drain']);
    await w.waitFor(/: wrote /);
    await redis.restart(300);
    expect((await w.exited).code, w.log()).toBe(0);
    const s = await status('restart');
    expect([s.counts.completed, s.counts.failed]).toEqual([3, 0]);
    const started = w.log().match(/job seg-\w+ \S+: started/g) ?? [];
    expect(started).toHaveLength(3);
    expect(new Set(started).size).toBe(3);
    expect(resultLines(outDir)).toHaveLength(3);
  });
});
