/**
 * Configuration by environment alone, as the CDK grant sets it, against local endpoints: the SDK
 * itself picks up AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_LAMBDA.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CONSUMER_ENV,
  createTokenClient,
  defaultTokenClient,
  getAccessToken,
  InvalidRequestError,
} from '../../functions/consumer/index.js';
import { type ConsumerFixture, MINT_ALIAS, startConsumerFixture } from './fixture.js';

let fx: ConsumerFixture;

beforeAll(async () => {
  fx = await startConsumerFixture();
});

afterAll(async () => {
  stubLocalEnvironment(); // so the shared client exists, whatever the tests did
  defaultTokenClient().destroy();
  vi.unstubAllEnvs();
  await fx.stop();
});

beforeEach(() => {
  fx.reset();
});

afterEach(() => {
  vi.unstubAllEnvs();
});

function stubLocalEnvironment(): void {
  vi.stubEnv(CONSUMER_ENV.tableName, fx.harness.config.tableName);
  vi.stubEnv(CONSUMER_ENV.mintFunctionName, MINT_ALIAS);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', fx.harness.dynamo.endpoint);
  vi.stubEnv('AWS_ENDPOINT_URL_LAMBDA', fx.endpoint.url);
  vi.stubEnv('AWS_REGION', 'local');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
}

describe('configuration from the environment', () => {
  it('works against dynalite and the local Lambda endpoint with no options at all', async () => {
    stubLocalEnvironment();
    const minted = await getAccessToken(fx.itemsRead);
    expect(minted.source).toBe('mint');
    expect(fx.mintInvocations()).toBe(1);

    // A second container, also configured by the environment only, reads the table.
    const client = createTokenClient();
    try {
      expect(await client.getAccessToken(fx.itemsRead)).toMatchObject({
        accessToken: minted.accessToken,
        source: 'table',
      });
    } finally {
      client.destroy();
    }
    expect(await getAccessToken(fx.itemsRead)).toMatchObject({ source: 'memory' });
  });

  it('names a missing variable', () => {
    expect(() => createTokenClient({ env: { [CONSUMER_ENV.mintFunctionName]: 'mint' } })).toThrow(
      /TOKENS_TABLE_NAME/,
    );
    expect(() => createTokenClient({ env: { [CONSUMER_ENV.tableName]: 'tokens' } })).toThrow(
      InvalidRequestError,
    );
    expect(() => createTokenClient({ env: { [CONSUMER_ENV.tableName]: 'tokens' } })).toThrow(
      /MINT_FUNCTION_NAME/,
    );
  });

  it('options override the environment', () => {
    const env = { [CONSUMER_ENV.tableName]: '', [CONSUMER_ENV.mintFunctionName]: '' };
    expect(() => createTokenClient({ env, tableName: 't', mintFunctionName: 'm' }).destroy()).not.toThrow();
  });

  it('rejects a minimum validity the mint function would reject', () => {
    const env = { [CONSUMER_ENV.tableName]: 't', [CONSUMER_ENV.mintFunctionName]: 'm' };
    expect(() => createTokenClient({ env, minValiditySeconds: 1.5 })).toThrow(InvalidRequestError);
    expect(() => createTokenClient({ env, minValiditySeconds: -1 })).toThrow(InvalidRequestError);
  });
});
