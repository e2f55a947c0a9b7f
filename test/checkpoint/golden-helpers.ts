import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { StateDict, Tensor } from '../../src/checkpoint/index.js';

export const GOLDEN = fileURLToPath(new URL('../../../shared/fixtures/golden/', import.meta.url));

interface Expected {
  dtype: string;
  shape: number[];
  sha256: string;
}

export function tensorSha256(t: Tensor): string {
  return createHash('sha256').update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex');
}

/** Every tensor must match dtype, shape and the sha256 of its contiguous row-major bytes, in order. */
export function expectMatchesGolden(dict: StateDict, name: 'bone_sam' | 'atten'): void {
  const expected = JSON.parse(readFileSync(`${GOLDEN}${name}_tensors.json`, 'utf8')) as Record<string, Expected>;
  expect([...dict.keys()]).toEqual(Object.keys(expected));
  const mismatches: string[] = [];
  for (const [key, exp] of Object.entries(expected)) {
    const t = dict.get(key)!;
    if (t.dtype !== exp.dtype || JSON.stringify(t.shape) !== JSON.stringify(exp.shape) || tensorSha256(t) !== exp.sha256) mismatches.push(key);
  }
  expect(mismatches).toEqual([]);
}
