/**
 * The refresh fleet benchmark: N due token items on dynalite, refreshed by the real sweeper and refresh
 * worker handlers against the Hub simulator (50 ms latency, rate limit R), as the deployed fleet
 * would: `refreshConcurrency` worker containers in parallel, each with its own broker, SDK clients and
 * pacer, taking SQS events from the refresh queue; the sweeper on a (shortened) schedule.
 *
 * Reports wall time against the ideal N/R, DynamoDB requests per refreshed token (by operation),
 * Secrets Manager reads, and whether the goal (refreshed within 1.1 × N/R) was met.
 *
 *   npx tsx bench/refresh-fleet.ts [--items=10000] [--rate=200] [--interval=5000] [--batch=1]
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type Broker, createBroker } from '../functions/core/broker.js';
import type { BrokerConfig } from '../functions/core/config.js';
import { type BrokerSettings, resolveSettings } from '../functions/core/settings.js';
import { TABLE } from '../functions/core/store/schema.js';
import { createRefresher, createRefreshHandler } from '../functions/refresh/handler.js';
import { createSweepHandler } from '../functions/sweep/handler.js';
import { HubSimulator } from '../local/hub-simulator/index.js';
import { DynamoCounter, type DynamoCounts } from './support/dynamo-counter.js';
import { startDynamoProcess } from './support/dynamodb-process.js';
import { FunctionPool } from './support/function-pool.js';
import { issueTokens, peakInWindow, rateLimitRule } from './support/hub.js';
import { HandlerLog, type OutcomeCounts } from './support/logs.js';
import { describeMachine, type Machine, processCpuSeconds } from './support/machine.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  mockSecretsManager,
  newSecretsClient,
  SECRET_ID,
} from './support/secrets.js';
import { seedItems, tokenItem } from './support/seed.js';
import { BenchRefreshQueue, type SqsRequests } from './support/sqs-queue.js';
import { forEachConcurrent, sleep } from './support/stats.js';

const SCOPES = ['warehouse.items.r'];
const TABLE_NAME = 'tokens-fleet';
const PROBE_TABLE = 'tokens-probe';
/** How long an idle worker's poll waits before asking again (SQS long polling answers at once when a message comes). */
const POLL_MS = 1000;

