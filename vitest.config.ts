import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The package's own names, as examples/ import them (tsconfig.json "paths" says the same to tsc).
    alias: [
      {
        find: /^zaikio-token-broker\/consumer$/,
        replacement: path.resolve(import.meta.dirname, 'functions/consumer/index.ts'),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-package.ts'],
    // CDK synthesis and dynalite start-up are slow on a 2-core machine; these are limits, not measurements.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
