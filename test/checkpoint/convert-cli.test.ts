import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/checkpoint/index.js';
import { expectMatchesGolden, GOLDEN } from './golden-helpers.js';

// End-to-end against the BUILT cli (npm test runs tsc first).
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sab-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sab(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sab convert', () => {
  for (const name of ['bone_sam', 'atten'] as const) {
    it(`${name}.pth -> safetensors keeps every tensor bit-exact`, () => {
      const out = join(dir, `${name}.safetensors`);
      const r = sab('convert', `${GOLDEN}${name}.pth`, '-o', out);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`${name}\\.safetensors: ${name === 'bone_sam' ? 528 : 150} tensors, \\d+ bytes`));
      expectMatchesGolden(readSafetensors(readFileSync(out), out), name);
    });
  }

  it('converts safetensors back to safetensors, and refuses to overwrite the input', () => {
    const src = join(dir, 'atten.safetensors');
    expect(existsSync(src)).toBe(true);
    const before = readFileSync(src);
    const r = sab('convert', src, '-o', src);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^sab: error: .*refusing to overwrite the input checkpoint/);
    expect(readFileSync(src).equals(before)).toBe(true);
  });

  it('rejects an unsupported output extension and leaves no file behind', () => {
    const copy = join(dir, 'small.pth');
    copyFileSync(`${GOLDEN}atten.pth`, copy);
    const r = sab('convert', copy, '-o', join(dir, 'out.npz'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unsupported output format '\.npz' \(supported: \.safetensors\)/);
    expect(readdirSync(dir).filter((f) => f.startsWith('out') || f.endsWith('.tmp'))).toEqual([]);
  });

  it('a bad input gives one error line and no output file', () => {
    const out = join(dir, 'bad.safetensors');
    const r = sab('convert', join(GOLDEN, 'manifest.json'), '-o', out);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/manifest\.json: not a PyTorch or safetensors checkpoint \(wrong magic/);
    expect(existsSync(out)).toBe(false);
  });
});