export interface FleetOptions {
  readonly items: number;
  /** R: the Hub requests per second the refresh fleet may make (hubRequestsPerSecond). */
  readonly rate: number;
  /** @default 50 */
  readonly hubLatencyMs?: number;
  /** The sweeper's schedule, shortened from a minute. @default 5000 */
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

export interface FleetResult {
  readonly items: number;
  readonly rate: number;
  readonly hubLatencyMs: number;
  readonly settings: Pick<
    BrokerSettings,
    | 'hubRequestsPerSecond'
    | 'refreshConcurrency'
    | 'scheduleIntervalMs'
    | 'refreshAheadMs'
    | 'keysPerMessage'
    | 'dueShards'
  > & { readonly batchSize: number; readonly pacingMs: number };
  readonly completed: boolean;
  readonly renewed: number;
  /** Time to refresh all N, or, when stopped early, N at the steady pace reached (`projected`). */
  readonly wallMs: number;
  readonly projected: boolean;
  /** How long the run actually went. */
  readonly ranMs: number;
  readonly idealMs: number;
  /** wallMs / idealMs; the goal is at most 1.1. */
  readonly ratio: number;
  readonly goalMet: boolean;
  readonly achievedPerSecond: number;
  /** Renewals per second between 10 % and 90 % of the run: the fleet's pace once started. */
  readonly steadyPerSecond: number;
  readonly outcomes: OutcomeCounts;
  readonly failures: Readonly<Record<string, number>>;
  readonly crashes: number;
  readonly hub: {
    readonly requests: number;
    readonly refreshTokenGrants: number;
    readonly clientCredentialsGrants: number;
    readonly ok: number;
    readonly rateLimited: number;
    readonly peakPerSecond: number;
    readonly peakPer10Seconds: number;
    /** Hub requests in each second of the run, from its start. */
    readonly perSecond: readonly number[];
  };
  readonly dynamo: DynamoCounts;
  /** Per renewed token. */
  readonly perToken: {
    readonly requests: Readonly<Record<string, number>>;
    readonly total: number;
    readonly readUnits: number;
    readonly writeUnits: number;
    readonly indexWriteUnits: number;
    readonly dueIndexItemsRead: number;
  };
  readonly secretsManagerReads: number;
  readonly sweeps: { readonly runs: number; readonly backlogRuns: number; readonly keysEnqueued: number };
  readonly sqs: { readonly messagesSent: number; readonly requests: SqsRequests };
  readonly workers: { readonly invocations: number; readonly containers: number; readonly medianMs: number };
  /** Items still due after the run (should be 0). */
  readonly stillDue: number;
  readonly seedMs: number;
  readonly cpu: { readonly benchProcess: number; readonly dynalite: number };
  /** dynalite alone, before the run: conditional UpdateItems a second, 64 clients in parallel. */
  readonly dynaliteUpdatesPerSecond: number;
  readonly machine: Machine;
  readonly command: string;
}

/** N keys: ⌈√N⌉ organizations, each with up to ⌈√N⌉ one-scope sets `s<n>.items.r`. */
function fleetKeys(count: number): Array<{ organizationId: string; scope: string }> {
  const perOrganization = Math.ceil(Math.sqrt(count));
  const organizations = Array.from({ length: Math.ceil(count / perOrganization) }, () => randomUUID());
  return Array.from({ length: count }, (_, index) => ({
    organizationId: organizations[Math.floor(index / perOrganization)] as string,
    scope: `s${String(index % perOrganization).padStart(4, '0')}.items.r`,
  }));
}

function refreshConcurrencyFor(rate: number): number {
  // infra/sizing.ts: no invocation starts more than 5 Hub requests a second.
  return Math.max(2, Math.ceil(rate / 5));
}

/** dynalite's own ceiling for the refresh's write mix, measured on a scratch table. */
async function probeDynalite(
  dynamo: Awaited<ReturnType<typeof startDynamoProcess>>,
  operations: number,
): Promise<number> {
  const now = Date.now();
  const items = Array.from({ length: operations / 2 }, () =>
    tokenItem({
      organizationId: randomUUID(),
      client: 'default',
      scopes: SCOPES,
      accessToken: 'x'.repeat(900),
      refreshToken: 'r'.repeat(43),
      issuedAt: now - 500_000,
      expiresAt: now + 100_000,
      dueAt: now - 1000,
      lastRequestedAt: now,
      dueShards: 8,
    }),
  );
  const seedClient = dynamo.client();
  await seedItems(seedClient, PROBE_TABLE, items);
  seedClient.destroy();
  const clients = Array.from({ length: 64 }, () => dynamo.client());
  const startedAt = performance.now();
  await forEachConcurrent(items, 64, async (item, index) => {
    const client = clients[index % clients.length];
    if (client === undefined) return;
    const Key = { pk: { S: String(item.pk) }, sk: { S: String(item.sk) } };
    // Like acquireLease (ALL_NEW) and saveToken (moves the due index entry).
    await client.send(
      new UpdateItemCommand({
        TableName: PROBE_TABLE,
        Key,
        UpdateExpression: 'SET leaseOwner = :owner, leaseExpiresAt = :until',
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(leaseOwner) OR leaseExpiresAt < :now) AND dueAt <= :now',
        ExpressionAttributeValues: {
          ':owner': { S: 'probe' },
          ':until': { N: '1' },
          ':now': { N: String(now) },
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: PROBE_TABLE,
        Key,
        UpdateExpression:
          'SET accessToken = :token, dueAt = :due, version = version + :one REMOVE leaseOwner',
        ConditionExpression: 'leaseOwner = :owner',
        ExpressionAttributeValues: {
          ':owner': { S: 'probe' },
          ':token': { S: 'y'.repeat(900) },
          ':due': { N: String(now + 500_000) },
          ':one': { N: '1' },
        },
      }),
    );
  });
  const perSecond = operations / ((performance.now() - startedAt) / 1000);
  for (const client of clients) client.destroy();
  return perSecond;
}

async function countStillDue(client: DynamoDBClient, shards: number, before: number): Promise<number> {
  let total = 0;
  for (let shard = 0; shard < shards; shard++) {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: TABLE_NAME,
          IndexName: TABLE.dueIndex.name,
          KeyConditionExpression: 'dueShard = :shard AND dueAt <= :before',
          ExpressionAttributeValues: { ':shard': { N: String(shard) }, ':before': { N: String(before) } },
          Select: 'COUNT',
          ExclusiveStartKey: startKey,
        }),
      );
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }
  return total;
}

