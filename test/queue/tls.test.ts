import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeVolume } from '../../src/io/dispatch.js';
import { makePhantom } from '../../src/train/data/phantom.js';
import { GOLDEN_DIR, sab, scratch } from '../cli/helpers.js';
import { HAVE_OPENSSL, HAVE_REDIS, REDIS_SERVER, RedisServer, makeTlsFiles, type TlsFiles } from '../../src/bench/_redisServer.js';
import { everythingInRedis } from './redisDump.js';
import { spawnWorker } from './workers.js';

// rediss:// with a password against a real TLS redis-server: the queue works, and the password shows up
// nowhere — not in logs, errors, job data, Redis keys, job results or results.jsonl.

const IN_CI = Boolean(process.env['CI']);
const CAN_RUN = HAVE_REDIS && HAVE_OPENSSL;
if (!CAN_RUN && !IN_CI) console.warn(`test/queue/tls skipped: needs ${REDIS_SERVER} and openssl`);

const dir = scratch('queue-tls');
const PASSWORD = 'Pw-9xq@Z!secret';

describe.skipIf(!CAN_RUN && !IN_CI)('sab queue over rediss:// with a password', () => {
  let server: RedisServer;
  let tls: TlsFiles;
  beforeAll(async () => {
    const rdir = path.join(dir, 'redis');
    mkdirSync(rdir);
    tls = makeTlsFiles(dir);
    server = await RedisServer.start(rdir, { password: PASSWORD, tls });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('works with --tls-ca, fails clearly without it or with a wrong password, and never shows the password', async () => {
    const encoded = encodeURIComponent(PASSWORD);
    const url = server.url;
    expect(url).toContain(encoded);
    const inDir = path.join(dir, 'in');
    mkdirSync(inDir);
    writeVolume(path.join(inDir, 'knee.nii.gz'), makePhantom(7, { dims: [24, 24, 16] }).image);
    const outDir = path.join(dir, 'out');
    const seen: string[] = [];
    const leaks = (text: string) => text.includes(PASSWORD) || text.includes(encoded);

    const noCa = await sab(['queue', 'add', inDir, '--redis', url, '--out', outDir]);
    seen.push(noCa.stdout, noCa.stderr);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toMatch(new RegExp(`cannot use Redis at rediss://:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}: .*certificate`));

    const wrong = await sab(['queue', 'status', '--redis', url.replace(encoded, 'nope'), '--tls-ca', tls.ca]);
    seen.push(wrong.stdout, wrong.stderr);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot use Redis at rediss:\/\/:\*\*\*@.*(WRONGPASS|invalid)/);

    // The URL can come from $SAB_REDIS, which keeps the password out of `ps`.
    const add = await sab(['queue', 'add', inDir, '--tls-ca', tls.ca, '--out', outDir, '--no-attention', '--slices', '3:4'], { SAB_REDIS: url });
    seen.push(add.stdout, add.stderr);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/queued 1 new/);

    const w = spawnWorker(['--tls-ca', tls.ca, '--weights', GOLDEN_DIR, '--threads', '1', '--drain'], { SAB_REDIS: url });
    expect((await w.exited).code, w.log()).toBe(0);
    seen.push(w.log());
    expect(w.log()).toMatch(/ready: queue sab-segment at rediss:\/\/:\*\*\*@127\.0\.0\.1/);
    expect(w.log()).toMatch(/wrote .*knee_bone\.nii\.gz/);

    const st = await sab(['queue', 'status', '--redis', url, '--tls-ca', tls.ca, '--json']);
    seen.push(st.stdout, st.stderr);
    expect(JSON.parse(st.stdout).counts.completed).toBe(1);
    seen.push(readFileSync(path.join(outDir, 'results.jsonl'), 'utf8'));
    seen.push(await everythingInRedis(url, tls.ca));
    expect(seen.filter(leaks)).toEqual([]);
  });
});
