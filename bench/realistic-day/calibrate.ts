/**
 * What one operation of each kind costs in DynamoDB request units, measured once on dynalite with
 * the broker's real parts (the token service as the mint runs it, the refresher, the sweeper, the
 * consumer's own read and use report) on a simulated clock: dynalite applies DynamoDB's size rules,
 * and ../support/dynamo-counter.ts adds the due index's writes. The items carry four scopes, so they
 * weigh 1–2 KB as real Zaikio tokens do. The day model multiplies these by its operation counts.
 */
import { randomUUID } from 'node:crypto';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { readToken } from '../../functions/consumer/item.js';
import { type Broker, createBroker } from '../../functions/core/broker.js';
import type { BrokerConfig } from '../../functions/core/config.js';
import type { RefreshOutcome } from '../../functions/core/refresh/refresher.js';
import { type ScopeSet, scopeSet } from '../../functions/core/scopes.js';
import { resolveSettings } from '../../functions/core/settings.js';
import { type TokenKey, tokenKey } from '../../functions/core/store/key.js';
import { createRefresher } from '../../functions/refresh/handler.js';
import { createSweepHandler } from '../../functions/sweep/handler.js';
import { startLocalDynamoDB } from '../../local/dynamodb.js';
import { HubSimulator } from '../../local/hub-simulator/index.js';
import { DynamoCounter } from '../support/dynamo-counter.js';
import { silentLogger } from '../support/logs.js';
import { CLIENT_ID, CLIENT_SECRET, CREDENTIALS_JSON } from '../support/secrets.js';
import { seedItems, tokenItem } from '../support/seed.js';
import { BenchRefreshQueue } from '../support/sqs-queue.js';
import { type Calibration, FALLBACK_UNITS, type Operation, type Units } from './units.js';

const SCOPES = ['warehouse.items.r', 'warehouse.orders.r', 'procurement.orders.r', 'mission_control.jobs.r'];
const TABLE = 'tokens-calibration';
const SWEEP_TABLE = 'tokens-calibration-sweep';
const KEYS = 20;
/** Enough due keys that the sweeper's Queries read more than one 4 KB unit per shard. */
const SWEEP_KEYS = 400;

/** Runs the calibration; on any failure, says why and returns the fallback numbers. */
export async function calibrate(): Promise<Calibration> {
  try {
    return await measure();
  } catch (error) {
    return { source: 'fallback', units: FALLBACK_UNITS, error: (error as Error).message };
  }
}

