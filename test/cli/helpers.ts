import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO, 'dist/cli/main.js');
export const SHARED_FIXTURES = path.join(REPO, '../shared/fixtures');
export const GOLDEN_DIR = path.join(SHARED_FIXTURES, 'golden');
export const WRIST = path.join(SHARED_FIXTURES, 'mri/wrist_2.nii.gz');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the BUILT cli (npm test builds first) with a clean cache dir so user weights never leak in. */
// Asynchronous on purpose: a blocking spawnSync starves vitest's worker RPC during long runs.
export function sab(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, SAB_WEIGHTS: '', XDG_CACHE_HOME: path.join(os.tmpdir(), 'sab-test-empty-cache'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function scratch(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sab-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function goldenU8(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(GOLDEN_DIR, `${name}.bin`)));
}

export function goldenF32(name: string): Float32Array {
  const b = readFileSync(path.join(GOLDEN_DIR, `${name}.bin`));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Slice k of a volume stored i fastest, as a (rows = I, cols = J) image like the golden masks. */
export function sliceRowsI(data: ArrayLike<number>, dims: readonly number[], k: number): Uint8Array {
  const [ni, nj] = dims as [number, number];
  const out = new Uint8Array(ni * nj);
  for (let j = 0; j < nj; j++) for (let i = 0; i < ni; i++) out[i * nj + j] = data[i + j * ni + k * ni * nj]!;
  return out;
}

export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
