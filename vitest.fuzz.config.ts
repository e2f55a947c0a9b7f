import { defineConfig } from 'vitest/config';

// `npm run fuzz`: the parser fuzz tests with 10,000 seeded cases per parser (npm test runs 300).
export default defineConfig({
  test: {
    include: ['test/fuzz/**/*.test.ts'],
    env: { SAB_FUZZ_RUNS: process.env.SAB_FUZZ_RUNS ?? '10000' },
    testTimeout: 600_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