async function measure(): Promise<Calibration> {
  let now = Date.parse('2027-01-04T00:00:00Z');
  const clock = () => now;
  // The worker's pacer waits on this: simulated time, no real waiting.
  const sleep = async (ms: number) => {
    now += ms;
  };
  const dynamo = await startLocalDynamoDB();
  await dynamo.createTokensTable(TABLE);
  await dynamo.createTokensTable(SWEEP_TABLE);
  const hub = await HubSimulator.start({
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    clock,
  });
  const config: BrokerConfig = {
    tableName: TABLE,
    hubBaseUrl: hub.url,
    clients: { default: 'zaikio/calibration' },
    defaultClient: 'default',
    settings: resolveSettings(),
    grants: {},
  };
  const clients: DynamoDBClient[] = [];
  const brokers: Broker[] = [];
  const counted = (counter: DynamoCounter, overrides: Partial<BrokerConfig> = {}) => {
    const dynamodb = counter.attach(dynamo.client());
    clients.push(dynamodb);
    const broker = createBroker(
      { ...config, ...overrides },
      { dynamodb, secretSource: { get: async () => CREDENTIALS_JSON }, clock, sleep },
    );
    brokers.push(broker);
    return broker;
  };
  try {
    const mint = new DynamoCounter();
    const worker = new DynamoCounter();
    const consumer = new DynamoCounter();
    const sweeper = new DynamoCounter();
    const mintBroker = counted(mint);
    const workerBroker = counted(worker);
    const consumerClient = consumer.attach(dynamo.client());
    clients.push(consumerClient);
    const units: Partial<Record<Operation, Units>> = {};
    const perKey = (counter: DynamoCounter, keys: number): Units => {
      const counts = counter.snapshot();
      if (counts.errors > 0 || counts.conditionalFailures > 0) {
        throw new Error(
          `calibration: ${counts.errors} errors, ${counts.conditionalFailures} failed conditions`,
        );
      }
      return {
        readUnits: counts.readUnits / keys,
        writeUnits: (counts.writeUnits + counts.indexWriteUnits) / keys,
      };
    };
    const newKeys = (): Array<{ key: TokenKey; scopes: ScopeSet }> =>
      Array.from({ length: KEYS }, () => {
        const id = randomUUID();
        hub.grant({ bearer: `Org/${id}`, scopes: SCOPES });
        const scopes = scopeSet({ type: 'Organization', id }, SCOPES);
        return { key: tokenKey('default', scopes), scopes };
      });
    const mintAll = async (keys: ReadonlyArray<{ scopes: ScopeSet }>, expected: string) => {
      for (const { scopes } of keys) {
        const { outcome } = await mintBroker.service.getToken({ scopes });
        if (outcome !== expected) throw new Error(`calibration: a mint was ${outcome}, not ${expected}`);
      }
    };
    const refreshAll = async (
      keys: ReadonlyArray<{ key: TokenKey }>,
      expected: RefreshOutcome,
      read: boolean,
    ) => {
      const refresher = createRefresher(workerBroker);
      const sweptAt = now;
      for (const { key } of keys) {
        const { outcome } = await refresher.refresh(key, read ? { sweptAt } : {});
        if (outcome !== expected) throw new Error(`calibration: a refresh was ${outcome}, not ${expected}`);
      }
    };
    const sweep = async (broker: Broker) => {
      const queue = new BenchRefreshQueue(broker.config.settings.keysPerMessage);
      return createSweepHandler(() => ({ broker, queue }), silentLogger())(
        {},
        { getRemainingTimeInMillis: () => 50_000 },
      );
    };

    // In use: minted, read by a consumer, its use reported past the check point, refreshed when due.
    const inUse = newKeys();
    mint.reset();
    await mintAll(inUse, 'minted');
    units.mintNew = perKey(mint, KEYS);
    for (const { key } of inUse) await readToken(consumerClient, TABLE, key);
    units.consumerRead = perKey(consumer, KEYS);
    // Past the check point a consumer's report (an Event Invoke of the mint) records the use: the
    // mint serves the stored token of a key still in the due index.
    now += 300_001;
    mint.reset();
    await mintAll(inUse, 'stored');
    units.mintServed = perKey(mint, KEYS);
    now += 200_000;
    const sweeperBroker = counted(sweeper);
    if ((await sweep(sweeperBroker)).due !== KEYS) throw new Error('calibration: the sweep missed due keys');
    worker.reset();
    await refreshAll(inUse, 'refreshed', true);
    units.refreshRead = perKey(worker, KEYS);
    sweeper.reset();
    await sweep(sweeperBroker);
    units.sweepEmpty = perKey(sweeper, 1);

    // Not in use: minted, never used past its check point, retired when due, minted again once expired.
    const unused = newKeys();
    await mintAll(unused, 'minted');
    now += 500_000;
    worker.reset();
    await refreshAll(unused, 'retired', true);
    units.retire = perKey(worker, KEYS);
    now += 200_000;
    mint.reset();
    await mintAll(unused, 'minted');
    units.mintExpired = perKey(mint, KEYS);
    // Served past its check point with no use since: the mint records one (these keys are in the
    // index again, having just been minted).
    now += 300_001;
    await mintAll(unused, 'stored');
    // Due and in use: refreshed under a lease when the message has no sweep time.
    now += 200_000;
    worker.reset();
    await refreshAll(unused, 'refreshed', false);
    units.refreshLease = perKey(worker, KEYS);

    const seeder = dynamo.client();
    clients.push(seeder);
    const sweepReadUnits = await sweepWithKeys(counted, sweep, seeder, now);
    units.sweepPerDueKey = {
      readUnits: Math.max(0, sweepReadUnits - units.sweepEmpty.readUnits) / SWEEP_KEYS,
      writeUnits: 0,
    };
    return {
      source: 'measured',
      units: units as Record<Operation, Units>,
      itemBytes: await itemBytes(consumerClient, inUse[0]?.key),
      keys: KEYS,
    };
  } finally {
    for (const client of clients) client.destroy();
    await Promise.all(brokers.map((broker) => broker.hub.close()));
    await hub.stop();
    await dynamo.stop();
  }
}

/**
 * The read units of one sweep that finds SWEEP_KEYS due keys: the due index holds keys only, so many
 * fit in one read unit. The items are written straight into a table of their own (../support/seed.ts).
 */
async function sweepWithKeys(
  counted: (counter: DynamoCounter, overrides: Partial<BrokerConfig>) => Broker,
  sweep: (broker: Broker) => Promise<{ due: number }>,
  seeder: DynamoDBClient,
  now: number,
): Promise<number> {
  const counter = new DynamoCounter();
  // A budget above SWEEP_KEYS, so one run reads them all.
  const settings = resolveSettings({ hubRequestsPerSecond: 100 });
  const broker = counted(counter, { tableName: SWEEP_TABLE, settings });
  const items = Array.from({ length: SWEEP_KEYS }, (_, index) =>
    tokenItem({
      organizationId: randomUUID(),
      client: 'default',
      scopes: [...SCOPES].sort(),
      accessToken: 'x'.repeat(900),
      issuedAt: now - 500_000,
      expiresAt: now + 100_000,
      dueAt: now - SWEEP_KEYS + index,
      lastRequestedAt: now,
      dueShards: settings.dueShards,
    }),
  );
  await seedItems(seeder, SWEEP_TABLE, items);
  counter.reset();
  const { due } = await sweep(broker);
  if (due !== SWEEP_KEYS) throw new Error(`calibration: the sweep found ${due} of ${SWEEP_KEYS} due keys`);
  return counter.snapshot().readUnits;
}

/** DynamoDB's item size: attribute names plus values (numbers at about one byte per two digits). */
async function itemBytes(client: DynamoDBClient, key: TokenKey | undefined): Promise<number | undefined> {
  if (key === undefined) return undefined;
  const { Item } = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }),
  );
  if (Item === undefined) return undefined;
  const size = (value: AttributeValue): number => {
    if (value.S !== undefined) return Buffer.byteLength(value.S);
    if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\./g, '').length / 2) + 1;
    if (value.L !== undefined) return 3 + value.L.reduce((sum, entry) => sum + 1 + size(entry), 0);
    if (value.M !== undefined)
      return (
        3 + Object.entries(value.M).reduce((sum, [name, entry]) => sum + name.length + 1 + size(entry), 0)
      );
    return 1;
  };
  return Object.entries(Item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + size(value), 0);
}
