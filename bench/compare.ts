/**
 * The side-by-side benchmark: a fleet of K consumer containers making M token requests over a
 * simulated hour, on dynalite and the Hub simulator (80 ms latency, 10-minute tokens), for three
 * approaches (naive, per-container caching with Powertools + oauth4webapi, this broker). Then the
 * stampede (1,000 concurrent cold requests across 50 containers), the consumer client's warm and
 * cold reads, and cold starts (bench/cold-start.ts).
 *
 * Time: one simulated clock (epoch ms) drives the simulator, the broker, the consumer client and the
 * caching approach's caches; latencies are real (performance.now), and so is the Hub's 80 ms.
 *
 *   npx tsx bench/compare.ts [--calls=2000] [--containers=10] [--organizations=10]
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createTokenClient } from '../functions/consumer/index.js';
import { READABLE_ATTRIBUTES } from '../functions/core/store/schema.js';
import { HubSimulator } from '../local/hub-simulator/index.js';
import {
  BrokerConsumerContainer,
  CachingContainer,
  type ConsumerContainer,
  MIN_VALIDITY_MS,
  NaiveContainer,
  SCOPE,
  type Source,
} from './support/approaches.js';
import { CLIENT_NAME, type Deployment, type DeploymentOptions, deployBroker } from './support/deployment.js';
import { addCounts, type DynamoCounts } from './support/dynamo-counter.js';
import { type DynamoProcess, LOCAL_CREDENTIALS, startDynamoProcess } from './support/dynamodb-process.js';
import type { PoolStats } from './support/function-pool.js';
import { describeMachine, type Machine } from './support/machine.js';
import { IDLE_POLLER_RECEIVES_PER_HOUR, MEMORY_GB, PRICE_SOURCE, PRICES } from './support/prices.js';
import { CLIENT_ID, CLIENT_SECRET, type MockedSecrets, mockSecretsManager } from './support/secrets.js';
import { seedItems, tokenItem } from './support/seed.js';
import type { SqsRequests } from './support/sqs-queue.js';
import { median, type Summary, seededRandom, summarize } from './support/stats.js';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const START = Date.parse('2027-03-01T08:00:00Z');
/** The example consumer's memory (infra: ExampleConsumer, 256 MB): what a caller's waiting costs. */
const CONSUMER_MEMORY_GB = 0.25;
const TABLES = { hour: 'tokens-hour', stampede: 'tokens-stampede', reads: 'tokens-reads' };

export type ApproachName = 'naive' | 'caching' | 'broker';
export const APPROACH_LABELS: Readonly<Record<ApproachName, string>> = {
  naive: '1. naive (secret + grant per call)',
  caching: '2. per-container caching (Powertools + oauth4webapi)',
  broker: '3. this broker',
};

