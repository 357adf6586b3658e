/**
 * The broker as deployed, in process: the real mint handler behind the local Lambda Invoke endpoint
 * (local/lambda-endpoint.ts), one container per concurrent invocation; the real sweeper and refresh
 * worker handlers around the refresh queue; consumer clients with their own SDK clients. DynamoDB is
 * dynalite in its own process; Secrets Manager is mocked (./secrets.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createTokenClient, type TokenClient } from '../../functions/consumer/index.js';
import { type Broker, createBroker } from '../../functions/core/broker.js';
import { realSleep } from '../../functions/core/clock.js';
import type { BrokerConfig } from '../../functions/core/config.js';
import type { SweepResult } from '../../functions/core/refresh/sweeper.js';
import { type BrokerSettings, resolveSettings } from '../../functions/core/settings.js';
import { createMintHandler, type MintContext } from '../../functions/mint/handler.js';
import { createRefresher, createRefreshHandler } from '../../functions/refresh/handler.js';
import { createSweepHandler } from '../../functions/sweep/handler.js';
import { startLambdaEndpoint } from '../../local/lambda-endpoint.js';
import { DynamoCounter } from './dynamo-counter.js';
import { type DynamoProcess, LOCAL_CREDENTIALS } from './dynamodb-process.js';
import { FunctionPool } from './function-pool.js';
import { HandlerLog, silentLogger } from './logs.js';
import { ClockedSecretSource, SECRET_ID } from './secrets.js';
import { BenchRefreshQueue } from './sqs-queue.js';

export const MINT_FUNCTION = 'mint';
export const CLIENT_NAME = 'default';
/** The alias the benchmark's consumers invoke: the mint function identifies its caller by it. */
export const CONSUMER_ALIAS = 'bench';

export interface DeploymentOptions {
  readonly dynamo: DynamoProcess;
  readonly tableName: string;
  readonly hubUrl: string;
  readonly clock: () => number;
  /**
   * Moves a simulated clock forward instead of waiting: the refresh worker's pacer then costs no real
   * time (its waits are still billed). Without it, everything waits for real.
   */
  readonly advance?: (ms: number) => void;
  readonly settings?: Partial<BrokerSettings>;
}

export interface Deployment {
  readonly config: BrokerConfig;
  readonly mint: FunctionPool<unknown, unknown>;
  readonly sweep: FunctionPool<unknown, SweepResult>;
  readonly refresh: FunctionPool<SQSEvent, SQSBatchResponse>;
  readonly queue: BenchRefreshQueue;
  readonly log: HandlerLog;
  /** The broker's own DynamoDB requests (mint, sweeper, worker). */
  readonly brokerDynamo: DynamoCounter;
  /** The consumers' GetItems. */
  readonly consumerDynamo: DynamoCounter;
  /** A consumer container's client: its own DynamoDB and Lambda SDK clients and memory. */
  newConsumer(): TokenClient;
  /** One scheduled run: the sweeper, then the worker on every message it queued (batch size 1). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

export async function deployBroker(options: DeploymentOptions): Promise<Deployment> {
  const { dynamo, clock } = options;
  const config: BrokerConfig = {
    tableName: options.tableName,
    hubBaseUrl: options.hubUrl,
    clients: { [CLIENT_NAME]: SECRET_ID },
    defaultClient: CLIENT_NAME,
    settings: resolveSettings(options.settings),
    // Every key the benchmark asks for, and no ceiling on new keys: the runs measure the broker, not its grants.
    grants: {
      [CONSUMER_ALIAS]: { bearers: '*', scopes: ['*'], clients: [CLIENT_NAME], newKeysPerHour: 1_000_000 },
    },
  };
  const brokerDynamo = new DynamoCounter();
  const consumerDynamo = new DynamoCounter();
  const brokers: Broker[] = [];
  const clients: Array<{ destroy(): void }> = [];
  const log = new HandlerLog();
  const newBroker = (sleep: (ms: number) => Promise<void>) => {
    const dynamodb: DynamoDBClient = brokerDynamo.attach(dynamo.client());
    clients.push(dynamodb);
    const broker = createBroker(config, {
      dynamodb,
      // Powertools' SecretsProvider, its maxAge on the benchmark's clock.
      secretSource: new ClockedSecretSource(clock),
      clock,
      sleep,
    });
    brokers.push(broker);
    return broker;
  };

  const mint = new FunctionPool<unknown, unknown>(() => {
    // Lease polls wait for real: another container's mint finishes in real time.
    const broker = newBroker(realSleep);
    const handler = createMintHandler(() => broker, silentLogger());
    return { handle: (event, context) => handler(event, context as MintContext | undefined) };
  });
  const queue = new BenchRefreshQueue(config.settings.keysPerMessage);
  const sweep = new FunctionPool<unknown, SweepResult>(() => {
    const broker = newBroker(realSleep);
    const handler = createSweepHandler(() => ({ broker, queue }), log.logger());
    return { handle: (event) => handler(event) };
  });
  const refresh = new FunctionPool<SQSEvent, SQSBatchResponse>(() => {
    let skipped = 0;
    const advance = options.advance;
    const broker = newBroker(
      advance === undefined
        ? realSleep
        : async (ms) => {
            advance(ms);
            skipped += ms;
          },
    );
    const dependencies = { broker, refresher: createRefresher(broker) };
    return { handle: createRefreshHandler(() => dependencies, log.logger()), skippedMs: () => skipped };
  });

  const endpoint = await startLambdaEndpoint({
    functions: { [MINT_FUNCTION]: (event, context) => mint.invoke(event, context) },
  });

  return {
    config,
    mint,
    sweep,
    refresh,
    queue,
    log,
    brokerDynamo,
    consumerDynamo,
    newConsumer() {
      const dynamodb = consumerDynamo.attach(dynamo.client());
      const lambda = new LambdaClient({
        endpoint: endpoint.url,
        region: 'local',
        credentials: LOCAL_CREDENTIALS,
      });
      clients.push(dynamodb, lambda);
      return createTokenClient({
        tableName: options.tableName,
        mintFunctionName: `${MINT_FUNCTION}:${CONSUMER_ALIAS}`,
        defaultClient: CLIENT_NAME,
        dynamodb,
        lambda,
        clock,
        env: {},
      });
    },
    async tick() {
      await sweep.invoke({});
      for (let delivery = queue.receive(1); delivery !== undefined; delivery = queue.receive(1)) {
        try {
          await refresh.invoke(delivery.event);
        } finally {
          delivery.done();
        }
      }
    },
    async close() {
      await endpoint.stop();
      await Promise.all(brokers.map((broker) => broker.hub.close()));
      for (const client of clients) client.destroy();
    },
  };
}
