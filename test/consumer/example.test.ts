/** The example consumer Lambda, configured only by the environment the grant sets, against local parts. */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { CONSUMER_ENV } from '../../functions/consumer/index.js';
import { ORG } from '../support/harness.js';
import { type FakeApi, startFakeApi } from './fake-api.js';
import { type ConsumerFixture, ITEMS_READ_KEY, MINT_ALIAS, startConsumerFixture } from './fixture.js';

let fx: ConsumerFixture;
let warehouse: FakeApi;

beforeAll(async () => {
  fx = await startConsumerFixture();
  warehouse = await startFakeApi();
  vi.stubEnv(CONSUMER_ENV.tableName, fx.harness.config.tableName);
  vi.stubEnv(CONSUMER_ENV.mintFunctionName, MINT_ALIAS);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', fx.harness.dynamo.endpoint);
  vi.stubEnv('AWS_ENDPOINT_URL_LAMBDA', fx.endpoint.url);
  vi.stubEnv('AWS_REGION', 'local');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  vi.stubEnv('ZAIKIO_WAREHOUSE_URL', warehouse.url);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await warehouse.stop();
  await fx.stop();
});

it('calls the warehouse API with the broker’s token and returns no token', async () => {
  warehouse.respond = () => ({ status: 200, body: JSON.stringify([{ id: 'a' }, { id: 'b' }]) });
  // Imported after the environment is set: the module builds its token client at load, as in Lambda.
  const { handler } = await import('../../examples/consumer.js');

  const result = await handler({ organizationId: ORG });
  expect(result).toEqual({ status: 200, items: 2 });
  const item = await fx.fullItem(ITEMS_READ_KEY);
  expect(warehouse.seen).toMatchObject([
    { method: 'GET', path: '/api/v1/items', token: item?.accessToken?.S },
  ]);
  expect(JSON.stringify(result)).not.toContain(item?.accessToken?.S ?? '');

  await expect(handler({ organizationId: 'Not An Id' })).rejects.toMatchObject({
    name: 'InvalidRequestError',
  });
});