export interface CompareOptions {
  /** K: consumer containers. @default 10 */
  readonly containers?: number;
  /** Token keys in use: one scope set for each of this many organizations. @default 10 */
  readonly organizations?: number;
  /** M: consumer calls over the simulated hour. @default 2000 */
  readonly calls?: number;
  /** @default 80 */
  readonly hubLatencyMs?: number;
  /** @default 600 */
  readonly tokenLifetimeSeconds?: number;
  readonly stampedeRequests?: number;
  readonly stampedeContainers?: number;
  readonly warmReads?: number;
  readonly coldReads?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface CostBreakdown {
  /** USD for the simulated hour, by item. */
  readonly items: Readonly<Record<string, number>>;
  readonly total: number;
  readonly perMillionCalls: number;
}

export interface ApproachResult {
  readonly name: ApproachName;
  readonly label: string;
  readonly calls: number;
  readonly hubRequests: number;
  readonly secretsManagerReads: number;
  readonly dynamo: DynamoCounts;
  readonly lambda: { readonly mint: PoolStats; readonly sweep: PoolStats; readonly refresh: PoolStats };
  readonly lambdaInvokes: number;
  readonly sqs?: SqsRequests;
  /** Consumer latency, ms, real time per call. */
  readonly latency: Summary;
  readonly bySource: Readonly<Partial<Record<Source, { readonly count: number; readonly p50: number }>>>;
  readonly cost: CostBreakdown;
  readonly realSeconds: number;
}

export interface StampedeResult {
  readonly name: ApproachName;
  readonly requests: number;
  readonly containers: number;
  readonly hubRequests: number;
  readonly secretsManagerReads: number;
  readonly lambdaInvokes: number;
  readonly mintContainers: number;
  readonly dynamoRequests: number;
  readonly errors: number;
  readonly latency: Summary;
}

export interface CompareResult {
  readonly options: Required<Omit<CompareOptions, 'log'>>;
  /** Σ over keys of the fewest tokens that cover its calls (each serves calls for lifetime − 60 s). */
  readonly minimumHubRequests: number;
  readonly approaches: readonly ApproachResult[];
  readonly stampede: readonly StampedeResult[];
  readonly warmRead: {
    readonly calls: number;
    readonly p50Us: number;
    readonly p99Us: number;
    readonly meanUs: number;
  };
  readonly coldRead: {
    readonly samples: number;
    readonly consumerMedianMs: number;
    readonly bareGetItemMedianMs: number;
    readonly bareProjectedMedianMs: number;
    /** consumerMedianMs / bareGetItemMedianMs; the goal is at most 1.1. */
    readonly ratio: number;
  };
  readonly prices: typeof PRICES & { readonly source: string; readonly consumerMemoryGb: number };
  readonly machine: Machine;
  readonly command: string;
}

interface Call {
  readonly at: number;
  readonly container: number;
  readonly organization: number;
}

/** M calls evenly spread over the hour; container and organization drawn with a seeded PRNG. */
function schedule(calls: number, containers: number, organizations: number, seed: number): Call[] {
  const random = seededRandom(seed);
  return Array.from({ length: calls }, (_, index) => ({
    at: START + Math.floor(((index + 0.5) * HOUR_MS) / calls),
    container: Math.floor(random() * containers),
    organization: Math.floor(random() * organizations),
  }));
}

/** The fewest tokens an oracle would fetch: a token fetched at a call serves calls for lifetime − 60 s. */
function minimumTokens(calls: readonly Call[], lifetimeMs: number): number {
  const coveredUntil = new Map<number, number>();
  let tokens = 0;
  for (const call of calls) {
    if ((coveredUntil.get(call.organization) ?? Number.NEGATIVE_INFINITY) >= call.at) continue;
    tokens += 1;
    coveredUntil.set(call.organization, call.at + lifetimeMs - MIN_VALIDITY_MS);
  }
  return tokens;
}

const NO_POOL: PoolStats = { invocations: 0, containers: 0, billedMs: 0, errors: 0, medianMs: Number.NaN };
const NO_DYNAMO: DynamoCounts = {
  requests: {},
  total: 0,
  readUnits: 0,
  writeUnits: 0,
  indexWriteUnits: 0,
  conditionalFailures: 0,
  queryItems: 0,
  errors: 0,
  latency: {},
};

function costOf(input: {
  readonly calls: number;
  readonly secretsManagerReads: number;
  readonly lambda: ApproachResult['lambda'];
  readonly dynamo: DynamoCounts;
  readonly sqs?: SqsRequests;
  readonly sweeps: number;
  readonly consumerWaitMs: number;
}): CostBreakdown {
  const { lambda, dynamo, sqs } = input;
  const invocations = lambda.mint.invocations + lambda.sweep.invocations + lambda.refresh.invocations;
  const gbSeconds =
    (lambda.mint.billedMs * MEMORY_GB.mint +
      lambda.sweep.billedMs * MEMORY_GB.sweep +
      lambda.refresh.billedMs * MEMORY_GB.refresh) /
    1000;
  const writes =
    (dynamo.requests.UpdateItem ?? 0) + (dynamo.requests.PutItem ?? 0) - dynamo.conditionalFailures;
  // A failed conditional write is billed like a write of the item: charge the average successful one.
  const failedWriteUnits = writes > 0 ? (dynamo.conditionalFailures * dynamo.writeUnits) / writes : 0;
  const sqsRequests =
    sqs === undefined
      ? 0
      : sqs.getQueueAttributes +
        sqs.sendMessageBatch +
        sqs.receiveMessage +
        sqs.deleteMessageBatch +
        IDLE_POLLER_RECEIVES_PER_HOUR;
  const items: Record<string, number> = {
    'Secrets Manager': input.secretsManagerReads * PRICES.secretsManagerCall,
    'Lambda requests (broker)': invocations * PRICES.lambdaRequest,
    'Lambda compute (broker)': gbSeconds * PRICES.lambdaGbSecond,
    'DynamoDB reads': dynamo.readUnits * PRICES.dynamoReadUnit,
    'DynamoDB writes':
      (dynamo.writeUnits + dynamo.indexWriteUnits + failedWriteUnits) * PRICES.dynamoWriteUnit,
    SQS: sqsRequests * PRICES.sqsRequest,
    'EventBridge Scheduler': input.sweeps * PRICES.schedulerInvocation,
    'consumer time waiting for tokens':
      (input.consumerWaitMs / 1000) * CONSUMER_MEMORY_GB * PRICES.lambdaGbSecond,
  };
  const total = Object.values(items).reduce((sum, value) => sum + value, 0);
  return { items, total, perMillionCalls: (total / input.calls) * 1e6 };
}

interface Environment {
  readonly dynamo: DynamoProcess;
  readonly hub: HubSimulator;
  readonly secrets: MockedSecrets;
  readonly clock: { fake: boolean; now: number };
  readonly simClock: () => number;
  readonly organizations: readonly string[];
}

/** K containers of one approach; for the broker, a deployment behind them. */
async function createFleet(
  env: Environment,
  name: ApproachName,
  containers: number,
  broker: Pick<DeploymentOptions, 'tableName' | 'advance'>,
): Promise<{ fleet: ConsumerContainer[]; deployment: Deployment | undefined }> {
  const { hub, simClock } = env;
  if (name === 'naive') {
    return {
      fleet: Array.from({ length: containers }, () => new NaiveContainer(hub.url)),
      deployment: undefined,
    };
  }
  if (name === 'caching') {
    const fleet = Array.from({ length: containers }, () => new CachingContainer(hub.url, simClock));
    return { fleet, deployment: undefined };
  }
  const deployment = await deployBroker({ ...broker, dynamo: env.dynamo, hubUrl: hub.url, clock: simClock });
  const fleet = Array.from(
    { length: containers },
    () => new BrokerConsumerContainer(deployment.newConsumer()),
  );
  return { fleet, deployment };
}

async function runHour(
  env: Environment,
  name: ApproachName,
  calls: readonly Call[],
  containers: number,
  log: (line: string) => void,
): Promise<ApproachResult> {
  const { clock, hub, secrets } = env;
  clock.fake = true;
  clock.now = START;
  hub.resetCounts();
  secrets.reset();
  const { fleet, deployment } = await createFleet(env, name, containers, {
    tableName: TABLES.hour,
    advance: (ms) => {
      clock.now += ms;
    },
  });

  const latencies: number[] = [];
  const bySource = new Map<Source, number[]>();
  const startedAt = performance.now();
  let nextTick = START + MINUTE_MS;
  const tickUntil = async (until: number) => {
    if (deployment === undefined) return;
    while (nextTick <= until) {
      clock.now = Math.max(clock.now, nextTick);
      await deployment.tick();
      nextTick += MINUTE_MS;
    }
  };
  for (const call of calls) {
    await tickUntil(call.at);
    clock.now = Math.max(clock.now, call.at);
    const container = fleet[call.container];
    const organization = env.organizations[call.organization];
    if (container === undefined || organization === undefined) throw new Error('bad schedule');
    const callStartedAt = performance.now();
    const source = await container.getToken(organization);
    const elapsed = performance.now() - callStartedAt;
    latencies.push(elapsed);
    const list = bySource.get(source) ?? [];
    list.push(elapsed);
    bySource.set(source, list);
  }
  await tickUntil(START + HOUR_MS);
  const realSeconds = (performance.now() - startedAt) / 1000;

  const lambda = deployment
    ? { mint: deployment.mint.stats(), sweep: deployment.sweep.stats(), refresh: deployment.refresh.stats() }
    : { mint: NO_POOL, sweep: NO_POOL, refresh: NO_POOL };
  const dynamo = deployment
    ? addCounts(deployment.consumerDynamo.snapshot(), deployment.brokerDynamo.snapshot())
    : NO_DYNAMO;
  const sqs = deployment?.queue.stats().requests;
  const secretsManagerReads = secrets.reads();
  const consumerWaitMs = latencies.reduce((sum, value) => sum + value, 0);
  const result: ApproachResult = {
    name,
    label: APPROACH_LABELS[name],
    calls: calls.length,
    hubRequests: hub.count(),
    secretsManagerReads,
    dynamo,
    lambda,
    lambdaInvokes: lambda.mint.invocations + lambda.sweep.invocations + lambda.refresh.invocations,
    ...(sqs === undefined ? {} : { sqs }),
    latency: summarize(latencies),
    bySource: Object.fromEntries(
      [...bySource].map(([source, values]) => [source, { count: values.length, p50: median(values) }]),
    ),
    cost: costOf({
      calls: calls.length,
      secretsManagerReads,
      lambda,
      dynamo,
      ...(sqs === undefined ? {} : { sqs }),
      sweeps: lambda.sweep.invocations,
      consumerWaitMs,
    }),
    realSeconds,
  };
  await deployment?.close();
  log(
    `  ${result.label}: Hub ${result.hubRequests}, SM ${result.secretsManagerReads}, DynamoDB ${dynamo.total}, ` +
      `invokes ${result.lambdaInvokes}, p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms, ` +
      `max ${result.latency.max.toFixed(1)} ms, $${result.cost.perMillionCalls.toFixed(2)}/M calls (${realSeconds.toFixed(0)} s)`,
  );
  return result;
}

async function runStampede(
  env: Environment,
  name: ApproachName,
  requests: number,
  containers: number,
): Promise<StampedeResult> {
  const { clock, hub, secrets } = env;
  clock.fake = false;
  hub.resetCounts();
  secrets.reset();
  // A key nobody has asked for yet.
  const organizationId = randomUUID();
  hub.grant({ bearer: `Org/${organizationId}`, scopes: [SCOPE] });
  const { fleet, deployment } = await createFleet(env, name, containers, { tableName: TABLES.stampede });
  let errors = 0;
  const latencies = await Promise.all(
    Array.from({ length: requests }, async (_, index) => {
      const startedAt = performance.now();
      try {
        await fleet[index % containers]?.getToken(organizationId);
      } catch {
        errors += 1;
      }
      return performance.now() - startedAt;
    }),
  );
  const mint = deployment?.mint.stats() ?? NO_POOL;
  const dynamoRequests = deployment
    ? deployment.consumerDynamo.snapshot().total + deployment.brokerDynamo.snapshot().total
    : 0;
  await deployment?.close();
  return {
    name,
    requests,
    containers,
    hubRequests: hub.count(),
    secretsManagerReads: secrets.reads(),
    lambdaInvokes: mint.invocations,
    mintContainers: mint.containers,
    dynamoRequests,
    errors,
    latency: summarize(latencies),
  };
}

async function measureWarmRead(env: Environment, reads: number): Promise<CompareResult['warmRead']> {
  env.clock.fake = false;
  const deployment = await deployBroker({
    dynamo: env.dynamo,
    tableName: TABLES.stampede,
    hubUrl: env.hub.url,
    clock: env.simClock,
  });
  try {
    const client = deployment.newConsumer();
    const request = { organizationId: env.organizations[0] as string, scopes: [SCOPE] };
    await client.getAccessToken(request);
    for (let i = 0; i < 20_000; i++) await client.getAccessToken(request);
    const times = new Float64Array(reads);
    for (let i = 0; i < reads; i++) {
      const startedAt = performance.now();
      const token = await client.getAccessToken(request);
      times[i] = performance.now() - startedAt;
      if (token.source !== 'memory') throw new Error('the warm read left memory');
    }
    const batchStartedAt = performance.now();
    for (let i = 0; i < reads; i++) await client.getAccessToken(request);
    const meanUs = ((performance.now() - batchStartedAt) / reads) * 1000;
    const summary = summarize(Array.from(times, (ms) => ms * 1000));
    return { calls: reads, p50Us: summary.p50, p99Us: summary.p99, meanUs };
  } finally {
    await deployment.close();
  }
}

async function measureColdRead(env: Environment, samples: number): Promise<CompareResult['coldRead']> {
  const now = Date.now();
  const organizations = Array.from({ length: samples }, () => randomUUID());
  const items = organizations.map((organizationId) =>
    tokenItem({
      organizationId,
      client: CLIENT_NAME,
      scopes: [SCOPE],
      accessToken: `eyJ${'x'.repeat(700)}`,
      refreshToken: 'r'.repeat(43),
      issuedAt: now,
      expiresAt: now + 600_000,
      dueAt: now + 465_000,
      lastRequestedAt: now,
      dueShards: 8,
    }),
  );
  const dynamodb = env.dynamo.client();
  await seedItems(dynamodb, TABLES.reads, items);
  // Never called: every item is servable. Pointed nowhere so a mistake fails loudly.
  const lambda = new LambdaClient({
    endpoint: 'http://127.0.0.1:9',
    region: 'local',
    credentials: LOCAL_CREDENTIALS,
  });
  const projection = READABLE_ATTRIBUTES.map((_, index) => `#a${index}`).join(', ');
  const names = Object.fromEntries(READABLE_ATTRIBUTES.map((name, index) => [`#a${index}`, name]));
  const consumer: number[] = [];
  const bare: number[] = [];
  const projected: number[] = [];
  try {
    // Warm the connection pool and the SDK's code paths first.
    for (const organizationId of organizations.slice(0, 20)) {
      const key = { pk: { S: `Org/${organizationId}` }, sk: { S: `${CLIENT_NAME}#${SCOPE}` } };
      await dynamodb.send(new GetItemCommand({ TableName: TABLES.reads, Key: key }));
    }
    for (const [index, organizationId] of organizations.entries()) {
      const key = { pk: { S: `Org/${organizationId}` }, sk: { S: `${CLIENT_NAME}#${SCOPE}` } };
      const measureConsumer = async () => {
        // A new client: its memory is empty, as in a container's first call for this key.
        const client = createTokenClient({
          tableName: TABLES.reads,
          mintFunctionName: 'mint',
          defaultClient: CLIENT_NAME,
          dynamodb,
          lambda,
          env: {},
        });
        const startedAt = performance.now();
        const token = await client.getAccessToken({ organizationId, scopes: [SCOPE] });
        consumer.push(performance.now() - startedAt);
        if (token.source !== 'table') throw new Error(`cold read came from ${token.source}`);
      };
      const measureBare = async () => {
        const startedAt = performance.now();
        await dynamodb.send(new GetItemCommand({ TableName: TABLES.reads, Key: key }));
        bare.push(performance.now() - startedAt);
      };
      const measureProjected = async () => {
        const startedAt = performance.now();
        await dynamodb.send(
          new GetItemCommand({
            TableName: TABLES.reads,
            Key: key,
            ProjectionExpression: projection,
            ExpressionAttributeNames: names,
          }),
        );
        projected.push(performance.now() - startedAt);
      };
      // Alternate the order so neither side always runs on a connection the other just warmed.
      const order = [measureConsumer, measureBare, measureProjected];
      for (let i = 0; i < order.length; i++)
        await (order[(i + index) % order.length] as () => Promise<void>)();
    }
  } finally {
    dynamodb.destroy();
    lambda.destroy();
  }
  const consumerMedianMs = median(consumer);
  const bareGetItemMedianMs = median(bare);
  return {
    samples,
    consumerMedianMs,
    bareGetItemMedianMs,
    bareProjectedMedianMs: median(projected),
    ratio: consumerMedianMs / bareGetItemMedianMs,
  };
}

export async function runCompare(options: CompareOptions = {}): Promise<CompareResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const resolved = {
    containers: options.containers ?? 10,
    organizations: options.organizations ?? 10,
    calls: options.calls ?? 2000,
    hubLatencyMs: options.hubLatencyMs ?? 80,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 600,
    stampedeRequests: options.stampedeRequests ?? 1000,
    stampedeContainers: options.stampedeContainers ?? 50,
    warmReads: options.warmReads ?? 200_000,
    coldReads: options.coldReads ?? 300,
    seed: options.seed ?? 7,
  };
  log(
    `compare: ${resolved.containers} containers, ${resolved.organizations} token keys, ${resolved.calls} calls ` +
      `over a simulated hour, Hub latency ${resolved.hubLatencyMs} ms, tokens ${resolved.tokenLifetimeSeconds} s`,
  );
  const clock = { fake: true, now: START };
  const simClock = () => (clock.fake ? clock.now : Date.now());
  const organizations = Array.from({ length: resolved.organizations }, () => randomUUID());
  const dynamo = await startDynamoProcess(Object.values(TABLES));
  const secrets = mockSecretsManager();
  const hub = await HubSimulator.start({
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    grants: organizations.map((id) => ({ bearer: `Org/${id}`, scopes: [SCOPE] })),
    latencyMs: resolved.hubLatencyMs,
    tokenLifetimeSeconds: resolved.tokenLifetimeSeconds,
    clock: simClock,
  });
  const env: Environment = { dynamo, hub, secrets, clock, simClock, organizations };
  try {
    const calls = schedule(resolved.calls, resolved.containers, resolved.organizations, resolved.seed);
    const minimumHubRequests = minimumTokens(calls, resolved.tokenLifetimeSeconds * 1000);
    log(`  the token lifetimes require at least ${minimumHubRequests} Hub requests for these calls`);
    const approaches: ApproachResult[] = [];
    for (const name of ['naive', 'caching', 'broker'] as const) {
      approaches.push(await runHour(env, name, calls, resolved.containers, log));
    }
    const stampede: StampedeResult[] = [];
    for (const name of ['naive', 'caching', 'broker'] as const) {
      const result = await runStampede(env, name, resolved.stampedeRequests, resolved.stampedeContainers);
      stampede.push(result);
      log(
        `  stampede ${name}: Hub ${result.hubRequests}, SM ${result.secretsManagerReads}, invokes ` +
          `${result.lambdaInvokes}, errors ${result.errors}, p50 ${result.latency.p50.toFixed(1)} ms, max ` +
          `${result.latency.max.toFixed(1)} ms`,
      );
    }
    const warmRead = await measureWarmRead(env, resolved.warmReads);
    log(
      `  warm read: p50 ${warmRead.p50Us.toFixed(2)} µs, p99 ${warmRead.p99Us.toFixed(2)} µs, mean ${warmRead.meanUs.toFixed(2)} µs`,
    );
    const coldRead = await measureColdRead(env, resolved.coldReads);
    log(
      `  cold read: consumer ${coldRead.consumerMedianMs.toFixed(3)} ms vs bare GetItem ` +
        `${coldRead.bareGetItemMedianMs.toFixed(3)} ms (${coldRead.ratio.toFixed(3)} ×)`,
    );
    return {
      options: resolved,
      minimumHubRequests,
      approaches,
      stampede,
      warmRead,
      coldRead,
      prices: { ...PRICES, source: PRICE_SOURCE, consumerMemoryGb: CONSUMER_MEMORY_GB },
      machine: describeMachine(),
      command: `npx tsx bench/compare.ts --calls=${resolved.calls} --containers=${resolved.containers} --organizations=${resolved.organizations}`,
    };
  } finally {
    secrets.restore();
    await hub.stop();
    await dynamo.stop();
  }
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const number = (name: string) => {
    const value = flag(name);
    return value === undefined ? undefined : Number(value);
  };
  const result = await runCompare({
    ...(number('calls') === undefined ? {} : { calls: number('calls') }),
    ...(number('containers') === undefined ? {} : { containers: number('containers') }),
    ...(number('organizations') === undefined ? {} : { organizations: number('organizations') }),
  });
  console.log(JSON.stringify(result, null, 2));
}
