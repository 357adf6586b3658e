/**
 * Faults that once left a key stuck, gave a consumer a misleading error, or blocked an app far
 * longer than they lasted: each ends in a working token or an honest, bounded error. Real parts
 * (dynalite, the Hub simulator with fault injection), a fake clock, and the broker's own paths:
 * the token service, the refresher and the refresh and mint handlers.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../functions/core/broker.js';
import type { BrokerError } from '../../functions/core/errors.js';
import { CLIENT_REFUSAL_HOLD_MS } from '../../functions/core/lifecycle/lease.js';
import { refreshPacingMs } from '../../functions/core/lifecycle/refresh.js';
import { createLogger } from '../../functions/core/logger.js';
import { Refresher } from '../../functions/core/refresh/refresher.js';
import { type ScopeSet, scopeSet } from '../../functions/core/scopes.js';
import { resolveSettings } from '../../functions/core/settings.js';
import { type TokenKey, tokenKey } from '../../functions/core/store/key.js';
import type { TokenRepository } from '../../functions/core/store/repository.js';
import { fromWire } from '../../functions/core/wire-error.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import { createRefresher, createRefreshHandler } from '../../functions/refresh/handler.js';
import { createSweepHandler } from '../../functions/sweep/handler.js';
import { CLIENT_ID, CLIENT_SECRET, type Harness, SECRET_ID, startHarness } from '../support/harness.js';
import { captureOutput, silentLogger } from '../support/logs.js';
import { createTestQueue, refreshQueue } from '../support/queue.js';
import { VirtualTime } from '../support/virtual-time.js';

const SECOND = 1000;
/** The mint function is invoked through a consumer's alias; this grant lets that consumer ask for anything. */
const CONSUMER = 'hardening';
const GRANTS = {
  [CONSUMER]: { bearers: '*', scopes: ['*'], clients: ['default'], newKeysPerHour: 10_000 },
} as const;
const CONTEXT = { invokedFunctionArn: `arn:aws:lambda:eu-central-1:123456789012:function:mint:${CONSUMER}` };

async function rejection(promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise;
  } catch (error) {
    return error as BrokerError;
  }
  throw new Error('expected a rejection');
}

