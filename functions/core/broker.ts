/**
 * Wires the core together from a configuration. Every AWS SDK client and the clock can be passed
 * in, so tests and the local runtime use the same code as Lambda.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Clock, realSleep, type Sleep, systemClock } from './clock.js';
import type { BrokerConfig } from './config.js';
import { CredentialsProvider, type SecretSource } from './credentials.js';
import { HubTokenFetcher } from './fetcher.js';
import { HubClient, type HubClientOptions } from './hub/client.js';
import { TokenStore } from './store/token-store.js';
import { TokenService } from './token-service.js';

export interface BrokerDependencies {
  readonly dynamodb?: DynamoDBClient;
  readonly secretsManager?: SecretsManagerClient;
  readonly secretSource?: SecretSource;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  readonly random?: () => number;
  readonly hub?: Partial<HubClientOptions>;
  readonly ownerId?: string;
}

export interface Broker {
  readonly config: BrokerConfig;
  readonly store: TokenStore;
  readonly fetcher: HubTokenFetcher;
  readonly credentials: CredentialsProvider;
  readonly service: TokenService;
  readonly hub: HubClient;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** In [0, 1): jitter of refresh times and backoffs. */
  readonly random: () => number;
}

export function createBroker(config: BrokerConfig, deps: BrokerDependencies = {}): Broker {
  const clock = deps.clock ?? systemClock;
  const sleep = deps.sleep ?? realSleep;
  const random = deps.random ?? Math.random;
  const { settings } = config;
  const credentials = new CredentialsProvider({
    clients: config.clients,
    defaultClient: config.defaultClient,
    maxAgeSeconds: settings.secretMaxAgeSeconds,
    secretsManager: deps.secretsManager,
    source: deps.secretSource,
  });
  const hub = new HubClient({ baseUrl: config.hubBaseUrl, clock, sleep, random, ...deps.hub });
  const store = new TokenStore({
    dynamodb: deps.dynamodb ?? new DynamoDBClient({}),
    tableName: config.tableName,
    dueShards: settings.dueShards,
  });
  const fetcher = new HubTokenFetcher({ hub, credentials, clock });
  const service = new TokenService({
    store,
    fetcher,
    credentials,
    settings,
    clock,
    sleep,
    random,
    ownerId: deps.ownerId,
  });
  return { config, store, fetcher, credentials, service, hub, clock, sleep, random };
}
