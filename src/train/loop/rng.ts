import { mulberry32Output } from '../../metrics/prng.js';

/**
 * The fine-tuning run's random source: mulberry32 with its 32-bit state exposed, so a checkpoint can
 * store it and a resumed run draws exactly the numbers the uninterrupted run would have drawn.
 */
export class ResumableRandom {
  private a: number;

  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  readonly next = (): number => {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    return mulberry32Output(this.a);
  };

  get state(): number {
    return this.a;
  }

  set state(s: number) {
    this.a = s >>> 0;
  }
}

/** A seed derived from (seed, ...keys) by FNV-1a-style mixing: per-slice streams that do not depend on the run's history. */
export function derivedSeed(seed: number, ...keys: number[]): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const k of [seed, ...keys]) {
    h = Math.imul(h ^ (k >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
  }
  return h;
}
