import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../functions/core/broker.js';
import { encodeRefreshMessage } from '../../functions/core/refresh/messages.js';
import { type ScopeSet, scopeSet } from '../../functions/core/scopes.js';
import { resolveSettings } from '../../functions/core/settings.js';
import { type TokenKey, tokenKey } from '../../functions/core/store/key.js';
import { createRefresher, createRefreshHandler } from '../../functions/refresh/handler.js';
import { createSweepHandler } from '../../functions/sweep/handler.js';
import { type Harness, startHarness } from '../support/harness.js';
import { silentLogger } from '../support/logs.js';
import { createTestQueue, refreshQueue, sqsRecord, type TestQueue } from '../support/queue.js';

describe('scheduled refresh through the real sweeper and worker handlers', () => {
  let harness: Harness;
  let queue: TestQueue;
  let now: number;
  let broker: Broker;
  let sweep: ReturnType<typeof createSweepHandler>;
  let refresh: ReturnType<typeof createRefreshHandler>;

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
    harness.hub.clearFaults();
    // The pacer's waits move the fake clock, so no test sleeps for real.
    broker = harness.broker({
      clock: () => now,
      sleep: async (ms) => {
        now += ms;
      },
      hub: { backoffBaseMs: 1 },
    });
    const dependencies = { broker, refresher: createRefresher(broker) };
    sweep = createSweepHandler(() => ({ broker, queue: refreshQueue(queue) }), silentLogger());
    refresh = createRefreshHandler(() => dependencies, silentLogger());
  });

  async function mintKeys(count: number): Promise<Array<{ key: TokenKey; scopes: ScopeSet }>> {
    const minted: Array<{ key: TokenKey; scopes: ScopeSet }> = [];
    for (let i = 0; i < count; i += 50) {
      const batch = Array.from({ length: Math.min(50, count - i) }, () => {
        const org = randomUUID();
        harness.hub.grant({ bearer: `Org/${org}`, scopes: ['warehouse.items.r'] });
        const scopes = scopeSet({ type: 'Organization', id: org }, ['warehouse.items.r']);
        return { key: tokenKey('default', scopes), scopes };
      });
      await Promise.all(batch.map(({ scopes }) => broker.service.getToken({ scopes })));
      minted.push(...batch);
    }
    return minted;
  }

  /** Reads items 50 at a time, as a client with a bounded socket pool would. */
  async function readAll(keys: readonly TokenKey[]) {
    const records = [];
    for (let i = 0; i < keys.length; i += 50) {
      records.push(
        ...(await Promise.all(
          keys.slice(i, i + 50).map((key) => broker.store.get(key, { consistent: true })),
        )),
      );
    }
    return records;
  }

  async function mintOne(): Promise<{ key: TokenKey; scopes: ScopeSet }> {
    const [minted] = await mintKeys(1);
    if (minted === undefined) throw new Error('nothing minted');
    return minted;
  }

  /** Runs the sweeper, then the worker on every message it queued, as Lambda would. */
  async function tick(): Promise<{ failures: number }> {
    await sweep({}, { getRemainingTimeInMillis: () => 60_000 });
    let failures = 0;
    for (let event = queue.takeEvent(); event !== undefined; event = queue.takeEvent()) {
      failures += (await refresh(event)).batchItemFailures.length;
    }
    return { failures };
  }

  it('refreshes 1,000 due tokens, rotating each refresh token', async () => {
    const minted = await mintKeys(1000);
    const before = await readAll(minted.map(({ key }) => key));
    harness.hub.resetCounts();
    now += 500_000;
    await harness.reportUse(
      minted.map(({ key }) => key),
      now,
    );

    const result = await sweep({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(result).toMatchObject({ due: 1000, enqueued: 1000, backlog: false });
    expect(queue.sentMessages()).toBe(100);
    expect((await tick()).failures).toBe(0);

    expect(harness.hub.count({ grantType: 'refresh_token', status: 200 })).toBe(1000);
    expect(harness.hub.count()).toBe(1000);
    const after = await readAll(minted.map(({ key }) => key));
    after.forEach((record, i) => {
      expect(record?.status).toBe('active');
      expect(record?.token?.accessToken).not.toBe(before[i]?.token?.accessToken);
      expect(record?.refreshToken).not.toBe(before[i]?.refreshToken);
      expect(record?.dueAt).toBeGreaterThan(now);
    });
    // Nothing is due any more: the next sweep sends nothing.
    expect((await sweep({}, { getRemainingTimeInMillis: () => 60_000 })).enqueued).toBe(0);
  });

  it('falls back to client credentials when the Hub refuses the refresh token', async () => {
    const { key } = await mintOne();
    harness.hub.resetCounts();
    harness.hub.inject({ fault: { kind: 'invalidGrant' }, times: 1 });
    now += 500_000;
    await harness.reportUse([key], now);
    await tick();
    expect(harness.hub.count({ grantType: 'refresh_token' })).toBe(1);
    expect(harness.hub.count({ grantType: 'client_credentials', status: 200 })).toBe(1);
    expect((await broker.store.get(key, { consistent: true }))?.status).toBe('active');
  });

  it('marks a revoked grant, takes it out of the due index, and tells consumers', async () => {
    const { key, scopes } = await mintOne();
    harness.hub.revoke(key.pk);
    now += 500_000;
    await harness.reportUse([key], now);
    await tick();
    const record = await broker.store.get(key, { consistent: true });
    expect(record).toMatchObject({ status: 'revoked', lastError: { errorType: 'ScopeNotGrantedError' } });
    expect(record?.dueAt).toBeUndefined();
    // A refused grant makes the token worthless: no reader, whatever it checks, can use it.
    expect(record?.token).toBeUndefined();
    expect(record?.refreshToken).toBeUndefined();
    // Consumers get the recorded refusal without a new Hub request, within the negative cache.
    const counted = harness.hub.count();
    await expect(broker.service.getToken({ scopes })).rejects.toMatchObject({ name: 'ScopeNotGrantedError' });
    expect(harness.hub.count()).toBe(counted);
    now += 600_000;
    expect((await sweep({}, { getRemainingTimeInMillis: () => 60_000 })).enqueued).toBe(0);
  });

  it('backs off on transient failures, keeps the token, and recovers', async () => {
    const { key } = await mintOne();
    const good = await broker.store.get(key, { consistent: true });
    harness.hub.inject({ fault: { kind: 'status', status: 503 } });
    now += 500_000;
    await harness.reportUse([key], now);
    await tick();
    let record = await broker.store.get(key, { consistent: true });
    expect(record?.status).toBe('failing');
    expect(record?.token?.accessToken).toBe(good?.token?.accessToken);
    expect(record?.nextAttemptAt).toBeGreaterThanOrEqual(now);
    expect(record?.dueAt).toBe(record?.nextAttemptAt);

    // A second failure backs off up to twice as long.
    now = (record?.nextAttemptAt ?? now) + 1;
    await tick();
    record = await broker.store.get(key, { consistent: true });
    expect(record?.failureCount).toBe(2);
    expect((record?.nextAttemptAt ?? 0) - now).toBeLessThanOrEqual(
      2 * broker.config.settings.failureBackoffBaseMs,
    );

    harness.hub.clearFaults();
    now = (record?.nextAttemptAt ?? now) + 1;
    await tick();
    record = await broker.store.get(key, { consistent: true });
    expect(record).toMatchObject({ status: 'active', failureCount: 0 });
    expect(record?.lastError).toBeUndefined();
    expect(record?.token?.accessToken).not.toBe(good?.token?.accessToken);
  });

  it('honours RateLimit-Reset before trying again, within the window RateLimit-Rule names', async () => {
    const { key } = await mintOne();
    // 300reqs/60s: a reset 50 s ahead is honoured as sent.
    harness.hub.inject({ fault: { kind: 'rateLimited', resetInSeconds: 50 } });
    now += 500_000;
    await harness.reportUse([key], now);
    await tick();
    const record = await broker.store.get(key, { consistent: true });
    expect(record?.status).toBe('failing');
    expect(record?.nextAttemptAt).toBeGreaterThanOrEqual(now + 49_000);
  });

  it('shrugs off duplicate and out-of-order deliveries', async () => {
    const { key } = await mintOne();
    now += 500_000;
    await harness.reportUse([key], now);
    const body = encodeRefreshMessage([key]);
    harness.hub.resetCounts();
    const first = await refresh({ Records: [sqsRecord(body), sqsRecord(body)] });
    expect(first.batchItemFailures).toEqual([]);
    expect(harness.hub.count()).toBe(1);
    const afterFirst = await broker.store.get(key, { consistent: true });
    // The same message again, late: the key is no longer due, nothing happens.
    await refresh({ Records: [sqsRecord(body)] });
    expect(harness.hub.count()).toBe(1);
    expect((await broker.store.get(key, { consistent: true }))?.version).toBe(afterFirst?.version);
  });

  it('leaves a token nobody used since its check point to expire, and mints on the next request', async () => {
    const [unused, used] = await mintKeys(2);
    if (unused === undefined || used === undefined) throw new Error('nothing minted');
    now += 500_000;
    await harness.reportUse([used.key], now);
    harness.hub.resetCounts();
    await tick();
    // One Hub request: the used key's refresh. The unused key left the due index, token kept.
    expect(harness.hub.count()).toBe(1);
    const kept = await broker.store.get(unused.key, { consistent: true });
    expect(kept?.dueAt).toBeUndefined();
    expect(kept?.token).toBeDefined();
    expect((await broker.store.get(used.key, { consistent: true }))?.dueAt).toBeGreaterThan(now);
    // Still servable until it runs out. Asked for past its check point, it is in use after all: the
    // mint records the use and files the key again at its refresh time, for the next sweep.
    expect((await broker.service.getToken({ scopes: unused.scopes })).outcome).toBe('stored');
    const refiled = await broker.store.get(unused.key, { consistent: true });
    expect(refiled?.dueAt).toBeLessThanOrEqual(now);
    expect(refiled?.lastRequestedAt).toBe(now);
    await tick();
    expect(harness.hub.count()).toBe(2);
    expect((await broker.store.get(unused.key, { consistent: true }))?.token?.accessToken).not.toBe(
      kept?.token?.accessToken,
    );
  });

  it('a key left to expire is minted once on its next request', async () => {
    const { key, scopes } = await mintOne();
    now += 500_000;
    await tick();
    expect((await broker.store.get(key, { consistent: true }))?.dueAt).toBeUndefined();
    harness.hub.resetCounts();
    now += 100_000;
    expect((await broker.service.getToken({ scopes })).outcome).toBe('minted');
    expect(harness.hub.count()).toBe(1);
    expect((await broker.store.get(key, { consistent: true }))?.dueAt).toBeGreaterThan(now);
  });

  it('stops refreshing a key nobody asked for in idleAfter', async () => {
    const { key } = await mintOne();
    now += broker.config.settings.idleAfterMs + 1;
    harness.hub.resetCounts();
    await tick();
    expect(harness.hub.count()).toBe(0);
    const record = await broker.store.get(key, { consistent: true });
    expect(record?.dueAt).toBeUndefined();
    expect(record?.token).toBeDefined();
  });

  it('drops a malformed message and reports a crash for a retry', async () => {
    const malformed = await refresh({ Records: [sqsRecord('{"nope": 1}')] });
    expect(malformed.batchItemFailures).toEqual([]);
    const broken = harness.broker({ clock: () => now, dynamodb: harness.dynamo.client() });
    const crashing = createRefreshHandler(
      () => ({
        broker: broken,
        refresher: {
          refresh: async () => {
            throw new Error('DynamoDB is down');
          },
        } as unknown as ReturnType<typeof createRefresher>,
      }),
      silentLogger(),
    );
    const record = sqsRecord(encodeRefreshMessage([{ pk: 'Org/x', sk: 'default#warehouse.items.r' }]));
    expect((await crashing({ Records: [record] })).batchItemFailures).toEqual([
      { itemIdentifier: record.messageId },
    ]);
  });

  it('hands out no more per run than the fleet can refresh before the next one', async () => {
    const limited = harness.broker({ clock: () => now });
    Object.assign(limited.config, {});
    const settings = resolveSettings({ hubRequestsPerSecond: 1, dueShards: 4 });
    const small = { ...limited, config: { ...limited.config, settings } };
    const limitedSweep = createSweepHandler(
      () => ({ broker: small, queue: refreshQueue(queue) }),
      silentLogger(),
    );
    await mintKeys(100);
    now += 500_000;
    const first = await limitedSweep({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(first.enqueued).toBe(60);
    expect(first.backlog).toBe(true);
    expect(first.oldestOverdueMs).toBeGreaterThan(0);
    // Still queued: the next run adds nothing until the workers catch up.
    expect((await limitedSweep({}, { getRemainingTimeInMillis: () => 60_000 })).enqueued).toBe(0);
  });

  it('measures lateness from the time the sweep was scheduled for, not from when it started', async () => {
    await mintKeys(3);
    now += 600_000; // every token past its due time, none refreshed yet
    const context = { getRemainingTimeInMillis: () => 60_000 };
    const plain = await sweep({}, context); // no Scheduler input (the local runtime): up to the start
    expect(plain.oldestOverdueMs).toBeGreaterThan(20_000);
    // A run that starts 20 s after its slot (a cold start, a slow Scheduler) is not 20 s later.
    const late = await sweep({ scheduledTime: new Date(now - 20_000).toISOString() }, context);
    expect(plain.oldestOverdueMs - late.oldestOverdueMs).toBe(20_000);
    // A slot after the start (a skewed clock) never hides lateness.
    const skewed = await sweep({ scheduledTime: new Date(now + 60_000).toISOString() }, context);
    expect(skewed.oldestOverdueMs).toBe(plain.oldestOverdueMs);
  });

  it('rejects a refresh window shorter than two schedule intervals', () => {
    expect(() => resolveSettings({ refreshAheadMs: 90_000, scheduleIntervalMs: 60_000 })).toThrow(
      /at least two schedule intervals/,
    );
  });
});
