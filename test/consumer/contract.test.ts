/**
 * The consumer's side of the contract with fake mint functions: the payload it sends, how every
 * documented errorType comes back as its typed class, and how it reads unusual items.
 */
import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type BrokerError,
  createTokenClient,
  DependencyUnavailableError,
  HubUnavailableError,
  InvalidClientError,
  InvalidRequestError,
  RateLimitedError,
  ScopeNotGrantedError,
  type TokenClient,
} from '../../functions/consumer/index.js';
import { toWireError } from '../../functions/core/wire-error.js';
import { type LocalDynamoDB, startLocalDynamoDB } from '../../local/dynamodb.js';
import { type LambdaEndpoint, startLambdaEndpoint } from '../../local/lambda-endpoint.js';
import { ORG } from '../support/harness.js';
import { ITEMS_READ, ITEMS_READ_KEY, LOCAL } from './fixture.js';

const NOW = 1_800_000_000_000;
const MINT = 'fake-mint';

let dynamo: LocalDynamoDB;
let endpoint: LambdaEndpoint;
let tableName: string;
const clients: Array<{ destroy(): void }> = [];
/** What the fake mint function received, and what it does next. */
let received: unknown[] = [];
let behave: (event: unknown) => Promise<unknown>;

const minted = (accessToken = 'minted-token') => ({
  accessToken,
  tokenType: 'Bearer',
  expiresAt: new Date(NOW + 600_000).toISOString(),
  scopes: ['warehouse.items.r'],
  bearer: { type: 'Organization', id: ORG },
});

beforeAll(async () => {
  dynamo = await startLocalDynamoDB();
  endpoint = await startLambdaEndpoint({
    functions: {
      [MINT]: async (event) => {
        received.push(event);
        return behave(event);
      },
    },
  });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await endpoint.stop();
  await dynamo.stop();
});

beforeEach(async () => {
  tableName = `tokens-${randomUUID()}`;
  await dynamo.createTokensTable(tableName);
  received = [];
  behave = async () => minted();
});

function consumer(overrides: Parameters<typeof createTokenClient>[0] = {}): TokenClient {
  const dynamodb = new DynamoDBClient({ endpoint: dynamo.endpoint, ...LOCAL });
  const lambda = new LambdaClient({ endpoint: endpoint.url, ...LOCAL, maxAttempts: 1 });
  clients.push(dynamodb, lambda);
  return createTokenClient({
    tableName,
    mintFunctionName: MINT,
    dynamodb,
    lambda,
    clock: () => NOW,
    env: {},
    ...overrides,
  });
}

async function fullItem(): Promise<Record<string, AttributeValue> | undefined> {
  const dynamodb = dynamo.client();
  try {
    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: ITEMS_READ_KEY.pk }, sk: { S: ITEMS_READ_KEY.sk } },
        ConsistentRead: true,
      }),
    );
    return Item;
  } finally {
    dynamodb.destroy();
  }
}

async function putItem(attributes: Record<string, AttributeValue>): Promise<void> {
  const dynamodb = dynamo.client();
  try {
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: ITEMS_READ_KEY.pk }, sk: { S: ITEMS_READ_KEY.sk }, ...attributes },
      }),
    );
  } finally {
    dynamodb.destroy();
  }
}

const goodItem = (overrides: Record<string, AttributeValue> = {}): Record<string, AttributeValue> => ({
  accessToken: { S: 'stored-token' },
  tokenType: { S: 'Bearer' },
  grantedScopes: { L: [{ S: 'warehouse.items.r' }] },
  expiresAt: { N: String(NOW + 300_000) },
  // Issued 4 minutes ago, expires in 5: its check point (half its life) is 30 s ahead.
  issuedAt: { N: String(NOW - 240_000) },
  version: { N: '3' },
  status: { S: 'active' },
  lastRequestedAt: { N: String(NOW - 60_000) },
  refreshToken: { S: 'stored-refresh-token' },
  ...overrides,
});

async function failure(promise: Promise<unknown>): Promise<BrokerError> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: BrokerError) => error,
  );
}

describe('the mint request', () => {
  it('sends the normalized organizationId form with the minimum validity and the default client', async () => {
    const token = await consumer().getAccessToken({ scope: `Org/${ORG}.warehouse.items.r` });
    expect(token).toEqual({
      accessToken: 'minted-token',
      tokenType: 'Bearer',
      expiresAt: NOW + 600_000,
      scopes: ['warehouse.items.r'],
      source: 'mint',
    });
    expect(received).toEqual([
      { organizationId: ORG, scopes: ['warehouse.items.r'], client: 'default', minValiditySeconds: 60 },
    ]);
  });

  it('sends personId, client, the caller’s minimum and forceRefresh when given', async () => {
    const person = '0a2d9c64-56f3-4c2a-9a0b-6b1a4e8f1c11';
    const request = {
      personId: person,
      scopes: ['zaikio.person.r', 'warehouse.items.r', 'zaikio.person.r'],
      client: 'other-app',
      minValiditySeconds: 120,
    };
    await consumer({ minValiditySeconds: 30 }).forceRefresh(request);
    expect(received).toEqual([
      {
        personId: person,
        scopes: ['warehouse.items.r', 'zaikio.person.r'],
        client: 'other-app',
        minValiditySeconds: 120,
        forceRefresh: true,
      },
    ]);
  });
});

