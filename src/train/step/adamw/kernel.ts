import { WASM_BASE64 } from './kernelWasm.js';

/** The scalars of one AdamW update of one tensor, already rounded to float32 where torch rounds them. */
export interface AdamWScalars {
  decay: number;
  /** lerp weight 1 - beta1, and 1 - weight. */
  w: number;
  wc: number;
  b2: number;
  oneMinusB2: number;
  stepSize: number;
  bc2Sqrt: number;
  eps: number;
}

const f32 = Math.fround;

/**
 * The reference element loop: every operation rounded to float32 in torch's operand order (double
 * arithmetic then Math.fround equals the float32 operation for + - * / and sqrt). The kernel below
 * must equal it bit for bit (test/train/adamw.test.ts).
 */
export function adamwScalar(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamWScalars): void {
  const lowWeight = s.w < 0.5;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    const pi = f32(p[i]! * s.decay);
    const mi = m[i]!;
    const diff = f32(gi - mi);
    // torch.lerp with a scalar weight: two formulas, split at weight 0.5, for accuracy at both ends.
    const mNew = lowWeight ? f32(mi + f32(s.w * diff)) : f32(gi - f32(diff * s.wc));
    const vNew = f32(f32(v[i]! * s.b2) + f32(f32(s.oneMinusB2 * gi) * gi));
    const denom = f32(f32(f32(Math.sqrt(vNew)) / s.bc2Sqrt) + s.eps);
    m[i] = mNew;
    v[i] = vNew;
    p[i] = f32(pi + f32(f32(s.stepSize * mNew) / denom));
  }
}

type KernelFn = (
  p: number, m: number, v: number, g: number, n: number,
  decay: number, w: number, wc: number, lowWeight: number, b2: number, oneMinusB2: number, stepSize: number, bc2Sqrt: number, eps: number,
) => void;

const PAGE = 65536;
const align16 = (bytes: number) => (bytes + 15) & ~15;

/**
 * Optimizer moments kept in one WebAssembly memory and updated by a 4-lane SIMD kernel (kernel.wat):
 * the scalar loop was most of a batch-1 `sab finetune` iteration's overhead (`npm run bench adamw`
 * times both). The parameter and its gradient are copied into scratch space per update (the
 * trainer owns the parameter arrays); the moments never leave the memory.
 */
export class AdamWKernel {
  private top = 0;
  private scratch = { p: 0, g: 0, capacity: 0 };

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly fn: KernelFn,
  ) {}

  /** The kernel, or null where this WebAssembly engine has no SIMD (the caller uses adamwScalar). */
  static create(): AdamWKernel | null {
    try {
      const bytes = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0));
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
      const ex = instance.exports as { memory: WebAssembly.Memory; adamw: KernelFn };
      return new AdamWKernel(ex.memory, ex.adamw);
    } catch {
      return null;
    }
  }

  /** A zeroed float32 region of n values (a fresh memory page is zero). Returns its byte offset. */
  alloc(n: number): number {
    const offset = this.top;
    this.top = align16(offset + 4 * n);
    const need = Math.ceil(this.top / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need > 0) this.memory.grow(need);
    return offset;
  }

  /** A view of a region (fresh each time: growing the memory detaches older views). */
  view(offset: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, offset, n);
  }

  /** One update of p (in place) with gradient g and the moments at byte offsets m, v. */
  update(p: Float32Array, g: Float32Array, m: number, v: number, s: AdamWScalars): void {
    const n = p.length;
    if (this.scratch.capacity < n) this.scratch = { p: this.alloc(n), g: this.alloc(n), capacity: n };
    const { p: pOff, g: gOff } = this.scratch;
    this.view(pOff, n).set(p);
    this.view(gOff, n).set(g);
    this.fn(pOff, m, v, gOff, n, s.decay, s.w, s.wc, s.w < 0.5 ? 1 : 0, s.b2, s.oneMinusB2, s.stepSize, s.bc2Sqrt, s.eps);
    p.set(this.view(pOff, n));
  }
}
