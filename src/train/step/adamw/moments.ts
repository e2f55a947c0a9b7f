import { AdamWKernel, adamwScalar, type AdamWScalars } from './kernel.js';

/**
 * AdamW's first and second moments per parameter name, and the element update that uses them:
 * in WebAssembly memory with the SIMD kernel where the engine has SIMD, else in plain arrays with the
 * scalar loop (the same float32 results either way).
 */
export interface MomentStore {
  names(): IterableIterator<string>;
  /** The moments of a parameter of n values, zeros when first asked. Views: read them before the next call. */
  get(name: string, n: number): { m: Float32Array; v: Float32Array };
  /** p (in place) and the moments of `name` after one update with gradient g. */
  update(name: string, p: Float32Array, g: Float32Array, s: AdamWScalars): void;
  clear(): void;
}

class ArrayMoments implements MomentStore {
  private readonly slots = new Map<string, { m: Float32Array; v: Float32Array }>();
  names() {
    return this.slots.keys();
  }
  get(name: string, n: number) {
    let s = this.slots.get(name);
    if (!s) this.slots.set(name, (s = { m: new Float32Array(n), v: new Float32Array(n) }));
    return s;
  }
  update(name: string, p: Float32Array, g: Float32Array, s: AdamWScalars): void {
    const { m, v } = this.get(name, p.length);
    adamwScalar(p, g, m, v, s);
  }
  clear(): void {
    this.slots.clear();
  }
}

class KernelMoments implements MomentStore {
  private kernel: AdamWKernel;
  private readonly slots = new Map<string, { m: number; v: number; n: number }>();
  constructor(kernel: AdamWKernel) {
    this.kernel = kernel;
  }
  names() {
    return this.slots.keys();
  }
  private slot(name: string, n: number) {
    let s = this.slots.get(name);
    if (!s) this.slots.set(name, (s = { m: this.kernel.alloc(n), v: this.kernel.alloc(n), n }));
    return s;
  }
  get(name: string, n: number) {
    const s = this.slot(name, n);
    return { m: this.kernel.view(s.m, s.n), v: this.kernel.view(s.v, s.n) };
  }
  update(name: string, p: Float32Array, g: Float32Array, sc: AdamWScalars): void {
    const s = this.slot(name, p.length);
    this.kernel.update(p, g, s.m, s.v, sc);
  }
  clear(): void {
    // A fresh kernel (and memory): alloc relies on never-used memory being zero.
    this.kernel = AdamWKernel.create()!;
    this.slots.clear();
  }
}

export function createMomentStore(): MomentStore {
  const kernel = AdamWKernel.create();
  return kernel ? new KernelMoments(kernel) : new ArrayMoments();
}

/** The scalar-loop store, for tests comparing the two. */
export function createArrayMomentStore(): MomentStore {
  return new ArrayMoments();
}
