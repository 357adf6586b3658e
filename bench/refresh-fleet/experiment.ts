/**
 * The refresh fleet benchmark: N due token items on dynalite, refreshed by the real sweeper and refresh
 * worker handlers against the Hub simulator (50 ms latency, rate limit R), as the deployed fleet
 * would: `refreshConcurrency` worker containers in parallel, each with its own broker, SDK clients and
 * pacer, taking SQS events from the refresh queue; the sweeper on a (shortened) schedule.
 */
import { type Broker, createBroker } from '../../functions/core/broker.js';
import type { BrokerConfig } from '../../functions/core/config.js';
import { createRefresher, createRefreshHandler } from '../../functions/refresh/handler.js';
import { createSweepHandler } from '../../functions/sweep/handler.js';
import { HubSimulator } from '../../local/hub-simulator/index.js';
import { DynamoCounter } from '../support/dynamo-counter.js';
import { startDynamoProcess } from '../support/dynamodb-process.js';
import { FunctionPool } from '../support/function-pool.js';
import { rateLimitRule } from '../support/hub.js';
import { HandlerLog } from '../support/logs.js';
import { describeMachine, processCpuSeconds } from '../support/machine.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  mockSecretsManager,
  newSecretsClient,
  SECRET_ID,
} from '../support/secrets.js';
import { BenchRefreshQueue } from '../support/sqs-queue.js';
import { sleep } from '../support/stats.js';
import {
  countStillDue,
  fleetSettings,
  PROBE_TABLE,
  probeDynalite,
  seedDueItems,
  TABLE_NAME,
} from './setup.js';
import { describeFleet, type FleetResult, summarizeFleet } from './summary.js';

/** How long an idle worker's poll waits before asking again (SQS long polling answers at once when a message comes). */
const POLL_MS = 1000;
/** Conditional UpdateItems of the dynalite probe. */
const PROBE_OPERATIONS = 4000;
/** The Hub's rate limit window: see rateLimitRule. */
const RATE_LIMIT_WINDOW_SECONDS = 10;
const SAMPLE_EVERY_MS = 100;
const PROGRESS_EVERY_MS = 15_000;

export const FLEET_DEFAULTS = { hubLatencyMs: 50, scheduleIntervalMs: 5000, batchSize: 1 } as const;

export interface FleetOptions {
  readonly items: number;
  /** R: the Hub requests per second the refresh fleet may make (hubRequestsPerSecond). */
  readonly rate: number;
  /** @default FLEET_DEFAULTS.hubLatencyMs */
  readonly hubLatencyMs?: number;
  /** The sweeper's schedule, shortened from a minute. @default FLEET_DEFAULTS.scheduleIntervalMs */
  readonly scheduleIntervalMs?: number;
  /** SQS messages per worker invocation: the construct's `refreshBatchSize`. @default 1, its default */
  readonly batchSize?: number;
  /**
   * Stop after this long even if not done; the result then says how far it got and projects the
   * rest at the pace reached. @default 4 × N/R + 60 s
   */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** The command that repeats a run, as recorded in its result. */
function fleetCommand(run: {
  readonly items: number;
  readonly rate: number;
  readonly scheduleIntervalMs: number;
  readonly batchSize: number;
  readonly timeoutMs: number | undefined;
}): string {
  return (
    `npx tsx bench/refresh-fleet.ts --items=${run.items} --rate=${run.rate} --interval=${run.scheduleIntervalMs} ` +
    `--batch=${run.batchSize}${run.timeoutMs === undefined ? '' : ` --timeout=${run.timeoutMs / 1000}`}`
  );
}

export async function runRefreshFleet(options: FleetOptions): Promise<FleetResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { items, rate } = options;
  const hubLatencyMs = options.hubLatencyMs ?? FLEET_DEFAULTS.hubLatencyMs;
  const scheduleIntervalMs = options.scheduleIntervalMs ?? FLEET_DEFAULTS.scheduleIntervalMs;
  const batchSize = options.batchSize ?? FLEET_DEFAULTS.batchSize;
  const idealMs = (items / rate) * 1000;
  const timeoutMs = options.timeoutMs ?? 4 * idealMs + 60_000;
  const { settings, pacingMs } = fleetSettings(rate, scheduleIntervalMs);
  log(
    `refresh fleet: ${items} due items, R = ${rate}/s (ideal ${(idealMs / 1000).toFixed(1)} s), ` +
      `${settings.refreshConcurrency} workers, pacing ${pacingMs} ms, sweep every ${scheduleIntervalMs} ms, ` +
      `batch ${batchSize} message(s) of ${settings.keysPerMessage} keys`,
  );

