/**
 * K consumer containers of one approach, run through the simulated hour (M calls on the simulated
 * clock, the broker's schedule ticking every simulated minute) and through the stampede (many
 * concurrent cold requests for one new key, in real time). Returns what was counted and timed;
 * ./summary.ts turns it into results.
 */
import { randomUUID } from 'node:crypto';
import {
  BrokerConsumerContainer,
  CachingContainer,
  type ConsumerContainer,
  NaiveContainer,
  SCOPE,
  type Source,
} from '../support/approaches.js';
import { type Deployment, type DeploymentOptions, deployBroker } from '../support/deployment.js';
import { addCounts, type DynamoCounts } from '../support/dynamo-counter.js';
import type { PoolStats } from '../support/function-pool.js';
import { seededRandom } from '../support/random.js';
import { type Environment, HOUR_MS, MINUTE_MS, START, TABLES } from './environment.js';
import type { ApproachName, Call, HourMeasurement, LambdaStats, StampedeMeasurement } from './summary.js';

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

/** M calls evenly spread over the hour; container and organization drawn with a seeded PRNG. */
export function schedule(calls: number, containers: number, organizations: number, seed: number): Call[] {
  const random = seededRandom(seed);
  return Array.from({ length: calls }, (_, index) => ({
    at: START + Math.floor(((index + 0.5) * HOUR_MS) / calls),
    container: Math.floor(random() * containers),
    organization: Math.floor(random() * organizations),
  }));
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

export async function runHour(
  env: Environment,
  name: ApproachName,
  calls: readonly Call[],
  containers: number,
): Promise<HourMeasurement> {
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

  const answered: Array<{ ms: number; source: Source }> = [];
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
    answered.push({ ms: performance.now() - callStartedAt, source });
  }
  await tickUntil(START + HOUR_MS);
  const realSeconds = (performance.now() - startedAt) / 1000;

  const lambda: LambdaStats = deployment
    ? { mint: deployment.mint.stats(), sweep: deployment.sweep.stats(), refresh: deployment.refresh.stats() }
    : { mint: NO_POOL, sweep: NO_POOL, refresh: NO_POOL };
  const dynamo = deployment
    ? addCounts(deployment.consumerDynamo.snapshot(), deployment.brokerDynamo.snapshot())
    : NO_DYNAMO;
  const sqs = deployment?.queue.stats().requests;
  const hubRequests = hub.count();
  const secretsManagerReads = secrets.reads();
  await deployment?.close();
  return {
    name,
    calls: calls.length,
    hubRequests,
    secretsManagerReads,
    dynamo,
    lambda,
    ...(sqs === undefined ? {} : { sqs }),
    answered,
    realSeconds,
  };
}

export async function runStampede(
  env: Environment,
  name: ApproachName,
  requests: number,
  containers: number,
): Promise<StampedeMeasurement> {
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
    mint,
    dynamoRequests,
    errors,
    latencies,
  };
}
