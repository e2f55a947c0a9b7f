import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeVolume } from '../../src/io/dispatch.js';
import type { QueueStatus } from '../../src/queue/status.js';
import type { SegmentJobResult } from '../../src/queue/results.js';
import { makePhantom } from '../../src/train/phantom.js';
import { GOLDEN_DIR, sab, scratch } from '../cli/helpers.js';
import { HAVE_REDIS, REDIS_SERVER, RedisServer } from './redisServer.js';
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

    const s = await status('kill');
    expect([s.counts.completed, s.counts.failed, s.counts.waiting, s.counts.active]).toEqual([6, 0, 0, 0]);
    const lines = resultLines(outDir);
    expect(lines).toHaveLength(6);
    expect(new Set(lines.map((l) => l.jobId)).size).toBe(6);
    const names = readdirSync(outDir).filter((f) => !f.startsWith('.')).sort();
    expect(names).toEqual([...Array.from({ length: 6 }, (_, i) => `case_${i}_bone.nii.gz`), 'results.jsonl']);
    expect(lines.every((l) => l.model.weights['bone_sam.pth']?.length === 64 && l.slicesSegmented === 1)).toBe(true);

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
});
