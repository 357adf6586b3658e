import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/support/random.js';
import { createTokenClient } from '../../functions/consumer/index.js';
import { scopeSet } from '../../functions/core/scopes.js';
import { tokenKey } from '../../functions/core/store/key.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import { createRefresher, createRefreshHandler } from '../../functions/refresh/handler.js';
import { createSweepHandler } from '../../functions/sweep/handler.js';
import { overdueThresholdSeconds } from '../../infra/observability.js';
import { startLambdaEndpoint } from '../../local/lambda-endpoint.js';
import { type Harness, startHarness, TEST_CONSUMER } from '../support/harness.js';
import { silentLogger } from '../support/logs.js';
import { createTestQueue, refreshQueue } from '../support/queue.js';

const KEYS = 60;
/** Keys a consumer uses every minute all day; the others are asked for once, at the start. */
const USED_KEYS = 48;
const LIFETIME_S = 600;
const TICK_MS = 60_000;
const DAY_MS = Number(process.env.SIMULATED_HOURS ?? 24) * 3600_000;
/** Refresh grants the Hub refuses in a run (half `unauthorized_client`, half 401). */
const REFUSED_REFRESHES = 240;

describe('a simulated day of scheduled refresh', () => {
  let harness: Harness;
  let now = Date.parse('2027-03-01T00:00:00Z');

  beforeAll(async () => {
    harness = await startHarness({
      // The request ceiling is not under test here (the pacer's own test covers it); the sim runs the
      // fleet's workers one after another, so a low ceiling would stretch each tick artificially.
      settings: { hubRequestsPerSecond: 100 },
      hub: { clock: () => now, tokenLifetimeSeconds: LIFETIME_S, random: seededRandom(7) },
    });
  });
  afterAll(async () => harness.stop());

  it('keeps every key in use valid all day while the Hub fails 5% of requests and refuses a run of refresh grants, near the minimum request count, and lets the others expire', async () => {
    const queue = createTestQueue();
    const broker = harness.broker({
      clock: () => now,
      random: seededRandom(42),
      sleep: async (ms) => {
        now += ms;
      },
    });
    const { settings } = broker.config;
    const dependencies = { broker, refresher: createRefresher(broker) };
    const sweep = createSweepHandler(() => ({ broker, queue: refreshQueue(queue) }), silentLogger());
    const refresh = createRefreshHandler(() => dependencies, silentLogger());

    const SCOPES = ['warehouse.items.r', 'zaikio.organization.r'];
    const used: string[] = [];
    const usedPks = new Set<string>();
    for (let i = 0; i < KEYS; i++) {
      const org = randomUUID();
      harness.hub.grant({ bearer: `Org/${org}`, scopes: SCOPES });
      const scopes = scopeSet({ type: 'Organization', id: org }, SCOPES);
      await broker.service.getToken({ scopes });
      if (i < USED_KEYS) {
        used.push(org);
        usedPks.add(tokenKey('default', scopes).pk);
      }
    }
    // The consumers: the real client, reading the table and reporting use through the real mint
    // handler behind the local Lambda endpoint. A key in use that ever needs a token from the mint
    // (a synchronous Invoke; a use report is an asynchronous one) fails the test.
    const endpoint = await startLambdaEndpoint({
      functions: { mint: createMintHandler(() => broker, silentLogger()) },
    });
    const invocations = { RequestResponse: 0, Event: 0 };
    const consumerTable = harness.dynamo.client();
    const lambda = new LambdaClient({
      region: 'local',
      endpoint: endpoint.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    lambda.middlewareStack.add(
      (next) => async (args) => {
        const type = (args.input as { InvocationType?: 'RequestResponse' | 'Event' }).InvocationType;
        invocations[type ?? 'RequestResponse'] += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countInvocations' },
    );
    const consumers = createTokenClient({
      tableName: harness.config.tableName,
      mintFunctionName: `mint:${TEST_CONSUMER}`,
      dynamodb: consumerTable,
      lambda,
      clock: () => now,
    });
    harness.hub.resetCounts();
    harness.hub.inject({ fault: { kind: 'status', status: 503 }, probability: 0.05 });

    const dynamodb = harness.dynamo.client();
    const start = now;
    let maxOverdueSeconds = 0;
    let expired = 0;
    let underMinValidity = 0;
    const refusalsFrom = Math.floor(DAY_MS / TICK_MS / 4);
    for (let tick = 1; tick <= DAY_MS / TICK_MS; tick++) {
      // Paced requests move the fake clock within a tick; time never runs backwards.
      now = Math.max(now, start + tick * TICK_MS);
      if (tick === refusalsFrom) {
        // A quarter into the day the Hub starts refusing refresh grants, as when Zaikio withdraws
        // refresh tokens from client credentials apps: every key must carry on with client credentials.
        harness.hub.inject({
          fault: { kind: 'status', status: 400, body: '{"error":"unauthorized_client"}' },
          grant: 'refresh_token',
          times: REFUSED_REFRESHES / 2,
        });
        harness.hub.inject({
          fault: { kind: 'invalidClient' },
          grant: 'refresh_token',
          times: REFUSED_REFRESHES / 2,
        });
      }
      const swept = await sweep(
        { scheduledTime: new Date(now).toISOString() },
        { getRemainingTimeInMillis: () => TICK_MS },
      );
      // A healthy fleet never reaches TokensOverdue's threshold: keys are found within one sweep.
      maxOverdueSeconds = Math.max(maxOverdueSeconds, Math.floor(swept.oldestOverdueMs / 1000));
      for (let event = queue.takeEvent(); event !== undefined; event = queue.takeEvent()) {
        expect((await refresh(event)).batchItemFailures).toEqual([]);
      }
      for (const organizationId of used) {
        const token = await consumers.getAccessToken({ organizationId, scopes: SCOPES });
        expect(token.source).not.toBe('mint');
      }
      // The reports land before the next sweep, as they do minutes ahead of it in Lambda.
      await consumers.flush();
      await endpoint.settled();
      // Only items under the line come back, so checking every key each tick stays cheap.
      const line = now + settings.minValiditySeconds * 1000;
      const { Items = [], ScannedCount } = await dynamodb.send(
        new ScanCommand({
          TableName: harness.config.tableName,
          FilterExpression: 'expiresAt < :line',
          ExpressionAttributeValues: { ':line': { N: String(line) } },
          ProjectionExpression: 'pk, expiresAt',
        }),
      );
      expect(ScannedCount).toBe(KEYS);
      for (const item of Items) {
        if (!usedPks.has(String(item.pk?.S))) continue;
        if (Number(item.expiresAt?.N) <= now) expired += 1;
        else underMinValidity += 1;
      }
    }
    dynamodb.destroy();
    await consumers.flush();
    consumerTable.destroy();
    await endpoint.stop();
    lambda.destroy();
    queue.restore();

    expect({ expired, underMinValidity }).toEqual({ expired: 0, underMinValidity: 0 });
    // Every use report went to the mint, none asked it for a token; about one per key and token.
    expect(invocations.RequestResponse).toBe(0);
    expect(invocations.Event).toBeGreaterThan(USED_KEYS * (DAY_MS / (LIFETIME_S * 1000)) * 0.9);
    expect(maxOverdueSeconds).toBeLessThan(overdueThresholdSeconds(settings));
    // The fewest requests the lifetimes require of any refresher that keeps the safety window
    // (the token renewed while two sweeps are still ahead of its expiry): one token per
    // lifetime minus window. Jitter, scheduling and failed requests (they count) are our overhead.
    const window = Math.max(settings.refreshAheadMs, settings.refreshLifetimeFraction * LIFETIME_S * 1000);
    const idealInterval = LIFETIME_S * 1000 - window;
    // Only the keys in use: the others were left to expire at their first refresh time, unrefreshed.
    const minimum = USED_KEYS * (DAY_MS / idealInterval);
    const requests = harness.hub.count();
    expect(harness.hub.count({ status: 503 })).toBeGreaterThan(0.03 * requests);
    // Every refused refresh grant was followed by client credentials in the same exchange.
    const refused =
      harness.hub.count({ grantType: 'refresh_token', status: 400 }) +
      harness.hub.count({ grantType: 'refresh_token', status: 401 });
    expect(refused).toBe(REFUSED_REFRESHES);
    expect(harness.hub.count({ grantType: 'client_credentials', status: 200 })).toBeGreaterThanOrEqual(
      REFUSED_REFRESHES * 0.9,
    );
    expect(requests).toBeLessThanOrEqual(1.1 * minimum);
    expect(requests).toBeGreaterThanOrEqual(minimum * 0.95);
  }, 600_000);
});
