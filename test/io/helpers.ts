import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { emptyNiftiHeader, serializeNiftiHeader, type NiftiHeader } from '../../src/io/nifti/header.js';

/** A scratch directory removed after the test file finishes. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sab-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Deterministic pseudo-random voxels (LCG) so round trips see varied values. */
export function ramp(n: number, seed = 1, scale = 1000): Float64Array {
  const out = new Float64Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = Math.floor((x / 2 ** 32) * scale);
  }
  return out;
}

export function expectAffineClose(actual: Float64Array, expected: ArrayLike<number>, tol = 1e-6): void {
  const diffs: string[] = [];
  for (let i = 0; i < 16; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol)) diffs.push(`[${i}] ${actual[i]} vs ${expected[i]}`);
  }
  if (diffs.length) throw new Error(`affines differ: ${diffs.join('; ')}`);
}

export const SHARED = new URL('../../../shared/fixtures/', import.meta.url).pathname;

/** A 6x5x4 uint8 volume, voxel i = (7 i) mod 13, and its `bzip2 -9` stream (made with bzip2 1.0.8 for the tests). */
export const SMALL_VOXELS = Uint8Array.from({ length: 120 }, (_, i) => (7 * i) % 13);
export const SMALL_VOXELS_BZ2 = Uint8Array.from(
  atob('QlpoOTFBWSZTWa9Y+xMAAATAAH/8IABQgGgAKVQAxO438T2PoxGY1HqeR9GIzGo/F3JFOFCQr1j7Ew=='),
  (c) => c.charCodeAt(0),
);

/** A 4x3x2 int16 NIfTI-1 (pixdim 2, 3, 4) edited by `edit`, with these little-endian voxels. */
export function nifti1Bytes(edit: (h: NiftiHeader) => void, voxels: Int16Array): Uint8Array {
  const h = emptyNiftiHeader(1);
  h.dim = [3, 4, 3, 2, 1, 1, 1, 1];
  h.datatype = 4;
  h.bitpix = 16;
  h.pixdim = [1, 2, 3, 4, 0, 0, 0, 0];
  edit(h);
  const head = serializeNiftiHeader(h);
  const out = new Uint8Array(head.length + voxels.byteLength);
  out.set(head);
  out.set(new Uint8Array(voxels.buffer), head.length);
  return out;
}
