import { describe, expect, it } from 'vitest';
import { connectedComponents26 } from '../../src/metrics/components.js';
import { mulberry32 } from '../../src/metrics/prng.js';
import { toEncoderFrame } from '../../src/pipeline/prompts.js';
import { isPromptedIteration, promptTokens, sampleHybridPrompts, samplePromptedTarget } from '../../src/train/data/prompts.js';

const ROWS = 40;
const COLS = 60;

/** Four separate blobs (two touching diagonally only, which 8-connectivity joins) -> 3 regions. */
function threeRegionMask(): Uint8Array {
  const m = new Uint8Array(ROWS * COLS);
  const fill = (r0: number, r1: number, c0: number, c1: number) => {
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) m[r * COLS + c] = 1;
  };
  fill(2, 8, 3, 10); // region A
  fill(20, 30, 40, 50); // region B
  fill(31, 35, 51, 55); // touches B only at a corner: same region under 8-connectivity
  fill(12, 14, 20, 45); // region C
  return m;
}

const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);

describe('hybrid prompt sampling', () => {
  it('picks K < N regions, M >= K prompts inside them, target = selected regions only', () => {
    const mask = threeRegionMask();
    const rand = mulberry32(11);
    const ks = new Set<number>();
    for (let it = 0; it < 200; it++) {
      const s = samplePromptedTarget(mask, ROWS, COLS, rand);
      expect(s.mode).toBe('prompted');
      expect(s.regionCount).toBe(3);
      const k = s.selected.length;
      ks.add(k);
      expect(k).toBeGreaterThanOrEqual(1);
      expect(k).toBeLessThan(3);
      expect(s.points.length + s.boxes.length).toBeGreaterThanOrEqual(k);
      expect(s.points.length + s.boxes.length).toBeLessThanOrEqual(k + 2);
      // Target is a subset of the mask and every point lies on the target.
      for (let p = 0; p < mask.length; p++) if (s.target[p]) expect(mask[p]).toBe(1);
      for (const [r, c] of s.points) expect(s.target[r * COLS + c]).toBe(1);
      // Every box overlaps the target (it was built around a selected region).
      for (const [r0, c0, r1, c1] of s.boxes) {
        let hit = 0;
        for (let r = Math.ceil(r0); r <= Math.floor(r1); r++) for (let c = Math.ceil(c0); c <= Math.floor(c1); c++) hit += s.target[r * COLS + c]!;
        expect(hit).toBeGreaterThan(0);
      }
      expect(sum(s.target)).toBeLessThan(sum(mask));
    }
    expect([...ks].sort()).toEqual([1, 2]);
  });

  it('uses the single region when there is only one (K = N = 1), with a tight box when jitter is 0', () => {
    const mask = new Uint8Array(ROWS * COLS);
    for (let r = 5; r <= 9; r++) for (let c = 7; c <= 20; c++) mask[r * COLS + c] = 1;
    const s = samplePromptedTarget(mask, ROWS, COLS, mulberry32(3), { kind: 'boxes', boxJitter: 0, maxExtraPrompts: 0 });
    expect(s.selected).toEqual([1]);
    expect(s.target).toEqual(mask);
    expect(s.boxes).toEqual([[5, 7, 9, 20]]);
    // In the 1024 frame with the encoder's own transform, followed by SAM's corner tokens (labels 2, 3).
    const box = toEncoderFrame({ points: [], box: [5, 7, 9, 20] }, ROWS, COLS).box!;
    expect([...s.tokens!.coords]).toEqual([...Float32Array.from(box)]);
    expect([...s.tokens!.labels]).toEqual([2, 3]);
  });

  it('maps points with toEncoderFrame and pads a points-only call', () => {
    const s = samplePromptedTarget(threeRegionMask(), ROWS, COLS, mulberry32(5), { kind: 'points' });
    expect(s.boxes).toEqual([]);
    const t = s.tokens!;
    expect(t.count).toBe(s.points.length + 1);
    s.points.forEach(([r, c], i) => {
      const [x, y] = toEncoderFrame({ points: [[r, c, 1]] }, ROWS, COLS).points![0]!;
      expect([t.coords[2 * i], t.coords[2 * i + 1], t.labels[i]]).toEqual([Math.fround(x), Math.fround(y), 1]);
    });
    expect(t.labels[t.count - 1]).toBe(-1);
    // Each selected region holds at least one of the points.
    const cc = connectedComponents26(threeRegionMask(), [COLS, ROWS, 1]);
    const hit = new Set(s.points.map(([r, c]) => cc.labels[r * COLS + c]));
    expect([...hit].sort()).toEqual(s.selected);
    expect(promptTokens([[1, 2]], [[0, 0, 5, 5], [6, 6, 9, 9]]).labels).toEqual(Float32Array.from([1, 2, 3, 2, 3]));
  });

  it('prompts about 30% of iterations and otherwise targets the full mask', () => {
    const mask = threeRegionMask();
    const rand = mulberry32(99);
    let prompted = 0;
    for (let it = 0; it < 1000; it++) {
      const s = sampleHybridPrompts(mask, ROWS, COLS, rand);
      if (s.mode === 'prompted') prompted++;
      else {
        expect(Buffer.from(s.target).equals(Buffer.from(mask))).toBe(true);
        expect(s.tokens).toBeUndefined();
      }
    }
    expect(prompted).toBeGreaterThan(250);
    expect(prompted).toBeLessThan(350);
    const r = mulberry32(1);
    expect(Array.from({ length: 20 }, () => isPromptedIteration(r, 0)).some(Boolean)).toBe(false);
  });

  it('is reproducible for a seed and falls back to automatic on an empty mask', () => {
    const a = samplePromptedTarget(threeRegionMask(), ROWS, COLS, mulberry32(42));
    const b = samplePromptedTarget(threeRegionMask(), ROWS, COLS, mulberry32(42));
    expect(a).toEqual(b);
    const e = samplePromptedTarget(new Uint8Array(ROWS * COLS), ROWS, COLS, mulberry32(1));
    expect(e.mode).toBe('auto');
    expect(sum(e.target)).toBe(0);
    expect(() => samplePromptedTarget(new Uint8Array(5), ROWS, COLS, mulberry32(1))).toThrow(/5 pixels/);
  });
});
