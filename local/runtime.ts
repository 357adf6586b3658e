/**
 * The broker on one machine: dynalite on disk, the Hub simulator (or the real Hub), the mint
 * function behind a Lambda-Invoke-compatible endpoint, and the sweeper and worker on a timer,
 * all through the same handlers that run in Lambda.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createBroker } from '../functions/core/broker.js';
import type { BrokerConfig } from '../functions/core/config.js';
import type { SecretSource } from '../functions/core/credentials.js';
import { resolveHubBaseUrl } from '../functions/core/hub/environments.js';
import type { EventLogger } from '../functions/core/logger.js';
import type { BrokerSettings } from '../functions/core/settings.js';
import { resolveSettings } from '../functions/core/settings.js';
import { createMintHandler } from '../functions/mint/handler.js';
import { createRefresher, createRefreshHandler } from '../functions/refresh/handler.js';
import { createSweepHandler } from '../functions/sweep/handler.js';
import { DEFAULT_CONSUMERS_CONFIG, type LocalConsumers, localGrants, readConsumers } from './consumers.js';
import { startLocalDynamoDB } from './dynamodb.js';
import { HubSimulator, type SimulatorApp, type SimulatorGrant } from './hub-simulator/index.js';
import { startLambdaEndpoint } from './lambda-endpoint.js';
import { LocalRefreshQueue } from './refresh-queue.js';
import { LOCAL_STATUS_PATH, type LocalStatus, type LocalSweepRecord } from './status.js';

export const LOCAL_TABLE = 'zaikio-tokens';
export const LOCAL_CLIENT = 'default';

export interface HubConfigFile {
  readonly apps: readonly SimulatorApp[];
  readonly grants: readonly SimulatorGrant[];
  readonly tokenLifetimeSeconds?: number;
}

export interface LocalRuntimeOptions {
  readonly dynamodbPort: number;
  readonly lambdaPort: number;
  readonly hubPort: number;
  /** Folder for dynalite's LevelDB files. */
  readonly dataDir: string;
  readonly reset: boolean;
  /** Talk to a real Hub instead of the simulator. */
  readonly realHub?: { readonly hub: string; readonly clientId: string; readonly clientSecret: string };
  readonly hubConfig: HubConfigFile;
  readonly settings: Partial<BrokerSettings>;
  readonly logger: EventLogger;
  /**
   * The consumers the mint serves, as `grantTokenAccess` options by name; each calls `mint:<name>`.
   * @default the consumers of local/consumers.json
   */
  readonly consumers?: LocalConsumers;
  /** How long a refresh message the worker failed stays invisible. @default LOCAL_VISIBILITY_TIMEOUT_MS */
  readonly refreshVisibilityTimeoutMs?: number;
}

export interface LocalRuntime {
  readonly dynamodbEndpoint: string;
  readonly lambdaEndpoint: string;
  readonly hubUrl: string;
  readonly simulated: boolean;
  readonly settings: BrokerSettings;
  /** The consumers' names: each invokes the mint function as `mint:<name>`. */
  readonly consumers: readonly string[];
  /** What `GET /local/status` on the Lambda endpoint answers (the operator CLI reads it there). */
  status(): LocalStatus;
  stop(): Promise<void>;
}

