import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, readTorchCheckpoint } from '../../src/checkpoint/index.js';
import { expectMatchesGolden, GOLDEN } from './golden-helpers.js';

describe('golden torch checkpoints', () => {
  it('bone_sam.pth: all 528 tensors match dtype, shape and sha256', () => {
    const dict = loadCheckpoint(`${GOLDEN}bone_sam.pth`);
    expect(dict.size).toBe(528);
    expectMatchesGolden(dict, 'bone_sam');
  });

  it('atten.pth: all 150 tensors (strided views into one shared storage) match', () => {
    const bytes = readFileSync(`${GOLDEN}atten.pth`);
    const dict = readTorchCheckpoint(bytes, 'atten.pth');
    expect(dict.size).toBe(150);
    expectMatchesGolden(dict, 'atten');
    // Tensors own their data: none aliases the file buffer.
    for (const t of dict.values()) expect(t.data.buffer).not.toBe(bytes.buffer);
  });
});
