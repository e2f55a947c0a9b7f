import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources; CLI end-to-end tests run the built dist/ (npm test builds first).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: CI has 2 cores shared by 2 test workers, and some tests run the model over whole volumes.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
