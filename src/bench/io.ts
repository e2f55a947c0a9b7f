import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNifti } from '../io/nifti/read.js';
import { writeNifti } from '../io/nifti/write.js';
import { mat4 } from '../volume/affine.js';
import { createVolume } from '../volume/volume.js';
import type { Volume } from '../volume/types.js';

const DIMS: [number, number, number] = [512, 512, 200];
const MB = 1024 * 1024;

/** MRI-like int16 volume: smooth anatomy-ish blobs plus noise, so gzip sees realistic entropy. */
function syntheticVolume(): Volume {
  const [nx, ny, nz] = DIMS;
  const data = new Int16Array(nx * ny * nz);
  let seed = 12345;
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const dx = (i - nx / 2) / (nx / 2.5), dy = (j - ny / 2) / (ny / 3), dz = (k - nz / 2) / (nz / 2);
        const r2 = dx * dx + dy * dy + dz * dz;
        const tissue = r2 < 1 ? 600 + 300 * Math.sin(i / 9) * Math.cos(j / 13) + 150 * Math.sin(k / 5) : 0;
        data[o++] = Math.round(tissue + (seed >>> 24) / 8);
      }
    }
  }
  return createVolume(data, DIMS, mat4([[-0.5, 0, 0, 128], [0, 0.5, 0, -128], [0, 0, 1.2, -120]]));
}

/** Child mode: one operation in a fresh process, reporting wall time and peak RSS above the post-import baseline. */
async function child(op: string, path: string): Promise<void> {
  const base = process.memoryUsage().rss;
  let vol: Volume | undefined;
  let t0 = 0;
  if (op === 'write') {
    vol = syntheticVolume();
    const afterMake = process.memoryUsage().rss;
    t0 = performance.now();
    writeNifti(path, vol);
    const ms = performance.now() - t0;
    process.stdout.write(JSON.stringify({ ms, peakMB: (process.resourceUsage().maxRSS * 1024 - afterMake) / MB }) + '\n');
    return;
  }
  t0 = performance.now();
  vol = readNifti(path);
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, peakMB: (process.resourceUsage().maxRSS * 1024 - base) / MB, voxels: vol.data.length }) + '\n');
}

function runChild(op: string, path: string): { ms: number; peakMB: number } {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', op, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench child ${op} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; peakMB: number };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sab-bench-io-'));
  try {
    const path = join(dir, 'bench.nii.gz');
    const voxelMB = (DIMS[0] * DIMS[1] * DIMS[2] * 2) / MB;
    const w = runChild('write', path);
    const sizeMB = statSync(path).size / MB;
    const r = runChild('read', path);
    const line = (name: string, x: { ms: number; peakMB: number }, target: number): string =>
      `${name.padEnd(6)} ${(x.ms / 1000).toFixed(2)} s   peak +${x.peakMB.toFixed(0)} MB (${(x.peakMB / voxelMB).toFixed(2)}x voxel data; target < 4x)   ${x.ms < target ? 'ok' : 'SLOW'}`;
    process.stdout.write(`NIfTI .nii.gz ${DIMS.join('x')} int16: voxel data ${voxelMB.toFixed(0)} MB, file ${sizeMB.toFixed(1)} MB (gzip level 1)\n`);
    process.stdout.write(line('write', w, 3000) + '\n');
    process.stdout.write(line('read', r, 3000) + '\n');
    process.stdout.write(`read+write ${((w.ms + r.ms) / 1000).toFixed(2)} s (target < 3 s)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!);
