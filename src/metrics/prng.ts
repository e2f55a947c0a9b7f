/**
 * mulberry32: a tiny 32-bit-state PRNG (Tommy Ettinger's public-domain construction). Not cryptographic;
 * chosen because it is fast, has a full 2^32 period and is trivially reproducible from a uint32 seed,
 * which is all bootstrap resampling needs. Returns a function yielding floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    return mulberry32Output(a);
  };
}

/** The output of mulberry32 for an (already advanced) state, in [0, 1); shared by resumable generators. */
export function mulberry32Output(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Standard normal deviates from a uniform source (Box–Muller, one value per call). */
export function normalSampler(uniform: () => number): () => number {
  return () => {
    const u1 = 1 - uniform(); // (0, 1]: log stays finite
    const u2 = uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
}
