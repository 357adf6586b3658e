/**
 * What a scheduled refresh writes, and the fencing of a refresh claimed by a read instead of a lease.
 * Write units are what dynalite reports with DynamoDB's size rules plus the due index's (a KEYS_ONLY
 * entry that moves: a delete and a put, 1 unit each), counted on the worker's own DynamoDB client.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoCounter } from '../../bench/support/dynamo-counter.js';
import type { Broker } from '../../functions/core/broker.js';
import { HubUnavailableError } from '../../functions/core/errors.js';
import type { FetchRequest, TokenFetcher } from '../../functions/core/fetcher.js';
import { failureWrite, leaseTerms, purgeAt, tokenWrite } from '../../functions/core/lifecycle/index.js';
import { encodeRefreshMessage } from '../../functions/core/refresh/messages.js';
import { Refresher } from '../../functions/core/refresh/refresher.js';
import { type ScopeSet, scopeSet } from '../../functions/core/scopes.js';
import { type TokenKey, tokenKey } from '../../functions/core/store/key.js';
import { createRefresher, createRefreshHandler } from '../../functions/refresh/handler.js';
import { createSweepHandler } from '../../functions/sweep/handler.js';
import { type Harness, startHarness } from '../support/harness.js';
import { silentLogger } from '../support/logs.js';
import { createTestQueue, refreshQueue, sqsRecord, type TestQueue } from '../support/queue.js';

describe('writes per scheduled refresh', () => {
  let harness: Harness;
  let queue: TestQueue;
  let now: number;
  let broker: Broker;
  let mintedKeys: TokenKey[] = [];
  const clock = () => now;
  const sleep = async (ms: number) => {
    now += ms;
  };

  beforeAll(async () => {
    harness = await startHarness({
      settings: { hubRequestsPerSecond: 2000, dueShards: 4 },
      hub: { clock: () => now },
    });
  });
  afterAll(async () => harness.stop());
  // Each test starts 60 days before the previous one (more than any test moves its clock), so the
  // keys of earlier tests, due weeks later, are never due in a later test's sweep.
  let daysBack = 0;
  beforeEach(() => {
    now = Date.parse('2027-01-01T00:00:00Z') - daysBack++ * 60 * 86_400_000;
    queue?.restore();
    queue = createTestQueue();
    broker = harness.broker({ clock, sleep, hub: { backoffBaseMs: 1 } });
    mintedKeys = [];
  });

  async function mintKeys(
    count: number,
    names: readonly string[] = ['warehouse.items.r'],
  ): Promise<Array<{ key: TokenKey; scopes: ScopeSet }>> {
    const minted = Array.from({ length: count }, () => {
      const org = randomUUID();
      harness.hub.grant({ bearer: `Org/${org}`, scopes: [...names] });
      const scopes = scopeSet({ type: 'Organization', id: org }, [...names]);
      return { key: tokenKey('default', scopes), scopes };
    });
    await Promise.all(minted.map(({ scopes }) => broker.service.getToken({ scopes })));
    mintedKeys.push(...minted.map(({ key }) => key));
    return minted;
  }

  /** Moves the clock past the minted keys' refresh time, each used past its check point on the way. */
  async function dueAndInUse(): Promise<void> {
    now += 500_000;
    await harness.reportUse(mintedKeys, now);
  }

  /** A worker container whose DynamoDB requests are counted. */
  function countedWorker(): { counter: DynamoCounter; refresh: ReturnType<typeof createRefreshHandler> } {
    const counter = new DynamoCounter();
    const worker = harness.broker({ clock, sleep, dynamodb: counter.attach(harness.dynamo.client()) });
    const dependencies = { broker: worker, refresher: createRefresher(worker) };
    return { counter, refresh: createRefreshHandler(() => dependencies, silentLogger()) };
  }

  // The item's size decides a write's units: 1 per started KB. One scope keeps the simulator's token
  // items under 1 KB; four take them over 1 KB, the size docs/deploy.md counts for real items.
  const SIZES = [
    { item: 'under 1 KB', scopes: ['warehouse.items.r'], lease: 4, read: 3 },
    {
      item: '1–2 KB',
      scopes: ['warehouse.items.r', 'warehouse.orders.r', 'procurement.orders.r', 'mission_control.jobs.r'],
      lease: 6,
      read: 4,
    },
  ];

  it.each(SIZES)(
    'a refresh from a sweep (no lease write) of an item $item costs $read write units',
    async (size) => {
      const keys = 20;
      await mintKeys(keys, size.scopes);
      await dueAndInUse();
      harness.hub.resetCounts();
      const sweep = createSweepHandler(() => ({ broker, queue: refreshQueue(queue) }), silentLogger());
      expect((await sweep({}, { getRemainingTimeInMillis: () => 60_000 })).enqueued).toBe(keys);
      const { counter, refresh } = countedWorker();
      for (let event = queue.takeEvent(); event !== undefined; event = queue.takeEvent()) {
        expect((await refresh(event)).batchItemFailures).toEqual([]);
      }
      expect(harness.hub.count({ grantType: 'refresh_token', status: 200 })).toBe(keys);
      const counts = counter.snapshot();
      // One consistent read (1 unit under 4 KB) and one write of the item, which moves its index entry.
      expect(counts.requests).toEqual({ GetItem: keys, UpdateItem: keys });
      expect(counts.conditionalFailures).toBe(0);
      expect(counts.indexWriteUnits / keys).toBe(2);
      expect((counts.writeUnits + counts.indexWriteUnits) / keys).toBe(size.read);
      expect(counts.readUnits / keys).toBe(1);
    },
  );

  it('takes the lease when the sweep ran so late after its scheduled time that the exchange may meet the next one', async () => {
    const keys = 5;
    await mintKeys(keys);
    await dueAndInUse();
    const sweep = createSweepHandler(() => ({ broker, queue: refreshQueue(queue) }), silentLogger());
    // Scheduled 50 s ago: the next sweep is 10 s away, less than a Hub deadline.
    const late = { scheduledTime: new Date(now - 50_000).toISOString() };
    expect((await sweep(late, { getRemainingTimeInMillis: () => 60_000 })).enqueued).toBe(keys);
    const { counter, refresh } = countedWorker();
    for (let event = queue.takeEvent(); event !== undefined; event = queue.takeEvent()) {
      expect((await refresh(event)).batchItemFailures).toEqual([]);
    }
    // A lease write and a token write per key, as under any lease.
    expect(counter.snapshot().requests).toEqual({ GetItem: keys, UpdateItem: 2 * keys });
  });

  it.each(SIZES)('a refresh under a lease of an item $item costs $lease write units', async (size) => {
    const keys = 20;
    const minted = await mintKeys(keys, size.scopes);
    await dueAndInUse();
    harness.hub.resetCounts();
    const { counter, refresh } = countedWorker();
    // Without the sweep's time the worker takes each lease, as every refresh did before.
    const body = encodeRefreshMessage(minted.map(({ key }) => key));
    expect((await refresh({ Records: [sqsRecord(body)] })).batchItemFailures).toEqual([]);
    expect(harness.hub.count({ grantType: 'refresh_token', status: 200 })).toBe(keys);
    const counts = counter.snapshot();
    expect(counts.requests).toEqual({ UpdateItem: 2 * keys });
    expect((counts.writeUnits + counts.indexWriteUnits) / keys).toBe(size.lease);
  });

  it('a late worker under a read claim cannot overwrite a newer token', async () => {
    const [minted] = await mintKeys(1);
    if (minted === undefined) throw new Error('nothing minted');
    const { key } = minted;
    await dueAndInUse();
    const sweptAt = now;
    // The late worker reads the key, gets its token from the Hub, then stalls before writing.
    let fetched!: () => void;
    const hasFetched = new Promise<void>((resolve) => {
      fetched = resolve;
    });
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const late = harness.broker({ clock, sleep });
    const stallingFetcher: TokenFetcher = {
      fetch: async (request: FetchRequest) => {
        const result = await late.fetcher.fetch(request);
        fetched();
        await stalled;
        return result;
      },
    };
    const { settings } = harness.config;
    const lateWorker = new Refresher({ store: late.store, fetcher: stallingFetcher, settings, clock });
    const lateRefresh = lateWorker.refresh(key, { sweptAt });
    await hasFetched;

    // Meanwhile another worker refreshes the key under its lease and stores a newer token.
    const other = harness.broker({ clock, sleep });
    const { outcome } = await createRefresher(other).refresh(key);
    expect(['refreshed', 'fell-back']).toContain(outcome);
    const newer = await other.store.get(key, { consistent: true });

    resume();
    expect((await lateRefresh).outcome).toBe('skipped');
    const stored = await broker.store.get(key, { consistent: true });
    expect(stored?.token?.accessToken).toBe(newer?.token?.accessToken);
    expect(stored?.version).toBe(newer?.version);
    expect(stored?.refreshToken).toBe(newer?.refreshToken);
  });

  it('a lease taken after the read fences the read claim before its holder has written', async () => {
    const [minted] = await mintKeys(1);
    if (minted === undefined) throw new Error('nothing minted');
    const { key, scopes } = minted;
    await dueAndInUse();
    const { settings } = harness.config;
    const record = await broker.store.get(key, { consistent: true });
    if (record?.dueAt === undefined) throw new Error('the key should be due');
    const claim = { key, version: record.version, dueAt: record.dueAt, readAt: now, record };

    // A mint takes the key after the read (say, a caller forcing a refresh) and is still at the Hub.
    now += 1000;
    const holder = harness.broker({ clock, sleep });
    const identity = { client: 'default', bearer: key.pk, scopes: scopes.scopes };
    const lease = await holder.store.acquireLease(key, leaseTerms('mint', now, settings), {
      identity,
      purgeAt: purgeAt(now, settings),
    });
    if (lease === undefined) throw new Error('the mint should get the lease');

    const ours = await broker.fetcher.fetch({ client: 'default', scopes, deadlineAt: now + 10_000 });
    const write = tokenWrite(ours.token, now, settings, Math.random, { requested: false });
    // Version and refresh time are as read, but the lease is not: nothing is written.
    expect(await broker.store.saveToken(claim, write)).toBe(false);
    const failure = new HubUnavailableError('hub_timeout', 'the late worker timed out');
    expect(
      await broker.store.recordFailure(
        claim,
        failureWrite(failure, record, now, settings, Math.random, 'refresh'),
      ),
    ).toBe(false);

    const theirs = await holder.fetcher.fetch({ client: 'default', scopes, deadlineAt: now + 10_000 });
    const mintWrite = tokenWrite(theirs.token, now, settings, Math.random, { requested: true });
    expect(await holder.store.saveToken(lease, mintWrite)).toBe(true);
    const stored = await broker.store.get(key, { consistent: true });
    expect(stored?.token?.accessToken).toBe(theirs.token.accessToken);
    expect(stored).toMatchObject({ status: 'active', version: record.version + 1 });
    expect(stored?.leaseOwner).toBeUndefined();
  });

  it('a key twice in one batch, each copy with its sweep time, is refreshed once', async () => {
    const [minted] = await mintKeys(1);
    if (minted === undefined) throw new Error('nothing minted');
    await dueAndInUse();
    harness.hub.resetCounts();
    const body = encodeRefreshMessage([minted.key], now);
    const { refresh } = countedWorker();
    expect((await refresh({ Records: [sqsRecord(body), sqsRecord(body)] })).batchItemFailures).toEqual([]);
    expect(harness.hub.count()).toBe(1);
  });
});