export function readHubConfig(path: string): HubConfigFile {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<HubConfigFile>;
  if (!Array.isArray(parsed.apps) || parsed.apps.length === 0 || !Array.isArray(parsed.grants)) {
    throw new Error(`${path} needs "apps" (at least one) and "grants" arrays`);
  }
  return parsed as HubConfigFile;
}

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  // Checked before anything listens: a broken consumer must not leave dynalite running.
  const consumers = options.consumers ?? readConsumers(DEFAULT_CONSUMERS_CONFIG);
  const grants = localGrants(consumers, LOCAL_CLIENT);
  const dbPath = join(options.dataDir, 'dynamodb');
  if (options.reset) rmSync(dbPath, { recursive: true, force: true });
  mkdirSync(dbPath, { recursive: true });
  const dynamo = await startLocalDynamoDB({ port: options.dynamodbPort, path: dbPath });
  await dynamo.createTokensTable(LOCAL_TABLE);

  let hub: HubSimulator | undefined;
  let credentials: { clientId: string; clientSecret: string };
  let hubBaseUrl: string;
  if (options.realHub === undefined) {
    const [app] = options.hubConfig.apps as [SimulatorApp];
    hub = await HubSimulator.start({
      port: options.hubPort,
      apps: options.hubConfig.apps,
      grants: options.hubConfig.grants,
      ...(options.hubConfig.tokenLifetimeSeconds === undefined
        ? {}
        : { tokenLifetimeSeconds: options.hubConfig.tokenLifetimeSeconds }),
    });
    credentials = app;
    hubBaseUrl = hub.url;
  } else {
    credentials = options.realHub;
    hubBaseUrl = resolveHubBaseUrl(options.realHub.hub);
  }

  // No Secrets Manager locally: the credentials come from the config file or the environment.
  const secretSource: SecretSource = { get: async () => JSON.stringify(credentials) };
  const settings = resolveSettings(options.settings);
  const config: BrokerConfig = {
    tableName: LOCAL_TABLE,
    hubBaseUrl,
    clients: { [LOCAL_CLIENT]: 'local' },
    defaultClient: LOCAL_CLIENT,
    settings,
    grants,
  };
  const broker = createBroker(config, { dynamodb: dynamo.client(), secretSource });
  const queue = new LocalRefreshQueue(settings.keysPerMessage, {
    ...(options.refreshVisibilityTimeoutMs === undefined
      ? {}
      : { visibilityTimeoutMs: options.refreshVisibilityTimeoutMs }),
  });
  const mint = createMintHandler(() => broker, options.logger);
  const sweep = createSweepHandler(() => ({ broker, queue }), options.logger);
  const refreshDependencies = { broker, refresher: createRefresher(broker) };
  const refresh = createRefreshHandler(() => refreshDependencies, options.logger);

  // The operator CLI, another process, asks the running runtime for what only it knows.
  let lastSweep: LocalSweepRecord | null = null;
  const startedAt = new Date().toISOString();
  const status = (): LocalStatus => {
    const depths = queue.depths();
    return {
      startedAt,
      table: LOCAL_TABLE,
      dynamodbEndpoint: dynamo.endpoint,
      scheduleIntervalMs: settings.scheduleIntervalMs,
      lastSweep,
      refreshQueue: {
        visible: depths.visible,
        inFlight: depths.inFlight,
        visibilityTimeoutMs: queue.visibilityTimeoutMs,
        maxReceiveCount: queue.maxReceiveCount,
      },
      deadLetterQueue: { messages: depths.deadLetter, deadLetters: queue.deadLetters() },
    };
  };

  const lambda = await startLambdaEndpoint({
    port: options.lambdaPort,
    functions: { mint },
    documents: { [LOCAL_STATUS_PATH]: status },
  });

  // One tick at a time: a slow tick (a slow Hub) delays the next instead of overlapping it.
  let running: Promise<void> | undefined;
  const tick = async () => {
    const startedAt = Date.now();
    try {
      const result = await sweep({}, { getRemainingTimeInMillis: () => settings.scheduleIntervalMs });
      lastSweep = { at: new Date(startedAt).toISOString(), durationMs: Date.now() - startedAt, ...result };
    } catch (error) {
      lastSweep = {
        at: new Date(startedAt).toISOString(),
        durationMs: Date.now() - startedAt,
        error: String(error),
      };
      throw error;
    } finally {
      // Messages the worker failed earlier come back here once their visibility timeout has passed.
      for (let event = queue.receive(); event !== undefined; event = queue.receive()) {
        // An invocation that throws fails its whole batch, as with Lambda's SQS event source.
        const response = await refresh(event).catch((error: unknown) => {
          options.logger.error('refresh crashed', { message: String(error) });
          return undefined;
        });
        queue.settle(event, response);
      }
    }
  };
  const timer = setInterval(() => {
    if (running !== undefined) return;
    running = tick()
      .catch((error: unknown) => options.logger.error('refresh crashed', { message: String(error) }))
      .finally(() => {
        running = undefined;
      });
  }, settings.scheduleIntervalMs);

  return {
    dynamodbEndpoint: dynamo.endpoint,
    lambdaEndpoint: lambda.url,
    hubUrl: hubBaseUrl,
    simulated: hub !== undefined,
    settings,
    consumers: Object.keys(consumers),
    status,
    async stop() {
      clearInterval(timer);
      await running;
      await lambda.stop();
      await broker.hub.close();
      await hub?.stop();
      // dynalite flushes LevelDB on close, so stored tokens survive the restart.
      await dynamo.stop();
    },
  };
}
