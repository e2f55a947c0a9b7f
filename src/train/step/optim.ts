import { readFileSync } from 'node:fs';
import { readSafetensors, safetensorsChunks } from '../../checkpoint/safetensors.js';
import type { StateDict } from '../../checkpoint/tensor.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { createMomentStore, type MomentStore } from './adamw/moments.js';

const f32 = Math.fround;

export class OptimizerError extends Error {
  override name = 'OptimizerError';
}

export interface AdamWOptions {
  /** Base learning rate (the project default 5e-4, as the official fine-tuning scripts). */
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (torch.optim.AdamW default 0.01). */
  weightDecay?: number;
}

/**
 * torch.optim.AdamW (amsgrad off, maximize off, single-tensor path) over named float32 parameters.
 * Per parameter and step t (counted per parameter, as torch does; a parameter without a gradient
 * this step is skipped):
 *   p *= 1 - lr*wd;  m = lerp(m, g, 1-b1);  v = v*b2 + (1-b2)*g*g;
 *   p += -(lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Every tensor operation is rounded to float32 in torch's operand order; the bias corrections and
 * step size are Python (double) scalars, rounded to float32 where torch's CPU kernels take them.
 */
export class AdamW {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly moments: MomentStore;
  private readonly steps = new Map<string, number>();

  constructor(opts: AdamWOptions = {}, moments: MomentStore = createMomentStore()) {
    this.moments = moments;
    this.lr = opts.lr ?? 5e-4;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    const [b1, b2] = this.betas;
    if (!(this.lr >= 0) || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(this.eps >= 0) || !(this.weightDecay >= 0)) {
      throw new OptimizerError(`invalid AdamW hyper-parameters: lr ${this.lr}, betas [${b1}, ${b2}], eps ${this.eps}, weight decay ${this.weightDecay}`);
    }
  }

  /** Steps taken so far for a parameter (0 before its first update). */
  stepOf(name: string): number {
    return this.steps.get(name) ?? 0;
  }

  /** One update of every parameter that has a gradient, in place, at learning rate `lr` (default: the base rate). */
  step(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr = this.lr): void {
    for (const name of grads.keys()) if (!params.has(name)) throw new OptimizerError(`gradient '${name}' has no parameter`);
    const [b1, b2] = this.betas;
    const decay = f32(1 - lr * this.weightDecay);
    const w = f32(1 - b1); // torch.lerp's weight for the first moment
    const wc = f32(1 - w);
    const b2f = f32(b2);
    const oneMinusB2 = f32(1 - b2);
    const eps = f32(this.eps);
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      if (g.length !== p.length) throw new OptimizerError(`gradient '${name}' has ${g.length} values, the parameter has ${p.length}`);
      const t = this.stepOf(name) + 1;
      this.steps.set(name, t);
      this.moments.update(name, p, g, {
        decay,
        w,
        wc,
        b2: b2f,
        oneMinusB2,
        stepSize: f32(-(lr / (1 - b1 ** t))),
        bc2Sqrt: f32(Math.sqrt(1 - b2 ** t)),
        eps,
      });
    }
  }

  /** Optimizer state as tensors (exp_avg.<name>, exp_avg_sq.<name>, step.<name>) for a resumable checkpoint. */
  stateDict(): StateDict {
    return this.state(true);
  }

  /** The state with the moments copied, or (for `save`, which writes them at once) as the live arrays. */
  private state(copy: boolean): StateDict {
    const out: StateDict = new Map();
    for (const name of this.moments.names()) {
      const { m, v } = this.moments.get(name, 0);
      out.set(`exp_avg.${name}`, { dtype: 'float32', shape: [m.length], data: copy ? Float32Array.from(m) : m });
      out.set(`exp_avg_sq.${name}`, { dtype: 'float32', shape: [m.length], data: copy ? Float32Array.from(v) : v });
      out.set(`step.${name}`, { dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(this.stepOf(name))]) });
    }
    return out;
  }

  /** Restore what stateDict() produced (replacing any current state). */
  loadStateDict(state: StateDict, source = 'optimizer state'): void {
    this.moments.clear();
    this.steps.clear();
    for (const [key, t] of state) {
      if (!key.startsWith('exp_avg.')) continue;
      const name = key.slice('exp_avg.'.length);
      const sq = state.get(`exp_avg_sq.${name}`);
      const st = state.get(`step.${name}`);
      if (!sq || !st || t.dtype !== 'float32' || sq.dtype !== 'float32' || st.dtype !== 'int64' || sq.data.length !== t.data.length) {
        throw new OptimizerError(`${source}: incomplete or malformed state for parameter '${name}'`);
      }
      const { m, v } = this.moments.get(name, t.data.length);
      m.set(t.data as Float32Array);
      v.set(sq.data as Float32Array);
      this.steps.set(name, Number((st.data as BigInt64Array)[0]!));
    }
  }

  /** Save the state (and hyper-parameters as metadata) to a .safetensors file, atomically. */
  save(path: string): void {
    // Streamed from the moment arrays themselves: one buffer of the whole file would be a second copy of them.
    writeFileAtomic(path, safetensorsChunks(this.state(false), {
      optimizer: 'AdamW', lr: String(this.lr), betas: JSON.stringify(this.betas), eps: String(this.eps), weight_decay: String(this.weightDecay),
    }));
  }

  /** An optimizer restored from save(); hyper-parameters come from the file unless overridden. */
  static load(path: string, overrides: AdamWOptions = {}): AdamW {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (err) {
      throw new OptimizerError(`${path}: cannot read the optimizer state (${(err as Error).message})`);
    }
    const dict = readSafetensors(bytes, path);
    const len = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    const meta = (JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as { __metadata__?: Record<string, string> }).__metadata__ ?? {};
    if (meta.optimizer !== 'AdamW') throw new OptimizerError(`${path}: not an AdamW state file (metadata optimizer=${JSON.stringify(meta.optimizer)})`);
    const opt = new AdamW({
      lr: Number(meta.lr), betas: JSON.parse(meta.betas ?? '[0.9,0.999]') as [number, number], eps: Number(meta.eps), weightDecay: Number(meta.weight_decay), ...overrides,
    });
    opt.loadStateDict(dict, path);
    return opt;
  }
}

export interface LrSchedule {
  baseLr?: number;
  /** Linear warm-up length in iterations (default 200). */
  warmup?: number;
  /** When given, a polynomial decay to 0 at this many post-warm-up iterations follows the warm-up, as the official scripts do. */
  maxIterations?: number;
  /** Decay exponent (official: 0.9). */
  power?: number;
}

/**
 * Learning rate for 0-based iteration i: base * (i + 1) / warmup during the warm-up, then either the
 * base rate or base * (1 - (i - warmup) / maxIterations)^power (clamped at 0). The official scripts
 * set this rate after each step for the next one (so their very first step runs at the full base
 * rate); here step i uses the warm-up value for i directly.
 */
export function learningRate(i: number, s: LrSchedule = {}): number {
  const base = s.baseLr ?? 5e-4;
  const warmup = s.warmup ?? 200;
  if (i < warmup) return (base * (i + 1)) / warmup;
  if (s.maxIterations === undefined) return base;
  const frac = 1 - (i - warmup) / s.maxIterations;
  return frac <= 0 ? 0 : base * frac ** (s.power ?? 0.9);
}
