/**
 * Real parts for integration tests: dynalite with the tokens table, the Hub simulator on loopback,
 * and Secrets Manager mocked at the SDK (it has no local implementation). Each `broker()` call
 * builds an independent broker with its own SDK clients, as a separate Lambda container would.
 */
import { randomUUID } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { type Broker, type BrokerDependencies, createBroker } from '../../functions/core/broker.js';
import type { BrokerConfig } from '../../functions/core/config.js';
import { useWrite } from '../../functions/core/lifecycle/write.js';
import { type BrokerSettings, resolveSettings } from '../../functions/core/settings.js';
import type { TokenKey } from '../../functions/core/store/key.js';
import { TokenStore } from '../../functions/core/store/token-store.js';
import { type LocalDynamoDB, startLocalDynamoDB } from '../../local/dynamodb.js';
import { HubSimulator, type HubSimulatorOptions } from '../../local/hub-simulator/index.js';

export const ORG = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
export const OTHER_ORG = '0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87';
export const CLIENT_ID = 'broker-test-client';
export const CLIENT_SECRET = 'test-client-secret-3f9c1b7e';
export const SECRET_ID = 'zaikio/broker-test';
/** The consumer the tests call the mint function as: granted every bearer, scope and key. */
export const TEST_CONSUMER = 'tests';
/** Lambda's context for an invocation of the mint through TEST_CONSUMER's alias. */
export const TEST_CONTEXT = {
  invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:zaikio-token-mint:${TEST_CONSUMER}`,
};

export interface HarnessOptions {
  readonly settings?: Partial<BrokerSettings>;
  readonly hub?: HubSimulatorOptions;
}

export interface Harness {
  readonly dynamo: LocalDynamoDB;
  readonly hub: HubSimulator;
  readonly config: BrokerConfig;
  /** The mocked Secrets Manager; `secretReads()` counts GetSecretValue calls. */
  readonly secrets: ReturnType<typeof mockClient>;
  setSecret(value: string): void;
  secretReads(): number;
  /** `config` replaces the harness's configuration, e.g. to change a setting for one broker. */
  broker(deps?: BrokerDependencies & { readonly config?: BrokerConfig }): Broker;
  /**
   * Records a use of each key's stored token at `now`, with the store's own write, as the mint does
   * when a consumer reports the use past the token's check point. A key whose use is already
   * recorded since is left as it is.
   */
  reportUse(keys: readonly TokenKey[], now: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dynamo = await startLocalDynamoDB();
  const tableName = `tokens-${randomUUID()}`;
  await dynamo.createTokensTable(tableName);
  const hub = await HubSimulator.start({
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    grants: [{ bearer: `Org/${ORG}`, scopes: ['warehouse.items.rw', 'zaikio.organization.r'] }],
    ...options.hub,
  });
  const secretsManager = new SecretsManagerClient({ region: 'local' });
  const secrets = mockClient(secretsManager);
  const setSecret = (value: string) => {
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({ SecretString: value });
  };
  setSecret(JSON.stringify({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }));
  const config: BrokerConfig = {
    tableName,
    hubBaseUrl: hub.url,
    clients: { default: SECRET_ID },
    defaultClient: 'default',
    settings: resolveSettings(options.settings),
    grants: {
      [TEST_CONSUMER]: { bearers: '*', scopes: ['*'], clients: ['default'], newKeysPerHour: 1_000_000 },
    },
  };
  const brokers: Broker[] = [];
  const reporter = dynamo.client();
  const store = new TokenStore({ dynamodb: reporter, tableName, dueShards: config.settings.dueShards });
  return {
    dynamo,
    hub,
    config,
    secrets,
    setSecret,
    secretReads: () => secrets.commandCalls(GetSecretValueCommand).length,
    broker({ config: override, ...deps } = {}) {
      const broker = createBroker(override ?? config, {
        dynamodb: dynamo.client(),
        secretsManager,
        ...deps,
        // Generous real-time limits: on a loaded CI machine a slow loopback answer must not become a
        // retry that the test would count. Tests of timeouts set their own.
        hub: { headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000, ...deps.hub },
      });
      brokers.push(broker);
      return broker;
    },
    async reportUse(keys, now) {
      const report = async (key: TokenKey) => {
        const record = await store.get(key, { consistent: true });
        if (record?.token === undefined) return;
        await store.recordUse(
          key,
          useWrite({ token: record.token, version: record.version }, now, config.settings),
        );
      };
      // 50 at a time, as a client with a bounded socket pool would.
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map(report));
    },
    async stop() {
      reporter.destroy();
      await Promise.all(brokers.map((broker) => broker.hub.close()));
      secrets.restore();
      await hub.stop();
      await dynamo.stop();
    },
  };
}