  const dynamo = await startDynamoProcess([TABLE_NAME, PROBE_TABLE]);
  const secrets = mockSecretsManager();
  const hub = await HubSimulator.start({
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    latencyMs: hubLatencyMs,
  });
  const brokers: Broker[] = [];
  try {
    const dynaliteUpdatesPerSecond = await probeDynalite(dynamo, PROBE_OPERATIONS);
    log(`  dynalite alone: ${dynaliteUpdatesPerSecond.toFixed(0)} conditional UpdateItems/s (64 clients)`);

    const seedStartedAt = performance.now();
    const seedClient = dynamo.client();
    const seededAt = await seedDueItems(hub, seedClient, items, settings.dueShards);
    const seedMs = performance.now() - seedStartedAt;
    log(`  seeded ${items} items in ${(seedMs / 1000).toFixed(1)} s`);
    hub.resetCounts();
    const limit = rateLimitRule(rate, RATE_LIMIT_WINDOW_SECONDS);
    hub.inject(limit);

    const config: BrokerConfig = {
      tableName: TABLE_NAME,
      hubBaseUrl: hub.url,
      clients: { default: SECRET_ID },
      defaultClient: 'default',
      settings,
    };
    const counter = new DynamoCounter();
    const handlerLog = new HandlerLog();
    const queue = new BenchRefreshQueue(settings.keysPerMessage);
    const newBroker = () => {
      // Each container: its own DynamoDB and Secrets Manager clients, Hub pool and credential cache.
      const broker = createBroker(config, {
        dynamodb: counter.attach(dynamo.client()),
        secretsManager: newSecretsClient(),
      });
      brokers.push(broker);
      return broker;
    };
    const workerPool = new FunctionPool((_index) => {
      const broker = newBroker();
      const dependencies = { broker, refresher: createRefresher(broker) };
      const handler = createRefreshHandler(() => dependencies, handlerLog.logger());
      return { handle: handler };
    });
    const sweepBroker = newBroker();
    const sweep = createSweepHandler(() => ({ broker: sweepBroker, queue }), handlerLog.logger());
    secrets.reset();

    const cpuBefore = process.cpuUsage();
    const dynaliteCpuBefore = processCpuSeconds(dynamo.pid);
    const startedAt = performance.now();
    const startEpoch = Date.now();
    let finishedAt: number | undefined;
    let stopping = false;
    const finished = new Promise<void>((resolve) => {
      handlerLog.onBatch(() => {
        if (finishedAt === undefined && handlerLog.renewed() >= items) {
          finishedAt = performance.now();
          resolve();
        }
      });
    });
    // [ms since start, renewed so far] (timers run late under load: keep the time).
    const samples: Array<readonly [number, number]> = [];
    const sampler = setInterval(
      () => samples.push([performance.now() - startedAt, handlerLog.renewed()]),
      SAMPLE_EVERY_MS,
    );
    const progress = setInterval(() => {
      const seconds = (performance.now() - startedAt) / 1000;
      log(
        `  … ${seconds.toFixed(0)} s: ${handlerLog.renewed()} refreshed (${(handlerLog.renewed() / seconds).toFixed(0)}/s), ` +
          `${handlerLog.outcomes.skipped} duplicates, ${handlerLog.outcomes.failed} failed, queue ${queue.visible} visible ` +
          `+ ${queue.inFlight} in flight`,
      );
    }, PROGRESS_EVERY_MS);

    // EventBridge Scheduler: a run every interval; a run that overran its slot skips the missed ones.
    const sweeper = (async () => {
      while (!stopping) {
        await sweep({}, { getRemainingTimeInMillis: () => scheduleIntervalMs });
        const slot = Math.floor((performance.now() - startedAt) / scheduleIntervalMs) + 1;
        const wait = startedAt + slot * scheduleIntervalMs - performance.now();
        for (let waited = 0; waited < wait && !stopping; waited += 100) {
          await sleep(Math.min(100, wait - waited));
        }
      }
    })();
    // Lambda's SQS event source: at most refreshConcurrency invocations at once.
    const workers = Array.from({ length: settings.refreshConcurrency }, async () => {
      while (!stopping) {
        const delivery = queue.receive(batchSize);
        if (delivery === undefined) {
          await queue.waitForMessages(POLL_MS);
          continue;
        }
        try {
          await workerPool.invoke(delivery.event);
        } catch {
          handlerLog.crashes += 1;
        } finally {
          delivery.done();
        }
      }
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const endedAt = finishedAt ?? performance.now();
    stopping = true;
    await Promise.all([sweeper, ...workers]);
    clearInterval(sampler);
    clearInterval(progress);
    const used = process.cpuUsage(cpuBefore);
    const cpuSeconds = {
      benchProcess: (used.user + used.system) / 1e6,
      dynalite: processCpuSeconds(dynamo.pid) - dynaliteCpuBefore,
    };

    const dynamoCounts = counter.snapshot();
    const checkClient = dynamo.client();
    const stillDue = await countStillDue(checkClient, settings.dueShards, seededAt);
    checkClient.destroy();
    seedClient.destroy();
    const result = summarizeFleet({
      items,
      rate,
      hubLatencyMs,
      settings: {
        hubRequestsPerSecond: settings.hubRequestsPerSecond,
        refreshConcurrency: settings.refreshConcurrency,
        scheduleIntervalMs: settings.scheduleIntervalMs,
        refreshAheadMs: settings.refreshAheadMs,
        keysPerMessage: settings.keysPerMessage,
        dueShards: settings.dueShards,
        batchSize,
        pacingMs,
      },
      idealMs,
      ranMs: endedAt - startedAt,
      samples,
      log: handlerLog,
      hub: {
        startEpoch,
        requests: hub.requests,
        refreshTokenGrants: hub.count({ grantType: 'refresh_token' }),
        clientCredentialsGrants: hub.count({ grantType: 'client_credentials' }),
        ok: hub.count({ status: 200 }),
        rateLimited: limit.limited(),
      },
      dynamo: dynamoCounts,
      secretsManagerReads: secrets.reads(),
      sqs: { messagesSent: queue.stats().messagesSent, requests: queue.stats().requests },
      workers: workerPool.stats(),
      cpuSeconds,
      stillDue,
      seedMs,
      dynaliteUpdatesPerSecond,
      machine: describeMachine(),
      command: fleetCommand({ items, rate, scheduleIntervalMs, batchSize, timeoutMs: options.timeoutMs }),
    });
    log(describeFleet(result));
    return result;
  } finally {
    await Promise.all(brokers.map((broker) => broker.hub.close()));
    secrets.restore();
    await hub.stop();
    await dynamo.stop();
  }
}
