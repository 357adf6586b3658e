/**
 * Two consumers with different grants against the local runtime's parts: dynalite, the Hub
 * simulator, the real mint handler behind the local Lambda endpoint, the grants of
 * local/consumers.json, and the consumer client. Each consumer invokes its own alias (`mint:<name>`)
 * as it would in AWS; the mint knows it by the ARN the endpoint reports, never by the payload.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessDeniedError, createTokenClient } from '../../functions/consumer/index.js';
import type { Broker } from '../../functions/core/broker.js';
import { createLogger } from '../../functions/core/logger.js';
import { tokenSha256 } from '../../functions/core/token-hash.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import { localGrants, readConsumers } from '../../local/consumers.js';
import { type LambdaEndpoint, startLambdaEndpoint } from '../../local/lambda-endpoint.js';
import { type Harness, startHarness } from '../support/harness.js';
import { captureOutput } from '../support/logs.js';

/** The two consumers of local/consumers.json and the organizations they are granted. */
const WAREHOUSE_ORG = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const ORDERS_ORG = '0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87';
const LOCAL = { region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

describe('tenant isolation at the mint', () => {
  let harness: Harness;
  let endpoint: LambdaEndpoint;
  let lambda: LambdaClient;
  let broker: Broker;
  const log: string[] = [];

  beforeAll(async () => {
    harness = await startHarness({
      hub: {
        apps: [{ clientId: 'broker-test-client', clientSecret: 'test-client-secret-3f9c1b7e' }],
        grants: [
          { bearer: `Org/${WAREHOUSE_ORG}`, scopes: ['warehouse.items.rw', 'zaikio.organization.r'] },
          { bearer: `Org/${ORDERS_ORG}`, scopes: ['warehouse.items.rw', 'zaikio.organization.r'] },
        ],
      },
    });
    const grants = localGrants(readConsumers('local/consumers.json'), 'default');
    broker = harness.broker({ config: { ...harness.config, grants } });
    const logger = createLogger();
    const mint = createMintHandler(() => broker, {
      info: (message: string, attributes: object) => log.push(JSON.stringify({ message, ...attributes })),
      warn: (message: string, attributes: object) => log.push(JSON.stringify({ message, ...attributes })),
      error: logger.error.bind(logger),
    } as never);
    endpoint = await startLambdaEndpoint({ functions: { mint } });
    lambda = new LambdaClient({ endpoint: endpoint.url, ...LOCAL, maxAttempts: 1 });
  });
  afterAll(async () => {
    lambda.destroy();
    await endpoint.stop();
    await harness.stop();
  });
  beforeEach(() => {
    harness.hub.resetCounts();
  });

  const consumer = (name: string) =>
    createTokenClient({
      tableName: harness.config.tableName,
      mintFunctionName: `mint:${name}`,
      env: {},
      dynamodb: harness.dynamo.client(),
      lambda,
    });

  const items = async (): Promise<number> => {
    const client = harness.dynamo.client();
    try {
      const { Count } = await client.send(
        new ScanCommand({ TableName: harness.config.tableName, Select: 'COUNT' }),
      );
      return Count ?? 0;
    } finally {
      client.destroy();
    }
  };

  const invoke = async (functionName: string, payload: unknown, qualifier?: string) => {
    const { FunctionError, Payload } = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        ...(qualifier === undefined ? {} : { Qualifier: qualifier }),
        Payload: JSON.stringify(payload),
      }),
    );
    return { functionError: FunctionError, body: JSON.parse(Buffer.from(Payload ?? []).toString('utf8')) };
  };

  it('serves each consumer the tokens of its own grant', async () => {
    const warehouse = await consumer('warehouse').getAccessToken({
      organizationId: WAREHOUSE_ORG,
      scopes: ['warehouse.items.rw'],
    });
    const orders = await consumer('orders').getAccessToken({
      organizationId: ORDERS_ORG,
      scopes: ['warehouse.items.r'],
    });
    expect(warehouse.source).toBe('mint');
    expect(orders.source).toBe('mint');
    expect(warehouse.accessToken).not.toBe(orders.accessToken);
    // The Qualifier parameter, as the SDKs send it, names the alias as well as `mint:<alias>` does.
    const viaQualifier = await invoke(
      'mint',
      { organizationId: ORDERS_ORG, scopes: ['warehouse.items.r'] },
      'orders',
    );
    expect(viaQualifier.functionError).toBeUndefined();
    expect(viaQualifier.body.accessToken).toBe(orders.accessToken);
  });

  // Locally only the mint path is checked: in AWS, IAM also keeps each consumer's reads to its bearers.
  it('refuses the other consumer’s organization, an ungranted scope and an unidentified call, writing nothing', async () => {
    const before = await items();
    const refusals = [
      consumer('orders').getAccessToken({ organizationId: WAREHOUSE_ORG, scopes: ['warehouse.items.r'] }),
      consumer('warehouse').getAccessToken({ organizationId: ORDERS_ORG, scopes: ['zaikio.organization.r'] }),
      // Granted the organization, not the scope (orders has warehouse.items.r only).
      consumer('orders').getAccessToken({ organizationId: ORDERS_ORG, scopes: ['warehouse.items.rw'] }),
      consumer('orders').getAccessToken({ organizationId: ORDERS_ORG, scopes: ['zaikio.organization.r'] }),
      // No alias: the caller names no grant, whatever its payload says.
      createTokenClient({
        tableName: harness.config.tableName,
        mintFunctionName: 'mint',
        env: {},
        dynamodb: harness.dynamo.client(),
        lambda,
      }).getAccessToken({ organizationId: WAREHOUSE_ORG, scopes: ['warehouse.items.w'] }),
      // An alias no grant names.
      consumer('intruder').getAccessToken({ organizationId: WAREHOUSE_ORG, scopes: ['warehouse.items.w'] }),
    ];
    const errors = await Promise.all(refusals.map((refusal) => refusal.catch((error: unknown) => error)));
    expect(errors.map((error) => (error as AccessDeniedError).code)).toEqual([
      'bearer_not_allowed',
      'bearer_not_allowed',
      'scope_not_allowed',
      'scope_not_allowed',
      'unidentified_caller',
      'access_denied',
    ]);
    for (const error of errors) expect(error).toBeInstanceOf(AccessDeniedError);
    expect((errors[0] as AccessDeniedError).details).toEqual({
      consumer: 'orders',
      refused: [`Org/${WAREHOUSE_ORG}`],
    });
    expect((errors[2] as AccessDeniedError).details.refused).toEqual(['warehouse.items.rw']);
    expect(await items()).toBe(before);
    expect(harness.hub.count()).toBe(0);
  });

  it('answers 20 forced refreshes that name the same rejected token with one Hub request', async () => {
    const request = { organizationId: WAREHOUSE_ORG, scopes: ['zaikio.organization.r'] } as const;
    const first = await consumer('warehouse').getAccessToken(request);
    harness.hub.resetCounts();
    const forced = [];
    // Twenty containers, each with the rejected token and an empty memory, one after another.
    for (let i = 0; i < 20; i += 1) {
      forced.push(await consumer('warehouse').forceRefresh(request, { rejectedToken: first.accessToken }));
    }
    expect(harness.hub.count()).toBe(1);
    expect(new Set(forced.map((token) => token.accessToken)).size).toBe(1);
    expect(forced[0]?.accessToken).not.toBe(first.accessToken);
    // The wire form any language sends: the rejected token's SHA-256.
    const named = { ...request, forceRefresh: { accessTokenSha256: tokenSha256(first.accessToken) } };
    for (let i = 0; i < 20; i += 1)
      expect((await invoke('mint:warehouse', named)).body.accessToken).toBe(forced[0]?.accessToken);
    expect(harness.hub.count()).toBe(1);
  });

  it('logs one audit line per mint with the consumer, the key and the outcome, never a token', async () => {
    log.length = 0;
    let token = '';
    const output = await captureOutput(async () => {
      token = (
        await consumer('orders')
          .getAccessToken({ organizationId: ORDERS_ORG, scopes: ['zaikio.organization.r'] })
          .catch(() => ({ accessToken: '' }))
      ).accessToken;
      await invoke('mint', { organizationId: ORDERS_ORG, scopes: ['warehouse.items.r'] });
    });
    const lines = log.map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({
        consumer: 'orders',
        key: `Org/${ORDERS_ORG} default#zaikio.organization.r`,
        outcome: 'denied',
        code: 'scope_not_allowed',
      }),
      expect.objectContaining({ outcome: 'denied', code: 'unidentified_caller' }),
    ]);
    // Through the mint function (a forced refresh), so that it logs the line this test reads.
    const minted = await consumer('orders').forceRefresh({
      organizationId: ORDERS_ORG,
      scopes: ['warehouse.items.r'],
    });
    expect(JSON.parse(log.at(-1) ?? '{}')).toMatchObject({ consumer: 'orders', outcome: expect.any(String) });
    for (const secret of [minted.accessToken, token].filter(Boolean)) {
      expect(log.join('\n')).not.toContain(secret);
      expect(output).not.toContain(secret);
    }
  });
});