describe('hardening: every fault ends in a working token or an honest, bounded error', () => {
  let harness: Harness;
  let now: number;
  let day = 0;
  let broker: Broker;

  beforeAll(async () => {
    harness = await startHarness({ hub: { clock: () => now } });
  });
  afterAll(async () => harness.stop());
  beforeEach(() => {
    day += 1;
    now = Date.parse('2027-05-01T08:00:00Z') + day * 86_400_000;
    harness.hub.clearFaults();
    harness.hub.resetCounts();
    harness.setSecret(JSON.stringify({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }));
    broker = newBroker();
  });

  /** A new container: its own caches, the shared fake clock (sleeps move it). */
  function newBroker(settings?: Parameters<typeof resolveSettings>[0]): Broker {
    return harness.broker({
      clock: () => now,
      sleep: async (ms) => {
        now += ms;
      },
      hub: { backoffBaseMs: 1 },
      ...(settings === undefined
        ? {}
        : { config: { ...harness.config, settings: resolveSettings(settings) } }),
    });
  }

  function grantedKey(): { scopes: ScopeSet; key: TokenKey; org: string } {
    const org = randomUUID();
    harness.hub.grant({ bearer: `Org/${org}`, scopes: ['warehouse.items.r'] });
    const scopes = scopeSet({ type: 'Organization', id: org }, ['warehouse.items.r']);
    return { scopes, key: tokenKey('default', scopes), org };
  }

  describe('a refused refresh token is dropped and client credentials take over', () => {
    const refusals = [
      ['unauthorized_client', { kind: 'status', status: 400, body: '{"error":"unauthorized_client"}' }],
      ['invalid_request', { kind: 'status', status: 400, body: '{"error":"invalid_request"}' }],
      ['unsupported_grant_type', { kind: 'status', status: 400, body: '{"error":"unsupported_grant_type"}' }],
      ['a 401', { kind: 'invalidClient' }],
    ] as const;
    for (const [label, fault] of refusals) {
      it(`${label} to the refresh grant: a new token from client credentials in the same exchange`, async () => {
        const { scopes, key } = grantedKey();
        await broker.service.getToken({ scopes });
        const stored = await broker.store.get(key, { consistent: true });
        expect(stored?.refreshToken).toBeDefined();
        harness.hub.resetCounts();
        harness.hub.inject({ fault, grant: 'refresh_token' });
        now = (stored?.token?.expiresAt ?? now) - 30 * SECOND;

        const { outcome } = await broker.service.getToken({ scopes });
        expect(outcome).toBe('minted');
        expect(harness.hub.count({ grantType: 'refresh_token' })).toBe(1);
        expect(harness.hub.count({ grantType: 'client_credentials', status: 200 })).toBe(1);
        const after = await broker.store.get(key, { consistent: true });
        expect(after).toMatchObject({ status: 'active', failureCount: 0 });
        expect(after?.refreshToken).not.toBe(stored?.refreshToken);
      });
    }

    it('only a refusal of client credentials too is the error, and the refresher records it', async () => {
      const { scopes, key } = grantedKey();
      await broker.service.getToken({ scopes });
      harness.hub.inject({ fault: { kind: 'invalidClient' }, grant: 'refresh_token' });
      harness.hub.inject({
        fault: { kind: 'scopeError', codes: ['ungranted_scope'] },
        grant: 'client_credentials',
      });
      now += 500 * SECOND;
      await harness.reportUse([key], now);
      const refresher = createRefresher(broker);
      const { outcome, error } = await refresher.refresh(key);
      expect(outcome).toBe('revoked');
      expect(error?.name).toBe('ScopeNotGrantedError');
      expect(harness.hub.count({ grantType: 'refresh_token', status: 401 })).toBe(1);
      expect(harness.hub.count({ grantType: 'client_credentials', status: 402 })).toBe(1);
    });
  });

  describe('a rate-limit reset is bounded by the window the rule names', () => {
    it('a RateLimit-Reset in milliseconds waits no longer than the 60 s of 300reqs/60s', async () => {
      const { scopes } = grantedKey();
      harness.hub.inject({
        fault: { kind: 'rateLimited', resetInSeconds: 300, format: 'milliseconds' },
        times: 1,
      });
      const error = await rejection(broker.service.getToken({ scopes }));
      expect(error.name).toBe('RateLimitedError');
      expect(Date.parse(error.details.retryAt ?? '')).toBeLessThanOrEqual(now + 60 * SECOND);
      now += 61 * SECOND;
      await expect(broker.service.getToken({ scopes })).resolves.toMatchObject({ outcome: 'minted' });
    });

    it('a Retry-After date a year ahead, without a rule, waits at most 5 minutes', async () => {
      const { scopes } = grantedKey();
      harness.hub.inject({
        fault: {
          kind: 'rateLimited',
          header: 'Retry-After',
          format: 'httpDate',
          resetInSeconds: 365 * 86_400,
        },
        times: 1,
      });
      const error = await rejection(broker.service.getToken({ scopes }));
      expect(Date.parse(error.details.retryAt ?? '')).toBeLessThanOrEqual(now + 300 * SECOND);
      now += 301 * SECOND;
      await expect(broker.service.getToken({ scopes })).resolves.toMatchObject({ outcome: 'minted' });
    });

    it('a UNIX timestamp within the window is honoured as sent', async () => {
      const { scopes } = grantedKey();
      harness.hub.inject({ fault: { kind: 'rateLimited', resetInSeconds: 40 }, times: 1 });
      const error = await rejection(broker.service.getToken({ scopes }));
      const retryAt = Date.parse(error.details.retryAt ?? '');
      expect(retryAt).toBeGreaterThanOrEqual(now + 40 * SECOND);
      expect(retryAt).toBeLessThanOrEqual(now + 41 * SECOND);
    });
  });

  it('outages do not inflate refusals: six 503s and a refusal wait one negative-cache period', async () => {
    const org = randomUUID();
    const scopes = scopeSet({ type: 'Organization', id: org }, ['warehouse.items.r']);
    harness.hub.inject({ fault: { kind: 'status', status: 503 } });
    for (let i = 0; i < 6; i++) {
      expect((await rejection(broker.service.getToken({ scopes }))).name).toBe('HubUnavailableError');
      now += broker.config.settings.failureBackoffBaseMs;
    }
    harness.hub.clearFaults();
    expect((await rejection(broker.service.getToken({ scopes }))).name).toBe('ScopeNotGrantedError');
    harness.hub.grant({ bearer: `Org/${org}`, scopes: ['warehouse.items.r'] });
    now += broker.config.settings.negativeCacheMs;
    await expect(broker.service.getToken({ scopes })).resolves.toMatchObject({ outcome: 'minted' });
  });

  it('pacing never makes a key time out unsent: a low rate limit refreshes every key of a message', async () => {
    // Concurrent waits must overlap as they do in Lambda: on virtual time, sleeps wake in order and
    // requests take no time, where a clock moved by each sleep in turn would add the waits up.
    const time = new VirtualTime(now, (virtualNow) => {
      now = virtualNow;
    });
    const dynamodb = time.trackClient(harness.dynamo.client());
    const dispatcher = time.hubDispatcher(harness.hub.url);
    // 0.8 requests a second for two workers: one request every 2.5 s per worker.
    const settings = resolveSettings({ hubRequestsPerSecond: 0.8 });
    const slow = harness.broker({
      clock: time.clock,
      sleep: time.sleep,
      dynamodb,
      hub: { backoffBaseMs: 1, dispatcher },
      config: { ...harness.config, settings },
    });
    const queue = createTestQueue();
    try {
      const minted = Array.from({ length: 10 }, grantedKey);
      for (const { scopes } of minted) await slow.service.getToken({ scopes });
      const sweep = createSweepHandler(() => ({ broker: slow, queue: refreshQueue(queue) }), silentLogger());
      const dependencies = { broker: slow, refresher: createRefresher(slow) };
      const refresh = createRefreshHandler(() => dependencies, silentLogger());
      time.advance(500 * SECOND);
      // In use past their check point: due, and to be refreshed rather than retired.
      await harness.reportUse(
        minted.map(({ key }) => key),
        now,
      );
      harness.hub.resetCounts();
      // Keys of earlier tests are due as well: at least this test's ten go out.
      expect((await sweep({}, { getRemainingTimeInMillis: () => 60_000 })).enqueued).toBeGreaterThanOrEqual(
        10,
      );
      for (let event = queue.takeEvent(1); event !== undefined; event = queue.takeEvent(1)) {
        expect((await refresh(event)).batchItemFailures).toEqual([]);
      }
      for (const { key } of minted) {
        const record = await slow.store.get(key, { consistent: true });
        expect(record?.lastError?.code, record?.lastError?.message).toBeUndefined();
        expect(record?.status).toBe('active');
      }
      // The waits were real ones on the fake clock: the Hub saw the requests one pacing slot apart.
      const arrivals = harness.hub.requests.map((request) => request.at);
      expect(arrivals.length).toBeGreaterThanOrEqual(10);
      const gaps = arrivals.slice(1).map((at, index) => at - (arrivals[index] ?? at));
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(refreshPacingMs(settings));
    } finally {
      queue.restore();
      dynamodb.destroy();
      await dispatcher.close();
    }
  });

  describe('a Secrets Manager hiccup is transient', () => {
    /** The next GetSecretValue fails with `failure`; later ones answer the secret again. */
    const failSecretReadOnce = (failure: Error): void => {
      let failed = false;
      harness.secrets.on(GetSecretValueCommand, { SecretId: SECRET_ID }).callsFake(() => {
        if (failed)
          return { SecretString: JSON.stringify({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }) };
        failed = true;
        throw failure;
      });
    };

    for (const [label, failure] of [
      ['throttling', Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })],
      ['a 5xx', Object.assign(new Error('internal'), { name: 'InternalServiceError' })],
      ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ] as const) {
      it(`${label} is a retryable DependencyUnavailableError, and the next try works`, async () => {
        failSecretReadOnce(failure);
        const { scopes } = grantedKey();
        const error = await rejection(broker.service.getToken({ scopes }));
        expect(error).toMatchObject({
          name: 'DependencyUnavailableError',
          code: 'secrets_unavailable',
          transient: true,
        });
        now += broker.config.settings.failureBackoffBaseMs;
        await expect(broker.service.getToken({ scopes })).resolves.toMatchObject({ outcome: 'minted' });
      });
    }

    it('a missing secret is still InvalidClientError', async () => {
      failSecretReadOnce(Object.assign(new Error('no such secret'), { name: 'ResourceNotFoundException' }));
      const error = await rejection(broker.service.getToken(grantedKey()));
      expect(error).toMatchObject({
        name: 'InvalidClientError',
        code: 'secret_unavailable',
        transient: false,
      });
    });
  });

  it('several keys, one bad secret, one reaction: one Hub 401 and one fresh secret read', async () => {
    const keys = Array.from({ length: 50 }, grantedKey);
    harness.hub.rotateSecret(CLIENT_ID, 'rotated-at-the-hub-only');
    try {
      const readsBefore = harness.secretReads();
      for (const { scopes } of keys) {
        const error = await rejection(broker.service.getToken({ scopes }));
        expect(error).toMatchObject({ name: 'InvalidClientError', code: 'invalid_client' });
      }
      expect(harness.hub.count({ status: 401 })).toBe(1);
      // The first read of this container, and the one fresh read that confirmed the refusal.
      expect(harness.secretReads() - readsBefore).toBe(2);
      // The answer holds only a while: then the Hub is asked again, and a fixed secret works.
      harness.setSecret(JSON.stringify({ clientId: CLIENT_ID, clientSecret: 'rotated-at-the-hub-only' }));
      now += CLIENT_REFUSAL_HOLD_MS + broker.config.settings.failureBackoffBaseMs;
      const [first] = keys;
      if (first === undefined) throw new Error('no key');
      await expect(broker.service.getToken({ scopes: first.scopes })).resolves.toMatchObject({
        outcome: 'minted',
      });
    } finally {
      harness.hub.rotateSecret(CLIENT_ID, CLIENT_SECRET);
    }
  });

  it('one bad secret under concurrency: the keys a worker has in flight share one fresh read', async () => {
    const keys = Array.from({ length: 30 }, grantedKey);
    for (const { scopes } of keys) await broker.service.getToken({ scopes });
    const worker = newBroker();
    harness.hub.rotateSecret(CLIENT_ID, 'rotated-at-the-hub-only');
    harness.hub.resetCounts();
    try {
      const readsBefore = harness.secretReads();
      const queue = createTestQueue();
      try {
        const sweep = createSweepHandler(
          () => ({ broker: worker, queue: refreshQueue(queue) }),
          silentLogger(),
        );
        const dependencies = { broker: worker, refresher: createRefresher(worker) };
        const refresh = createRefreshHandler(() => dependencies, silentLogger());
        now += 500 * SECOND;
        await harness.reportUse(
          keys.map(({ key }) => key),
          now,
        );
        await sweep({}, { getRemainingTimeInMillis: () => 60_000 });
        for (let event = queue.takeEvent(); event !== undefined; event = queue.takeEvent())
          await refresh(event);
      } finally {
        queue.restore();
      }
      // At most the keys already in flight (8) reach the Hub; the rest answer from the refusal.
      expect(harness.hub.count({ grantType: 'client_credentials', status: 401 })).toBeLessThanOrEqual(8);
      expect(harness.secretReads() - readsBefore).toBeLessThanOrEqual(2);
      for (const { key } of keys) {
        const record = await worker.store.get(key, { consistent: true });
        expect(record?.lastError?.errorType).toBe('InvalidClientError');
      }
    } finally {
      harness.hub.rotateSecret(CLIENT_ID, CLIENT_SECRET);
    }
  });

  it('retiring an unused key never retires one just used, under the lease or on the read', async () => {
    const worker = newBroker();
    const consumerSide = newBroker();
    const minted = [grantedKey(), grantedKey()];
    for (const { scopes } of minted) await worker.service.getToken({ scopes });
    // Past the tokens' check point and refresh time, no use recorded: both are to be retired.
    now += 500 * SECOND;
    const store = worker.store;
    // A consumer is served the still-valid token right after the worker read the key as unused.
    let raced = false;
    const useRightAfter = async (scopes: ScopeSet) => {
      if (raced) return;
      raced = true;
      await consumerSide.service.getToken({ scopes });
    };
    const racing = (scopes: ScopeSet): TokenRepository => ({
      get: async (k, o) => {
        const record = await store.get(k, o);
        await useRightAfter(scopes);
        return record;
      },
      acquireLease: async (k, terms, target) => {
        const lease = await store.acquireLease(k, terms, target);
        await useRightAfter(scopes);
        return lease;
      },
      saveToken: (lease, write) => store.saveToken(lease, write),
      recordFailure: (lease, failure) => store.recordFailure(lease, failure),
      releaseLease: (lease) => store.releaseLease(lease),
      retire: (claim, options) => store.retire(claim, options),
      recordUse: (k, use) => store.recordUse(k, use),
    });
    const refresherOver = (repository: TokenRepository) =>
      new Refresher({
        store: repository,
        fetcher: worker.fetcher,
        settings: worker.config.settings,
        clock: () => now,
      });
    // Under the lease (a message without its sweep's time), then on the read (with it).
    for (const [index, options] of [{}, { sweptAt: now }].entries()) {
      const { key, scopes } = minted[index] as (typeof minted)[number];
      raced = false;
      expect((await refresherOver(racing(scopes)).refresh(key, options)).outcome).toBe('refreshed');
      const record = await store.get(key, { consistent: true });
      expect(record?.dueAt).toBeGreaterThan(now);
      expect(record?.lastRequestedAt).toBe(now);
    }
    // Without a use since, an unused key is retired: one conditional write, no Hub request.
    now += 500 * SECOND;
    const counted = harness.hub.count();
    const { key } = minted[0] as (typeof minted)[number];
    expect((await refresherOver(store).refresh(key, { sweptAt: now })).outcome).toBe('retired');
    expect(harness.hub.count()).toBe(counted);
    expect((await store.get(key, { consistent: true }))?.dueAt).toBeUndefined();
  });

  describe('only documented error types cross the mint contract', () => {
    const invoke = async (mint: ReturnType<typeof createMintHandler>, event: unknown) => {
      try {
        return await mint(event, CONTEXT);
      } catch (error) {
        throw error instanceof Error ? fromWire(error.name, error.message) : error;
      }
    };
    const withGrants = (b: Broker): Broker => ({ ...b, config: { ...b.config, grants: GRANTS } });

    it('invalid_grant to the client credentials grant itself is InvalidClientError', async () => {
      const mint = createMintHandler(() => withGrants(broker), silentLogger());
      const { org } = grantedKey();
      harness.hub.inject({ fault: { kind: 'invalidGrant' }, grant: 'client_credentials' });
      const error = await rejection(invoke(mint, { organizationId: org, scopes: ['warehouse.items.r'] }));
      expect(error).toMatchObject({ name: 'InvalidClientError', code: 'invalid_client' });
    });

    it('DynamoDB failing is a DependencyUnavailableError, not a Hub failure', async () => {
      const dynamodb = new DynamoDBClient({
        endpoint: 'http://127.0.0.1:9',
        region: 'local',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      });
      try {
        const down = harness.broker({ clock: () => now, dynamodb });
        const mint = createMintHandler(() => withGrants(down), silentLogger());
        const error = await rejection(
          invoke(mint, { organizationId: grantedKey().org, scopes: ['warehouse.items.r'] }),
        );
        expect(error).toMatchObject({
          name: 'DependencyUnavailableError',
          code: 'store_unavailable',
          transient: true,
        });
      } finally {
        dynamodb.destroy();
      }
    });
  });

  it('logs carry the service name the construct sets, so two brokers can be told apart', async () => {
    const previous = process.env.POWERTOOLS_SERVICE_NAME;
    process.env.POWERTOOLS_SERVICE_NAME = 'sandbox-broker-7f3a';
    try {
      const output = await captureOutput(async () => {
        const mint = createMintHandler(
          () => ({ ...broker, config: { ...broker.config, grants: GRANTS } }),
          createLogger(),
        );
        await mint({ organizationId: grantedKey().org, scopes: ['warehouse.items.r'] }, CONTEXT);
      });
      const lines = output.split('\n').filter((line) => line.startsWith('{'));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ service: 'sandbox-broker-7f3a' });
    } finally {
      if (previous === undefined) delete process.env.POWERTOOLS_SERVICE_NAME;
      else process.env.POWERTOOLS_SERVICE_NAME = previous;
    }
  });
});
