/**
 * The consumer client against real parts: dynalite and the Hub simulator (test/support/harness.ts),
 * the real mint handler served by the local Lambda endpoint, and real SDK clients on loopback.
 * Every consumer's GetItem and Invoke calls are counted by a middleware on its clients' stacks.
 *
 * A test file starts one fixture (beforeAll) and calls `reset()` before each test: the servers and
 * the table are shared, and each test gets an organization of its own (so its own keys, and a
 * revocation or a refusal stays with it), a new mint container, and counts from zero.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { AccessTokenRequest, TokenClient, TokenClientOptions } from '../../functions/consumer/index.js';
import { createTokenClient } from '../../functions/consumer/index.js';
import type { Broker } from '../../functions/core/broker.js';
import { parseScopeString } from '../../functions/core/scopes.js';
import { type TokenKey, tokenKey } from '../../functions/core/store/key.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import { DEFAULT_TOKEN_LIFETIME_SECONDS } from '../../local/hub-simulator/config.js';
import { type LambdaEndpoint, startLambdaEndpoint } from '../../local/lambda-endpoint.js';
import { type Harness, type HarnessOptions, ORG, startHarness, TEST_CONSUMER } from '../support/harness.js';

export const MINT_FUNCTION = 'zaikio-token-mint';
/** What a granted consumer invokes: the mint function's alias for it. */
export const MINT_ALIAS = `${MINT_FUNCTION}:${TEST_CONSUMER}`;
export const LOCAL = { region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
/** What the harness grants ORG, and `reset()` each test's organization. */
const GRANTED_SCOPES = ['warehouse.items.rw', 'zaikio.organization.r'];
const itemsRead = (organizationId: string): AccessTokenRequest => ({
  organizationId,
  scopes: ['warehouse.items.r'],
});
const itemsReadKey = (organizationId: string): TokenKey =>
  tokenKey('default', parseScopeString(`Org/${organizationId}.warehouse.items.r`));
/** The harness's organization ORG, which a fixture serves until its first `reset()`. */
export const ITEMS_READ: AccessTokenRequest = itemsRead(ORG);
export const ITEMS_READ_KEY: TokenKey = itemsReadKey(ORG);

/** A clock every part shares (Hub simulator, mint function, consumers), moved by the test. */
export interface ManualClock {
  readonly now: () => number;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

export interface RecordedGetItem {
  readonly projection: string | undefined;
  readonly names: Readonly<Record<string, string>> | undefined;
  readonly item: Readonly<Record<string, AttributeValue>> | undefined;
}

export interface CallLog {
  getItem: number;
  invoke: number;
  /** Every command name any consumer sent, in order. */
  readonly commands: string[];
  readonly getItems: RecordedGetItem[];
}

export interface ConsumerFixture {
  readonly harness: Harness;
  readonly endpoint: LambdaEndpoint;
  readonly clock: ManualClock;
  readonly calls: CallLog;
  /** This test's organization: granted the harness's scopes by `reset()`. */
  readonly org: string;
  /** An organization nobody granted anything, new with each `reset()`. */
  readonly otherOrg: string;
  /** `warehouse.items.r` of `org`, and its key. */
  readonly itemsRead: AccessTokenRequest;
  readonly itemsReadKey: TokenKey;
  /** A new consumer "container": its own SDK clients (counted) and an empty memory. */
  consumer(overrides?: Partial<TokenClientOptions>): TokenClient;
  /** The whole stored item, as only the broker may read it; by default `itemsReadKey`'s. */
  fullItem(key?: TokenKey): Promise<Record<string, AttributeValue> | undefined>;
  /** Invocations of the mint function (the endpoint's only function) since the last `reset()`. */
  mintInvocations(): number;
  resetCalls(): void;
  /**
   * Before each test: a new organization (granted), a new mint container, no Hub faults, the Hub's
   * token lifetime back to its start, and every count at zero. The clock keeps running forward.
   */
  reset(): void;
  stop(): Promise<void>;
}

export interface ConsumerFixtureOptions {
  readonly harness?: HarnessOptions;
  /** The mint function's logger. @default silent */
  readonly logger?: Logger;
  /** The Lambda endpoint's log. @default none */
  readonly log?: (line: string) => void;
}

export async function startConsumerFixture(options: ConsumerFixtureOptions = {}): Promise<ConsumerFixture> {
  const clock = manualClock();
  const harness = await startHarness({
    ...options.harness,
    hub: { clock: clock.now, ...options.harness?.hub },
  });
  const tokenLifetimeSeconds = options.harness?.hub?.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
  // One mint container, built on its first invocation like the real handler's broker. Its waits (the
  // Hub client's backoff between retries) move the shared clock instead of taking real time.
  let broker: Broker | undefined;
  const mint = createMintHandler(
    () => {
      broker ??= harness.broker({
        clock: clock.now,
        sleep: async (ms) => {
          clock.advance(ms);
        },
      });
      return broker;
    },
    options.logger ?? new Logger({ logLevel: 'SILENT' }),
  );
  const endpoint = await startLambdaEndpoint({
    functions: { [MINT_FUNCTION]: mint },
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  const calls: CallLog = { getItem: 0, invoke: 0, commands: [], getItems: [] };
  const clients: Array<{ destroy(): void }> = [];
  let org = ORG;
  let otherOrg = randomUUID();
  let invokedBefore = 0;

  const counted = () => {
    const dynamodb = new DynamoDBClient({ endpoint: harness.dynamo.endpoint, ...LOCAL });
    dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        calls.commands.push(context.commandName ?? 'unknown');
        if (context.commandName === 'GetItemCommand') calls.getItem += 1;
        const result = await next(args);
        const { input } = args;
        const { output } = result;
        if (context.commandName === 'GetItemCommand') {
          calls.getItems.push({
            projection: 'ProjectionExpression' in input ? input.ProjectionExpression : undefined,
            names: 'ExpressionAttributeNames' in input ? input.ExpressionAttributeNames : undefined,
            item: 'Item' in output ? output.Item : undefined,
          });
        }
        return result;
      },
      { step: 'initialize', name: 'countCalls' },
    );
    const lambda = new LambdaClient({ endpoint: endpoint.url, ...LOCAL, maxAttempts: 1 });
    lambda.middlewareStack.add(
      (next, context) => async (args) => {
        calls.commands.push(context.commandName ?? 'unknown');
        if (context.commandName === 'InvokeCommand') calls.invoke += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    clients.push(dynamodb, lambda);
    return { dynamodb, lambda };
  };

  const resetCalls = () => {
    calls.getItem = 0;
    calls.invoke = 0;
    calls.commands.length = 0;
    calls.getItems.length = 0;
  };

  return {
    harness,
    endpoint,
    clock,
    calls,
    get org() {
      return org;
    },
    get otherOrg() {
      return otherOrg;
    },
    get itemsRead() {
      return itemsRead(org);
    },
    get itemsReadKey() {
      return itemsReadKey(org);
    },
    consumer(overrides = {}) {
      return createTokenClient({
        tableName: harness.config.tableName,
        mintFunctionName: MINT_ALIAS,
        clock: clock.now,
        env: {},
        ...counted(),
        ...overrides,
      });
    },
    async fullItem(key = itemsReadKey(org)) {
      const dynamodb = harness.dynamo.client();
      try {
        const { Item } = await dynamodb.send(
          new GetItemCommand({
            TableName: harness.config.tableName,
            Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          }),
        );
        return Item;
      } finally {
        dynamodb.destroy();
      }
    },
    mintInvocations() {
      return endpoint.invocations(MINT_FUNCTION) - invokedBefore;
    },
    resetCalls,
    reset() {
      // The last test's consumer containers are done: their sockets need not stay open.
      for (const client of clients.splice(0)) client.destroy();
      org = randomUUID();
      otherOrg = randomUUID();
      harness.hub.grant({ bearer: `Org/${org}`, scopes: GRANTED_SCOPES });
      broker = undefined;
      harness.hub.clearFaults();
      harness.hub.setTokenLifetime(tokenLifetimeSeconds);
      harness.hub.resetCounts();
      resetCalls();
      invokedBefore = endpoint.invocations(MINT_FUNCTION);
    },
    async stop() {
      for (const client of clients) client.destroy();
      await endpoint.stop();
      await harness.stop();
    },
  };
}
