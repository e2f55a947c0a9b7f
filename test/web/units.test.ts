import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewerServer, VIEWER_HEADERS, type ViewerServer } from '../../src/cli/commands/serve.js';
import { EditHistory } from '../../web/src/history.js';
import { boneVolumeMl, readSlice, rowsIToSlice, writeSlice } from '../../web/src/sliceMasks.js';
import { EmbeddingCache } from '../../web/src/viewerModel.js';
import { drawingLayout } from '../../web/src/viewer.js';
import { NVImage } from '@niivue/niivue';
import { encodeNifti } from '../../src/io/nifti/write.js';
import { createVolume } from '../../src/volume/volume.js';

// The viewer's pure parts and `sab serve`, without a browser.

describe('viewer mask on niivue\'s drawing layer', () => {
  // niivue keeps the drawing in RAS voxel order; check our native -> drawing index against niivue's own
  // RAS -> native mapping (img2RASstart/step, what it uses to save a drawing) on permuted, flipped grids.
  const dims: [number, number, number] = [4, 3, 2];
  const affines = {
    identity: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
    'k->-x, i->-y, j->z': [0, 0, -2, 10, -1, 0, 0, 5, 0, 3, 0, 1],
    'j->x, k->y, i->-z': [0, 1, 0, 0, 0, 0, 1.5, 0, -0.5, 0, 0, 3],
  };
  for (const [name, rows] of Object.entries(affines)) {
    it(`maps every native voxel to niivue's RAS index (${name})`, async () => {
      const data = Uint8Array.from({ length: 24 }, (_, p) => p);
      const [head, body] = encodeNifti(createVolume(data, dims, new Float64Array([...rows, 0, 0, 0, 1])));
      const bytes = new Uint8Array(head!.length + body!.length);
      bytes.set(head!);
      bytes.set(body!, head!.length);
      const img = (await (NVImage.new as unknown as (b: ArrayBuffer, n: string) => Promise<NVImage>)(bytes.buffer, 'x.nii')) as NVImage & {
        img2RASstart: number[];
        img2RASstep: number[];
      };
      const layout = drawingLayout(img.permRAS!, dims);
      expect(layout.size).toEqual(img.dimsRAS!.slice(1, 4));
      const [s0, s1, s2] = img.img2RASstep;
      const [b0, b1, b2] = img.img2RASstart;
      const seen = new Set<number>();
      let p = 0;
      for (let k = 0; k < 2; k++) {
        for (let j = 0; j < 3; j++) {
          for (let i = 0; i < 4; i++, p++) {
            const r = layout.lut[0][i]! + layout.lut[1][j]! + layout.lut[2][k]!;
            const [rx, ry, rz] = [r % layout.size[0], Math.floor(r / layout.size[0]) % layout.size[1], Math.floor(r / (layout.size[0] * layout.size[1]))];
            expect(b0! + rx * s0! + b1! + ry * s1! + b2! + rz * s2!).toBe(p);
            seen.add(r);
            // Slice k is the plane of RAS axis kAxis at one coordinate.
            expect([rx, ry, rz][layout.kAxis]).toBe(layout.lut[2][k]! / layout.stride[layout.kAxis]!);
          }
        }
      }
      expect(seen.size).toBe(24);
    });
  }
});

describe('viewer slice helpers', () => {
  it('maps a (rows = i, cols = j) image into the volume layout (i fastest) and back through read/writeSlice', () => {
    const [ni, nj] = [3, 2];
    const image = Uint8Array.from([1, 2, 3, 4, 5, 6]); // row i: [image[i*nj], image[i*nj+1]]
    const slice = rowsIToSlice(image, ni, nj);
    // voxel (i, j) at i + j*ni
    expect([...slice]).toEqual([1, 3, 5, 2, 4, 6]);
    const mask = new Uint8Array(ni * nj * 4);
    writeSlice(mask, [ni, nj, 4], 2, slice);
    expect([...readSlice(mask, [ni, nj, 4], 2)]).toEqual([...slice]);
    expect(mask.subarray(0, 2 * ni * nj).every((v) => v === 0)).toBe(true);
    expect(() => writeSlice(mask, [ni, nj, 4], 0, new Uint8Array(5))).toThrow(/5 voxels, expected 6/);
  });

  it('bone volume is voxel count x voxel volume in mL', () => {
    const m = new Uint8Array(2000).fill(1);
    expect(boneVolumeMl(m, [0.5, 0.5, 2])).toBeCloseTo(1, 12);
  });
});

