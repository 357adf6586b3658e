import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CDK synthesis and dynalite start-up are slow on a 2-core machine; these are limits, not measurements.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
