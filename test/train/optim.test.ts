import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AdamW, learningRate, OptimizerError } from '../../src/train/step/optim.js';
import { mulberry32, normalSampler } from '../../src/metrics/prng.js';

const dir = mkdtempSync(join(tmpdir(), 'sab-optim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

describe('AdamW (torch.optim.AdamW semantics)', () => {
  it('matches three hand-computed steps', () => {
    // PyTorch formula, lr 0.1, wd 0.01, betas (0.9, 0.999), eps 1e-8, p0 = 1, grads 0.5, -1, 0.25:
    // t=1: p = 1*(1-0.001) = 0.999; m = 0.05; v = 0.001*0.25 = 2.5e-4; bias corr. 1-0.9 = 0.1, 1-0.999 = 1e-3
    //      denom = sqrt(2.5e-4)/sqrt(1e-3) + 1e-8 = 0.50000001; p = 0.999 - (0.1/0.1)*0.05/0.50000001 = 0.899000002
    // t=2: p = 0.899000002*0.999 = 0.898101002; m = 0.9*0.05 + 0.1*(-1) = -0.055
    //      v = 0.999*2.5e-4 + 0.001*1 = 1.24975e-3; denom = sqrt(1.24975e-3)/sqrt(1-0.998001) + 1e-8 = 0.790688060875
    //      p = 0.898101002 + (0.1/0.19)*0.055/0.790688060875 = 0.934711354239
    // t=3: m = 0.9*(-0.055) + 0.1*0.25 = -0.0245; v = 0.999*1.24975e-3 + 0.001*0.0625 = 1.31100025e-3
    //      denom = sqrt(v)/sqrt(1-0.999^3) + 1e-8 = 0.661390495943
    //      p = 0.934711354239*0.999 + (0.1/0.271)*0.0245/0.661390495943 = 0.947445708983
    const p = Float32Array.from([1]);
    const params = new Map([['w', p]]);
    const opt = new AdamW({ lr: 0.1 });
    const expected = [0.899000002, 0.934711354239, 0.947445708983];
    [0.5, -1, 0.25].forEach((g, k) => {
      opt.step(params, new Map([['w', Float32Array.from([g])]]));
      expect(rel(p[0]!, expected[k]!)).toBeLessThan(2e-7); // float32 storage of the double-precision hand value
    });
    expect(opt.stepOf('w')).toBe(3);
    const state = opt.stateDict();
    expect(rel((state.get('exp_avg.w')!.data as Float32Array)[0]!, -0.0245)).toBeLessThan(1e-6);
    expect(rel((state.get('exp_avg_sq.w')!.data as Float32Array)[0]!, 1.31100025e-3)).toBeLessThan(1e-6);
  });

  it('applies decoupled weight decay before the Adam update (zero gradient: p * (1 - lr*wd) only)', () => {
    // p = 2 * (1 - 0.1*0.5) = 1.9; m = v = 0 so the Adam term is 0 / (0 + eps) = 0.
    const p = Float32Array.from([2, -4]);
    new AdamW({ lr: 0.1, weightDecay: 0.5 }).step(new Map([['w', p]]), new Map([['w', new Float32Array(2)]]));
    expect([...p]).toEqual([Math.fround(Math.fround(2) * Math.fround(0.95)), Math.fround(-4 * Math.fround(0.95))]);
  });

  it('uses the default hyper-parameters (lr 5e-4, wd 0.01, betas 0.9/0.999, eps 1e-8)', () => {
    const opt = new AdamW();
    expect([opt.lr, opt.weightDecay, opt.betas, opt.eps]).toEqual([5e-4, 0.01, [0.9, 0.999], 1e-8]);
    // First step moves each weight by ~lr*sign(g) (|m/sqrt(v)| = 1 after bias correction), plus the decay.
    const p = Float32Array.from([0.3, 0.3]);
    opt.step(new Map([['w', p]]), new Map([['w', Float32Array.from([2, -0.001])]]));
    expect(rel(p[0]!, 0.3 * (1 - 5e-6) - 5e-4)).toBeLessThan(1e-6);
    expect(rel(p[1]!, 0.3 * (1 - 5e-6) + 5e-4 * (0.001 / (0.001 + 1e-8)))).toBeLessThan(1e-6);
  });

  it('skips parameters without a gradient (their step count stays) and rejects mismatches', () => {
    const a = Float32Array.from([1]);
    const b = Float32Array.from([1]);
    const opt = new AdamW({ lr: 0.1 });
    opt.step(new Map([['a', a], ['b', b]]), new Map([['a', Float32Array.from([1])]]));
    expect(b[0]).toBe(1);
    expect([opt.stepOf('a'), opt.stepOf('b')]).toEqual([1, 0]);
    expect(() => opt.step(new Map([['a', a]]), new Map([['z', Float32Array.from([1])]]))).toThrow(OptimizerError);
    expect(() => opt.step(new Map([['a', a]]), new Map([['a', new Float32Array(2)]]))).toThrow(/2 values/);
    expect(() => new AdamW({ betas: [1, 0.9] })).toThrow(/invalid AdamW/);
  });

  it('resumes bit-exactly from a saved state', () => {
    const normal = normalSampler(mulberry32(7));
    const grads = Array.from({ length: 6 }, () => new Map([
      ['x', Float32Array.from({ length: 50 }, normal)],
      ['y', Float32Array.from({ length: 3 }, normal)],
    ]));
    const init = () => new Map([['x', Float32Array.from({ length: 50 }, (_, i) => Math.sin(i))], ['y', Float32Array.from([1, 2, 3])]]);
    const straight = init();
    const o1 = new AdamW({ lr: 0.01 });
    grads.forEach((g, i) => o1.step(straight, g, learningRate(i, { baseLr: 0.01, warmup: 3 })));

    const resumed = init();
    const o2 = new AdamW({ lr: 0.01 });
    grads.slice(0, 3).forEach((g, i) => o2.step(resumed, g, learningRate(i, { baseLr: 0.01, warmup: 3 })));
    const path = join(dir, 'opt.safetensors');
    o2.save(path);
    const o3 = AdamW.load(path);
    expect([o3.lr, o3.weightDecay, o3.betas, o3.eps]).toEqual([0.01, 0.01, [0.9, 0.999], 1e-8]);
    grads.slice(3).forEach((g, i) => o3.step(resumed, g, learningRate(i + 3, { baseLr: 0.01, warmup: 3 })));
    expect([...resumed.get('x')!]).toEqual([...straight.get('x')!]);
    expect([...resumed.get('y')!]).toEqual([...straight.get('y')!]);
    expect(() => AdamW.load(join(dir, 'missing.safetensors'))).toThrow(/cannot read/);
  });
});

describe('learningRate', () => {
  it('warms up linearly over 200 iterations to 5e-4 by default, then holds', () => {
    expect(learningRate(0)).toBeCloseTo(5e-4 / 200, 15);
    expect(learningRate(99)).toBeCloseTo(2.5e-4, 15);
    expect(learningRate(199)).toBe(5e-4);
    expect(learningRate(5000)).toBe(5e-4);
  });
  it('decays polynomially after the warm-up when maxIterations is given', () => {
    const s = { warmup: 200, maxIterations: 1000 };
    expect(learningRate(200, s)).toBe(5e-4);
    expect(learningRate(700, s)).toBeCloseTo(5e-4 * 0.5 ** 0.9, 15);
    expect(learningRate(1200, s)).toBe(0);
  });
});