describe('EditHistory', () => {
  const edit = (slice: number, a: number, b: number) => ({
    slice,
    before: { mask: Uint8Array.of(a), prompts: [] },
    after: { mask: Uint8Array.of(b), prompts: [] },
  });

  it('undoes and redoes in order; a new edit drops the redo branch', () => {
    const h = new EditHistory();
    expect(h.undo()).toBeUndefined();
    h.push(edit(1, 0, 1));
    h.push(edit(2, 0, 2));
    expect(h.undo()?.slice).toBe(2);
    expect(h.canRedo).toBe(true);
    expect(h.redo()?.after.mask[0]).toBe(2);
    expect(h.undo()?.slice).toBe(2);
    h.push(edit(3, 0, 3));
    expect(h.canRedo).toBe(false);
    expect(h.undo()?.slice).toBe(3);
    expect(h.undo()?.slice).toBe(1);
    expect(h.canUndo).toBe(false);
  });

  it('keeps at most `limit` edits', () => {
    const h = new EditHistory(2);
    for (let k = 0; k < 5; k++) h.push(edit(k, 0, 1));
    expect(h.undo()?.slice).toBe(4);
    expect(h.undo()?.slice).toBe(3);
    expect(h.undo()).toBeUndefined();
  });
});

describe('EmbeddingCache', () => {
  it('evicts the least recently used slice', () => {
    const c = new EmbeddingCache(2);
    const e = () => ({ embedding: new Float32Array(1) });
    c.set(1, e());
    c.set(2, e());
    expect(c.get(1)).toBeDefined(); // 1 is now the most recent
    c.set(3, e());
    expect(c.get(2)).toBeUndefined();
    expect(c.get(1)).toBeDefined();
    expect(c.get(3)).toBeDefined();
    expect(c.size).toBe(2);
  });
});

describe('sab serve (viewer server)', () => {
  let root: string;
  let server: ViewerServer;

  const get = (p: string, method = 'GET') =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const u = new URL(server.url);
      const req = request({ host: u.hostname, port: u.port, path: p, method }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sab-serve-'));
    mkdirSync(path.join(root, 'site/ort'), { recursive: true });
    writeFileSync(path.join(root, 'site/index.html'), '<!doctype html><title>viewer</title>');
    writeFileSync(path.join(root, 'site/ort/x.wasm'), Uint8Array.of(0, 0x61, 0x73, 0x6d));
    writeFileSync(path.join(root, 'secret.txt'), 'outside the root');
    server = await startViewerServer({ port: 0, root: path.join(root, 'site') });
  });
  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html with the cross-origin isolation headers WASM threads need', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>viewer</title>');
    expect(r.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(r.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect(String(r.headers['content-security-policy'])).toContain("connect-src 'self'");
    expect(r.headers['content-type']).toMatch(/text\/html/);
    for (const [k, v] of Object.entries(VIEWER_HEADERS)) expect(r.headers[k.toLowerCase()]).toBe(v);
  });

  it('serves .wasm as application/wasm; HEAD has no body', async () => {
    const r = await get('/ort/x.wasm', 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/wasm');
    expect(r.headers['content-length']).toBe('4');
    expect(r.body).toBe('');
  });

  it('never serves files outside its root; unknown paths are 404, other methods 405', async () => {
    expect((await get('/../secret.txt')).status).toBe(404);
    expect((await get('/%2e%2e/secret.txt')).status).not.toBe(200);
    expect((await get('/%2e%2e%2fsecret.txt')).status).not.toBe(200);
    expect((await get('/missing.js')).status).toBe(404);
    expect((await get('/', 'POST')).status).toBe(405);
  });

  it('says how to build the viewer when it is missing', async () => {
    await expect(startViewerServer({ port: 0, root: path.join(root, 'nope') })).rejects.toThrow(/not built.*npm run build/);
  });
});