export async function runRefreshFleet(options: FleetOptions): Promise<FleetResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const items = options.items;
  const rate = options.rate;
  const hubLatencyMs = options.hubLatencyMs ?? 50;
  const scheduleIntervalMs = options.scheduleIntervalMs ?? 5000;
  const batchSize = options.batchSize ?? 1;
  const idealMs = (items / rate) * 1000;
  const timeoutMs = options.timeoutMs ?? 4 * idealMs + 60_000;
  const settings = resolveSettings({
    hubRequestsPerSecond: rate,
    refreshConcurrency: refreshConcurrencyFor(rate),
    scheduleIntervalMs,
    // The default two minutes is more than two (shortened) intervals; the seeded items are due anyway.
    refreshAheadMs: Math.max(120_000, 2 * scheduleIntervalMs),
  });
  const pacingMs = (1000 * settings.refreshConcurrency) / settings.hubRequestsPerSecond;
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
    const probeOperations = 4000;
    const dynaliteUpdatesPerSecond = await probeDynalite(dynamo, probeOperations);
    log(`  dynalite alone: ${dynaliteUpdatesPerSecond.toFixed(0)} conditional UpdateItems/s (64 clients)`);

    // Seed: N keys, each with a real refresh token the simulator issued. The keys are spread over
    // √N organizations × √N scope sets: the simulator looks grants up by a linear scan
    // (local/hub-simulator/scopes.ts, GrantStore.lookup), which with N organizations would make it,
    // not the broker, the bottleneck. The broker treats every key alike whatever its bearer.
    const seedStartedAt = performance.now();
    const keys = fleetKeys(items);
    const byOrganization = new Map<string, string[]>();
    for (const key of keys)
      byOrganization.set(key.organizationId, [...(byOrganization.get(key.organizationId) ?? []), key.scope]);
    for (const [id, scopes] of byOrganization) hub.grant({ bearer: `Org/${id}`, scopes });
    const issued = await issueTokens(
      hub,
      { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
      keys.map((key) => `Org/${key.organizationId}.${key.scope}`),
      128,
    );
    const seededAt = Date.now();
    const rows = keys.map(({ organizationId, scope }, index) => {
      const token = issued[index];
      if (token === undefined) throw new Error('missing seed token');
      return tokenItem({
        organizationId,
        client: 'default',
        scopes: [scope],
        accessToken: token.accessToken,
        refreshToken: token.refreshToken,
        // Issued 8 minutes ago, expiring in 2: due now, oldest first in seeding order.
        issuedAt: seededAt - 480_000,
        expiresAt: seededAt + 120_000,
        dueAt: seededAt - items + index,
        lastRequestedAt: seededAt - 60_000,
        dueShards: settings.dueShards,
      });
    });
    const seedClient = dynamo.client();
    await seedItems(seedClient, TABLE_NAME, rows);
    const seedMs = performance.now() - seedStartedAt;
    log(`  seeded ${items} items in ${(seedMs / 1000).toFixed(1)} s`);
    hub.resetCounts();
    const limit = rateLimitRule(rate, 10);
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
    // [ms since start, renewed so far], taken every 100 ms (timers run late under load: keep the time).
    const samples: Array<readonly [number, number]> = [];
    const sampler = setInterval(
      () => samples.push([performance.now() - startedAt, handlerLog.renewed()]),
      100,
    );
    const progress = setInterval(() => {
      const seconds = (performance.now() - startedAt) / 1000;
      log(
        `  … ${seconds.toFixed(0)} s: ${handlerLog.renewed()} refreshed (${(handlerLog.renewed() / seconds).toFixed(0)}/s), ` +
          `${handlerLog.outcomes.skipped} duplicates, ${handlerLog.outcomes.failed} failed, queue ${queue.visible} visible ` +
          `+ ${queue.inFlight} in flight`,
      );
    }, 15_000);

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
    const cpu = {
      benchProcess: (() => {
        const used = process.cpuUsage(cpuBefore);
        return (used.user + used.system) / 1e6 / ((endedAt - startedAt) / 1000);
      })(),
      dynalite: (processCpuSeconds(dynamo.pid) - dynaliteCpuBefore) / ((endedAt - startedAt) / 1000),
    };

    const renewed = handlerLog.renewed();
    const ranMs = endedAt - startedAt;
    const dynamoCounts = counter.snapshot();
    const perRenewed = (value: number) => (renewed === 0 ? Number.NaN : value / renewed);
    const hubRequests = hub.requests;
    // Pace between 10 % and 90 % of the renewals.
    const first = samples.find(([, count]) => count >= 0.1 * items);
    const last = samples.find(([, count]) => count >= 0.9 * items);
    const lastSample = samples[samples.length - 1];
    const steadyPerSecond =
      first !== undefined && last !== undefined && last[0] > first[0]
        ? (last[1] - first[1]) / ((last[0] - first[0]) / 1000)
        : // Stopped early: the pace from the 10 % mark to the end.
          first !== undefined && lastSample !== undefined && lastSample[0] > first[0]
          ? (lastSample[1] - first[1]) / ((lastSample[0] - first[0]) / 1000)
          : Number.NaN;
    const completed = renewed >= items;
    const wallMs = completed ? ranMs : ranMs + ((items - renewed) / steadyPerSecond) * 1000;
    const checkClient = dynamo.client();
    const stillDue = await countStillDue(checkClient, settings.dueShards, seededAt);
    checkClient.destroy();
    seedClient.destroy();
    const sweeps = handlerLog.sweeps;
    const queueStats = queue.stats();
    const workerStats = workerPool.stats();
    const result: FleetResult = {
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
      completed,
      renewed,
      wallMs,
      projected: !completed,
      ranMs,
      idealMs,
      ratio: wallMs / idealMs,
      goalMet: completed && wallMs <= 1.1 * idealMs,
      achievedPerSecond: renewed / (ranMs / 1000),
      steadyPerSecond,
      outcomes: { ...handlerLog.outcomes },
      failures: { ...handlerLog.failures },
      crashes: handlerLog.crashes,
      hub: {
        requests: hubRequests.length,
        refreshTokenGrants: hub.count({ grantType: 'refresh_token' }),
        clientCredentialsGrants: hub.count({ grantType: 'client_credentials' }),
        ok: hub.count({ status: 200 }),
        rateLimited: limit.limited(),
        peakPerSecond: peakInWindow(hubRequests, 1000),
        peakPer10Seconds: peakInWindow(hubRequests, 10_000),
        perSecond: perSecond(hubRequests, startEpoch, wallMs),
      },
      dynamo: dynamoCounts,
      perToken: {
        requests: Object.fromEntries(
          Object.entries(dynamoCounts.requests).map(([name, count]) => [name, perRenewed(count)]),
        ),
        total: perRenewed(dynamoCounts.total),
        readUnits: perRenewed(dynamoCounts.readUnits),
        writeUnits: perRenewed(dynamoCounts.writeUnits),
        indexWriteUnits: perRenewed(dynamoCounts.indexWriteUnits),
        dueIndexItemsRead: perRenewed(dynamoCounts.queryItems),
      },
      secretsManagerReads: secrets.reads(),
      sweeps: {
        runs: sweeps.length,
        backlogRuns: sweeps.filter((sweep) => sweep.backlog).length,
        keysEnqueued: sweeps.reduce((sum, sweep) => sum + sweep.enqueued, 0),
      },
      sqs: { messagesSent: queueStats.messagesSent, requests: queueStats.requests },
      workers: {
        invocations: workerStats.invocations,
        containers: workerStats.containers,
        medianMs: workerStats.medianMs,
      },
      stillDue,
      seedMs,
      cpu,
      dynaliteUpdatesPerSecond,
      machine: describeMachine(),
      command:
        `npx tsx bench/refresh-fleet.ts --items=${items} --rate=${rate} --interval=${scheduleIntervalMs} ` +
        `--batch=${batchSize}${options.timeoutMs === undefined ? '' : ` --timeout=${options.timeoutMs / 1000}`}`,
    };
    log(
      `  ${completed ? 'done' : `STOPPED after ${(ranMs / 1000).toFixed(0)} s, projected`}: ${renewed}/${items} in ` +
        `${(wallMs / 1000).toFixed(1)} s = ${result.ratio.toFixed(2)} × N/R (${result.achievedPerSecond.toFixed(0)}/s, steady ` +
        `${steadyPerSecond.toFixed(0)}/s); Hub ${result.hub.requests} requests (${result.hub.rateLimited} × 429, ` +
        `peak ${result.hub.peakPerSecond}/s); DynamoDB ${result.perToken.total.toFixed(2)} requests/token; ` +
        `SM reads ${result.secretsManagerReads}; CPU bench ${(cpu.benchProcess * 100).toFixed(0)} %, dynalite ` +
        `${(cpu.dynalite * 100).toFixed(0)} % of a core`,
    );
    return result;
  } finally {
    await Promise.all(brokers.map((broker) => broker.hub.close()));
    secrets.restore();
    await hub.stop();
    await dynamo.stop();
  }
}

function perSecond(requests: readonly { at: number }[], startEpoch: number, wallMs: number): number[] {
  const seconds = new Array<number>(Math.ceil(wallMs / 1000) + 1).fill(0);
  for (const { at } of requests) {
    const second = Math.floor((at - startEpoch) / 1000);
    if (second >= 0 && second < seconds.length) seconds[second] = (seconds[second] ?? 0) + 1;
  }
  return seconds;
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runRefreshFleet({
    items: Number(flag('items') ?? 10_000),
    rate: Number(flag('rate') ?? 200),
    scheduleIntervalMs: Number(flag('interval') ?? 5000),
    batchSize: Number(flag('batch') ?? 1),
    hubLatencyMs: Number(flag('latency') ?? 50),
    ...(flag('timeout') === undefined ? {} : { timeoutMs: Number(flag('timeout')) * 1000 }),
  });
  console.log(JSON.stringify(result, null, 2));
}
