import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOLDEN_DIR, WRIST, sab, scratch } from './helpers.js';

const dir = scratch('weights');
const files = {
  'bone_sam.pth': readFileSync(path.join(GOLDEN_DIR, 'bone_sam.pth')),
  'atten.pth': readFileSync(path.join(GOLDEN_DIR, 'atten.pth')),
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('sab weights install', () => {
  it('verifies the checkpoints, installs them under their names, and segment finds them via the cache', async () => {
    const cache = path.join(dir, 'cache');
    const target = path.join(cache, 'segment-any-bone');
    const r = await sab(['weights', 'install', path.join(GOLDEN_DIR, 'atten.pth'), path.join(GOLDEN_DIR, 'bone_sam.pth')], {
      XDG_CACHE_HOME: cache,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CC BY-NC 4\.0/);
    expect(sha(readFileSync(path.join(target, 'bone_sam.pth')))).toBe(sha(files['bone_sam.pth']));
    expect(sha(readFileSync(path.join(target, 'atten.pth')))).toBe(sha(files['atten.pth']));
    expect(readFileSync(path.join(target, 'LICENSE-WEIGHTS.txt'), 'utf8')).toMatch(/CC BY-NC 4\.0/);
    const where = await sab(['weights', 'where'], { XDG_CACHE_HOME: cache });
    expect(where.stdout).toContain(path.join(target, 'bone_sam.pth'));
    const seg = await sab(['segment', WRIST, '-o', path.join(dir, 'm.nii.gz'), '--slices', '37:38', '--no-attention'], {
      XDG_CACHE_HOME: cache,
    });
    expect(seg.code, seg.stderr).toBe(0);
    expect(seg.stdout).toMatch(/2D-only/);
  });

  it('rejects a file that is not SegmentAnyBone weights and installs nothing', async () => {
    const r = await sab(['weights', 'install', WRIST, '--dir', path.join(dir, 'nothing')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/wrist_2\.nii\.gz/);
    expect(existsSync(path.join(dir, 'nothing'))).toBe(false);
  });
});

describe('sab weights download (local HTTP server serving the fixture checkpoints)', () => {
  let server: http.Server;
  let base = '';
  const requests: string[] = [];
  let dropFirst = true;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const name = path.basename(req.url ?? '') as keyof typeof files;
      const body = files[name];
      requests.push(`${req.url} ${req.headers.range ?? ''}`);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range) {
        const from = Number(range[1]);
        res.writeHead(206, { 'Content-Length': body.length - from, 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}` });
        res.end(body.subarray(from));
        return;
      }
      res.writeHead(200, { 'Content-Length': body.length });
      if (name === 'bone_sam.pth' && dropFirst) {
        // Simulate a lost connection half way through the first download.
        dropFirst = false;
        res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
        return;
      }
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('resumes after a dropped connection and checks sha256', async () => {
    const target = path.join(dir, 'dl');
    const args = ['weights', 'download', '--base-url', base, '--dir', target,
      '--sha256', `bone_sam.pth=${sha(files['bone_sam.pth'])}`, '--sha256', `atten.pth=${sha(files['atten.pth'])}`];
    const first = await sab(args);
    expect(first.code).not.toBe(0);
    expect(first.stderr).toMatch(/run the command again to resume/);
    const part = path.join(target, 'bone_sam.pth.part');
    expect(existsSync(part)).toBe(true);
    expect(statSync(part).size).toBeGreaterThan(0);
    expect(existsSync(path.join(target, 'bone_sam.pth'))).toBe(false);

    const second = await sab(args);
    expect(second.code, second.stderr).toBe(0);
    expect(requests.some((r) => r.includes('bytes='))).toBe(true); // the second run resumed with a Range request
    expect(sha(readFileSync(path.join(target, 'bone_sam.pth')))).toBe(sha(files['bone_sam.pth']));
    expect(sha(readFileSync(path.join(target, 'atten.pth')))).toBe(sha(files['atten.pth']));
    expect(readdirSync(target).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('a checksum mismatch deletes the download and fails', async () => {
    const target = path.join(dir, 'dl-bad');
    const r = await sab(['weights', 'download', '--base-url', base, '--dir', target, '--only', 'atten.pth',
      '--sha256', `atten.pth=${'0'.repeat(64)}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/sha256 mismatch/);
    expect(readdirSync(target)).toEqual([]);
  });

  it('without a mirror it explains where the official weights are', async () => {
    const r = await sab(['weights', 'download', '--dir', path.join(dir, 'none')], { SAB_WEIGHTS_URL: '' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--base-url/);
  });
});
