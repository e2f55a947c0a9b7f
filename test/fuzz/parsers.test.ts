import { describe, it } from 'vitest';
import { fuzz } from './invariant.js';
import { TARGETS } from './targets.js';

// npm test: a seeded few hundred cases per parser; `npm run fuzz` (vitest.fuzz.config.ts) sets SAB_FUZZ_RUNS=10000.
const RUNS = Number(process.env.SAB_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.SAB_FUZZ_SEED ?? 16);
const STATS = Boolean(process.env.SAB_FUZZ_STATS);

describe(`parsers on damaged input (fast-check, ${RUNS} cases each, seed ${SEED})`, () => {
  for (const target of TARGETS) it(target.name, () => fuzz(target, RUNS, SEED, STATS));
});
