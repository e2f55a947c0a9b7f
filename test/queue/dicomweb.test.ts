import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_REDIS, RedisServer } from '../../src/bench/_redisServer.js';
import { haveOrthanc, PASSWORD, startOrthanc, USER, type OrthancServer } from '../../src/bench/_orthanc.js';
import { writeDicomSeries } from '../../src/io/dicom/write-series.js';
import { readVolume } from '../../src/io/dispatch.js';
import { GOLDEN_DIR, sab, scratch } from '../cli/helpers.js';
import { wristSlab } from '../io/dicom-tools.js';
import { everythingInRedis } from './redisDump.js';
import { spawnWorker } from './workers.js';

// A DICOMweb series URL as a queue input, against a real redis-server and a real Orthanc (both started here):
// the job is keyed by the series' instance list, holds no credentials, and the worker retrieves the series with
// its own SAB_DICOMWEB_* credentials.

const IN_CI = Boolean(process.env['CI']);
const HAVE = HAVE_REDIS && haveOrthanc();
if (!HAVE && !IN_CI) console.warn('test/queue/dicomweb skipped: needs redis-server and Orthanc with its DICOMweb plugin (.ci/install.d/redis, orthanc)');

describe.skipIf(!HAVE && !IN_CI)('sab queue with a DICOMweb series URL input', () => {
  const dir = scratch('queue-dicomweb');
  let redis: RedisServer;
  let orthanc: OrthancServer;
  let seriesUrl: string;
  let seriesDir: string;
  beforeAll(async () => {
    const rdir = path.join(dir, 'redis');
    mkdirSync(rdir);
    redis = await RedisServer.start(rdir);
    orthanc = await startOrthanc();
    seriesDir = path.join(dir, 'slab');
    writeDicomSeries(seriesDir, wristSlab(30, 3), { seriesDescription: 'queue slab' });
    for (const f of readdirSync(seriesDir).sort()) await orthanc.upload(path.join(seriesDir, f));
    const h = readVolume(seriesDir).source!.header as { studyInstanceUid: string; series: { seriesInstanceUid: string } };
    seriesUrl = `${orthanc.dicomweb}/studies/${h.studyInstanceUid}/series/${h.series.seriesInstanceUid}`;
  }, 120_000);
  afterAll(async () => {
    await orthanc?.stop();
    await redis?.stop();
  });

  it('queues the URL once, stores no credentials, and the worker writes what sab segment of the local series writes', async () => {
    const q = ['--redis', redis.url, '--queue', 'dicomweb'];
    const outDir = path.join(dir, 'out');
    const seg = ['--no-attention', '--slices', '1:2', '--format', 'nii.gz'];
    // Credentials in the URL are used for the enqueue-time listing only.
    const withCreds = seriesUrl.replace('://', `://${USER}:${encodeURIComponent(PASSWORD)}@`);
    const add = await sab(['queue', 'add', withCreds, ...q, '--out', outDir, ...seg, '--json']);
    expect(add.code, add.stderr).toBe(0);
    const added = (JSON.parse(add.stdout) as { added: { input: string }[] }).added;
    expect(added).toHaveLength(1);
    expect(added[0]!.input).toBe(seriesUrl);
    const again = await sab(['queue', 'add', seriesUrl, ...q, '--out', outDir, ...seg], { SAB_DICOMWEB_USER: USER, SAB_DICOMWEB_PASSWORD: PASSWORD });
    expect(again.stdout).toMatch(/queued 0 new job\(s\); 1 already queued or done/);

    const w = spawnWorker([...q, '--weights', GOLDEN_DIR, '--threads', '1', '--drain'], { SAB_DICOMWEB_USER: USER, SAB_DICOMWEB_PASSWORD: PASSWORD });
    expect((await w.exited).code, w.log()).toBe(0);
    const status = await sab(['queue', 'status', ...q, '--json']);
    expect((JSON.parse(status.stdout) as { counts: { completed: number; failed: number } }).counts).toMatchObject({ completed: 1, failed: 0 });

    const outName = readdirSync(outDir).find((f) => f.endsWith('_bone.nii.gz'))!;
    expect(outName).toBeDefined();
    const ref = path.join(dir, 'ref.nii.gz');
    const r = await sab(['segment', seriesDir, '-o', ref, '--weights', GOLDEN_DIR, '--threads', '1', '--no-attention', '--slices', '1:2']);
    expect(r.code, r.stderr).toBe(0);
    const a = readVolume(path.join(outDir, outName));
    const b = readVolume(ref);
    expect(a.dims).toEqual(b.dims);
    expect(Array.from(a.affine)).toEqual(Array.from(b.affine));
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);

    // The password is nowhere: not in the job data (Redis), the results line or the logs.
    const results = readFileSync(path.join(outDir, 'results.jsonl'), 'utf8');
    const stored = await everythingInRedis(redis.url);
    for (const text of [results, stored, w.log(), add.stdout, add.stderr]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
    }
    expect(stored).toContain(seriesUrl);
  });
});