describe('the ceiling on new keys', () => {
  it('refuses a consumer’s new keys past its newKeysPerHour, while its stored keys are still served', async () => {
    const harness = await startHarness();
    try {
      const grants = {
        capped: { bearers: '*', scopes: ['*'], clients: ['default'], newKeysPerHour: 2 },
      } as const;
      let now = Date.parse('2026-11-28T12:10:00Z');
      const broker = harness.broker({ config: { ...harness.config, grants }, clock: () => now });
      const mint = createMintHandler(() => broker, { debug() {}, info() {}, warn() {}, error() {} } as never);
      const context = { invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:mint:capped' };
      const ask = (scopes: string[]) =>
        mint({ organizationId: 'b1475f65-236c-58b8-96e1-e1778b43beb7', scopes }, context);
      await ask(['warehouse.items.r']);
      await ask(['zaikio.organization.r']);
      await expect(ask(['warehouse.items.w'])).rejects.toMatchObject({
        name: 'AccessDeniedError',
        message: expect.stringContaining(
          '[code=new_key_limit details={"consumer":"capped","retryAt":"2026-11-28T13:00:00.000Z"}]',
        ),
      });
      await expect(ask(['warehouse.items.r'])).resolves.toMatchObject({ tokenType: 'Bearer' });
      now += 3_600_000;
      await expect(ask(['warehouse.items.w'])).resolves.toMatchObject({ tokenType: 'Bearer' });
    } finally {
      await harness.stop();
    }
  });
});
