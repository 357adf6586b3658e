/** The consumer entry point stays small: only pure core modules, only SDK clients the runtime provides. */
import { describe, expect, it } from 'vitest';
import { measureConsumerBundle } from '../../bench/consumer-bundle-size.js';

const ALLOWED_CORE = [
  'functions/core/env.ts',
  'functions/core/errors.ts',
  'functions/core/lifecycle/serve.ts',
  'functions/core/scopes.ts',
  'functions/core/store/key.ts',
  'functions/core/store/schema.ts',
  'functions/core/token-request.ts',
  'functions/core/token-hash.ts',
  'functions/core/wire-error.ts',
];

describe('the consumer bundle', () => {
  it('imports nothing of the Hub client, credentials, logger or lib-dynamodb, and stays tiny', async () => {
    const measure = await measureConsumerBundle();
    const outside = measure.inputs
      .map(({ path }) => path)
      .filter((path) => !path.startsWith('functions/consumer/') && !ALLOWED_CORE.includes(path));
    expect(outside).toEqual([]);
    // node:crypto hashes a rejected token for a forced refresh; Node.js has it built in.
    expect(measure.externals).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/client-lambda', 'node:crypto']);
    // About 16 KB today (docs/consumer-bundle.md); a limit, not a measurement.
    expect(measure.bytes).toBeLessThan(20_000);
  });
});
