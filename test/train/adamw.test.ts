import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assembleWat, wasmModuleSource } from '../../tools/assemble-wat.mjs';
import { AdamWKernel, adamwScalar, type AdamWScalars } from '../../src/train/step/adamw/kernel.js';
import { createArrayMomentStore, createMomentStore } from '../../src/train/step/adamw/moments.js';
import { AdamW } from '../../src/train/step/optim.js';
import { mulberry32 } from '../../src/metrics/prng.js';
import { firstBitDifference as firstDifference } from '../graph/reference.js';

const WAT = fileURLToPath(new URL('../../src/train/step/adamw/kernel.wat', import.meta.url));
const GENERATED = fileURLToPath(new URL('../../src/train/step/adamw/kernelWasm.ts', import.meta.url));

/** Values over many magnitudes, with exact zeros, subnormals and both signs. */
function values(n: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n }, () => {
    const r = rnd();
    if (r < 0.05) return 0;
    if (r < 0.1) return (rnd() - 0.5) * 1e-40;
    return (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12 - 8);
  });
}


describe('AdamW SIMD kernel', () => {
  it('is the committed assembly of kernel.wat', async () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(wasmModuleSource('kernel.wat', await assembleWat(WAT)));
  });

  it('equals the scalar float32 loop bit for bit over 3 steps, both lerp formulas, a length not a multiple of 4', () => {
    const kernel = AdamWKernel.create();
    expect(kernel, 'Node 20 has WebAssembly SIMD').not.toBeNull();
    const n = 1001;
    for (const w of [0.1, 0.7]) {
      const p = values(n, 1);
      const pRef = p.slice();
      const mRef = new Float32Array(n);
      const vRef = new Float32Array(n);
      const m = kernel!.alloc(n);
      const v = kernel!.alloc(n);
      for (let t = 1; t <= 3; t++) {
        const g = values(n, 10 + t);
        const s: AdamWScalars = {
          decay: Math.fround(1 - 1e-3 * 0.01), w: Math.fround(w), wc: Math.fround(1 - Math.fround(w)), b2: Math.fround(0.999), oneMinusB2: Math.fround(1 - 0.999),
          stepSize: Math.fround(-(1e-3 / (1 - 0.9 ** t))), bc2Sqrt: Math.fround(Math.sqrt(1 - 0.999 ** t)), eps: Math.fround(1e-8),
        };
        kernel!.update(p, g, m, v, s);
        adamwScalar(pRef, g, mRef, vRef, s);
        expect(firstDifference(p, pRef)).toBe(-1);
        expect(firstDifference(kernel!.view(m, n), mRef)).toBe(-1);
        expect(firstDifference(kernel!.view(v, n), vRef)).toBe(-1);
      }
    }
  });

  it('gives AdamW the same parameters and state as the scalar store, across memory growth and a state reload', () => {
    // 300k values per tensor: the kernel's memory grows several times between the tensors' first steps.
    const sizes = { a: 300_000, b: 7, c: 120_001 };
    const run = (fast: boolean) => {
      const opt = new AdamW({ lr: 1e-2 }, fast ? createMomentStore() : createArrayMomentStore());
      const params = new Map(Object.entries(sizes).map(([k, n], i) => [k, values(n, 100 + i)]));
      for (let t = 0; t < 3; t++) {
        const grads = new Map(Object.entries(sizes).filter(([k]) => t > 0 || k !== 'c').map(([k, n], i) => [k, values(n, 200 + 10 * t + i)]));
        opt.step(params, grads);
      }
      const reloaded = new AdamW({ lr: 1e-2 }, fast ? createMomentStore() : createArrayMomentStore());
      reloaded.loadStateDict(opt.stateDict());
      reloaded.step(params, new Map([['a', values(sizes.a, 999)]]));
      return { params, state: reloaded.stateDict() };
    };
    const fast = run(true);
    const slow = run(false);
    for (const k of Object.keys(sizes)) expect(firstDifference(fast.params.get(k)!, slow.params.get(k)!), k).toBe(-1);
    expect([...fast.state.keys()].sort()).toEqual([...slow.state.keys()].sort());
    for (const [k, t] of slow.state) {
      const f = fast.state.get(k)!.data;
      if (t.dtype === 'float32') expect(firstDifference(f as Float32Array, t.data as Float32Array), k).toBe(-1);
      else expect(f).toEqual(t.data);
    }
  });
});
