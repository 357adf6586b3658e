/** The mint handler's own edge: a broker that cannot be built is the broker's failure, typed as such. */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../functions/core/errors.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import { silentLogger } from '../support/logs.js';

describe('the mint handler', () => {
  it('answers a broken configuration with DependencyUnavailableError, never as the caller’s fault', async () => {
    const handler = createMintHandler(() => {
      throw new InvalidRequestError('invalid_request', 'environment variable TOKENS_TABLE_NAME is not set');
    }, silentLogger());
    const failure = await handler({
      scope: 'Org/b1475f65-236c-58b8-96e1-e1778b43beb7.warehouse.items.r',
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.name).toBe('DependencyUnavailableError');
    expect(failure?.message).toMatch(
      /configuration is broken.*\[code=dependency_unavailable details=\{\}\]$/,
    );
  });
});