describe('mint errors become the typed error classes', () => {
  const throwing = (error: BrokerError) => async () => {
    throw toWireError(error);
  };

  it('ScopeNotGrantedError, with its code and details', async () => {
    behave = throwing(
      new ScopeNotGrantedError('partial_grant', 'the Hub granted only some scopes', {
        hubCodes: ['ungranted_scope'],
        missingScopes: [`Org/${ORG}.warehouse.items.w`],
      }),
    );
    const error = await failure(consumer().getAccessToken(ITEMS_READ));
    expect(error).toBeInstanceOf(ScopeNotGrantedError);
    expect(error).toMatchObject({
      code: 'partial_grant',
      message: 'the Hub granted only some scopes',
      details: { hubCodes: ['ungranted_scope'], missingScopes: [`Org/${ORG}.warehouse.items.w`] },
      transient: false,
    });
  });

  it('RateLimitedError, with retryAt', async () => {
    const retryAt = new Date(NOW + 30_000);
    behave = throwing(new RateLimitedError('the Hub asks us to slow down', retryAt));
    const error = await failure(consumer().getAccessToken(ITEMS_READ));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAt).toEqual(retryAt);
    expect(error.transient).toBe(true);
  });

  it('InvalidClientError, InvalidRequestError, HubUnavailableError and DependencyUnavailableError with their codes', async () => {
    const cases: Array<[BrokerError, new (...args: never[]) => BrokerError]> = [
      [new InvalidClientError('secret_unavailable', 'no secret'), InvalidClientError],
      [new InvalidRequestError('malformed_scope', 'bad scope'), InvalidRequestError],
      [new HubUnavailableError('lease_wait_timeout', 'try again'), HubUnavailableError],
      [
        new DependencyUnavailableError('secrets_unavailable', 'Secrets Manager is throttling'),
        DependencyUnavailableError,
      ],
      [
        new DependencyUnavailableError('store_unavailable', 'DynamoDB is throttling'),
        DependencyUnavailableError,
      ],
    ];
    for (const [thrown, type] of cases) {
      behave = throwing(thrown);
      const error = await failure(consumer().getAccessToken(ITEMS_READ));
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject({ code: thrown.code, message: thrown.message });
    }
  });

  it('a runtime failure is a DependencyUnavailableError that does not repeat the runtime’s message', async () => {
    behave = async () => {
      throw new TypeError('something internal with a value in it');
    };
    const error = await failure(consumer().getAccessToken(ITEMS_READ));
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(error.code).toBe('mint_unavailable');
    expect(error.message).toContain('TypeError');
    expect(error.message).not.toContain('value in it');
  });

  it('an answer that is not a token is a HubUnavailableError that does not quote it', async () => {
    const answers = [
      { ...minted('quoted-token'), expiresAt: 'soon' },
      { ...minted('quoted-token'), tokenType: 'mac' },
      { ...minted(), accessToken: 42 },
      'quoted-token',
      null,
    ];
    for (const answer of answers) {
      behave = async () => answer;
      const error = await failure(consumer().getAccessToken(ITEMS_READ));
      expect(error).toBeInstanceOf(HubUnavailableError);
      expect(error.code).toBe('hub_invalid_response');
      expect(error.message).not.toContain('quoted-token');
    }
  });

  it('a mint function that does not exist is an InvalidRequestError naming the variable', async () => {
    const error = await failure(
      consumer({ mintFunctionName: 'no-such-function' }).getAccessToken(ITEMS_READ),
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toContain('MINT_FUNCTION_NAME');
  });

  it('an unreachable Lambda endpoint is a transient DependencyUnavailableError', async () => {
    const lambda = new LambdaClient({ endpoint: 'http://127.0.0.1:9', ...LOCAL, maxAttempts: 1 });
    clients.push(lambda);
    const error = await failure(consumer({ lambda }).getAccessToken(ITEMS_READ));
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(error).toMatchObject({ code: 'mint_unavailable', transient: true });
  });
});

describe('reading the item', () => {
  it('serves a good item from the table and projects no secret', async () => {
    await putItem(goodItem());
    const token = await consumer().getAccessToken(ITEMS_READ);
    expect(token).toEqual({
      accessToken: 'stored-token',
      tokenType: 'Bearer',
      expiresAt: NOW + 300_000,
      scopes: ['warehouse.items.r'],
      source: 'table',
    });
    expect(received).toEqual([]);
  });

  it('accepts grantedScopes as a string set', async () => {
    await putItem(goodItem({ grantedScopes: { SS: ['warehouse.items.r'] } }));
    expect((await consumer().getAccessToken(ITEMS_READ)).scopes).toEqual(['warehouse.items.r']);
  });

  it.each([
    ['no token yet (a lease-only item)', { accessToken: { NULL: true } }],
    ['status revoked', { status: { S: 'revoked' } }],
    ['a status this client does not know', { status: { S: 'paused' } }],
    ['expiring within the minimum validity', { expiresAt: { N: String(NOW + 59_999) } }],
  ])('goes to the mint function for %s', async (_, overrides) => {
    await putItem(goodItem(overrides));
    expect(await consumer().getAccessToken(ITEMS_READ)).toMatchObject({
      accessToken: 'minted-token',
      source: 'mint',
    });
    expect(received).toHaveLength(1);
  });

  it('serves a token exactly at the minimum validity; the deprecated usageRecordIntervalMs changes nothing', async () => {
    await putItem(goodItem({ expiresAt: { N: String(NOW + 60_000) } }));
    expect((await consumer().getAccessToken(ITEMS_READ)).source).toBe('table');
    const old = consumer({ usageRecordIntervalMs: 30_000 });
    expect((await old.getAccessToken(ITEMS_READ)).source).toBe('table');
    expect(received).toEqual([]);
  });

  it('past the check point serves the item and reports the use: an asynchronous Invoke with the request, nothing written', async () => {
    // Never recorded, or recorded before the check point: both are news. After it: no report.
    const { lastRequestedAt: _, ...neverUsed } = goodItem({ issuedAt: { N: String(NOW - 300_000) } });
    const usedEarlier = goodItem({ issuedAt: { N: String(NOW - 300_000) } });
    const reported = goodItem({
      issuedAt: { N: String(NOW - 300_000) },
      lastRequestedAt: { N: String(NOW) },
    });
    for (const [item, reports] of [
      [neverUsed, 1],
      [usedEarlier, 1],
      [reported, 0],
    ] as const) {
      await putItem(item);
      received = [];
      const invocations: Record<string, unknown>[] = [];
      const lambda = new LambdaClient({ endpoint: endpoint.url, ...LOCAL, maxAttempts: 1 });
      clients.push(lambda);
      lambda.middlewareStack.add(
        (next) => async (args) => {
          invocations.push(args.input as Record<string, unknown>);
          return next(args);
        },
        { step: 'initialize', name: 'recordInvocations' },
      );
      const client = consumer({ lambda });
      expect(await client.getAccessToken(ITEMS_READ)).toMatchObject({
        accessToken: 'stored-token',
        source: 'table',
      });
      await client.flush();
      await expect.poll(() => received.length).toBe(reports);
      expect(invocations.map(({ InvocationType }) => InvocationType)).toEqual(Array(reports).fill('Event'));
      if (reports === 1) {
        expect(received).toEqual([
          {
            organizationId: ORG,
            scopes: ['warehouse.items.r'],
            client: 'default',
            minValiditySeconds: 60,
            useReport: true,
          },
        ]);
      }
      // Nothing written: the item is as it was put.
      expect(await fullItem()).toEqual({
        pk: { S: ITEMS_READ_KEY.pk },
        sk: { S: ITEMS_READ_KEY.sk },
        ...item,
      });
    }
  });

  it.each([
    ['an expiry that is no number', { expiresAt: { S: 'tomorrow' } }],
    ['a token without issuedAt', { issuedAt: { NULL: true } }],
  ])(
    'a corrupt item (%s) is a HubUnavailableError corrupt_item that names the key, not the token',
    async (_, overrides) => {
      await putItem(goodItem(overrides));
      const error = await failure(consumer().getAccessToken(ITEMS_READ));
      expect(error).toBeInstanceOf(HubUnavailableError);
      expect(error.code).toBe('corrupt_item');
      expect(error.message).toContain(ITEMS_READ_KEY.pk);
      expect(error.message).not.toContain('stored-token');
    },
  );

  it('a missing table is an InvalidRequestError naming the variable', async () => {
    const error = await failure(consumer({ tableName: 'no-such-table' }).getAccessToken(ITEMS_READ));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toContain('TOKENS_TABLE_NAME');
  });

  it('an unreachable table is a transient DependencyUnavailableError store_unavailable', async () => {
    const dynamodb = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', ...LOCAL, maxAttempts: 1 });
    clients.push(dynamodb);
    const error = await failure(consumer({ dynamodb }).getAccessToken(ITEMS_READ));
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(error).toMatchObject({ code: 'store_unavailable', transient: true });
  });
});
