import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubUnavailableError } from '../../functions/core/errors.js';
import { failureWrite, leaseTerms, purgeAt, tokenWrite } from '../../functions/core/lifecycle/index.js';
import { scopeSet } from '../../functions/core/scopes.js';
import { tokenKey } from '../../functions/core/store/key.js';
import { type Harness, startHarness } from '../support/harness.js';

function grantedOrg(harness: Harness): { org: string; scopes: ReturnType<typeof scopeSet> } {
  const org = randomUUID();
  harness.hub.grant({ bearer: `Org/${org}`, scopes: ['warehouse.items.r'] });
  return { org, scopes: scopeSet({ type: 'Organization', id: org }, ['warehouse.items.r']) };
}

describe('one mint per key across containers', () => {
  let harness: Harness;
  beforeAll(async () => {
    // A short lease so the crashed-holder test need not wait long; Hub latency makes the race real.
    harness = await startHarness({
      settings: { leaseDurationMs: 3000, hubDeadlineMs: 1000 },
      hub: { latencyMs: 100 },
    });
  });
  afterAll(async () => harness.stop());

  it('50 concurrent calls through 10 containers send exactly one token request and share its token', async () => {
    const { scopes } = grantedOrg(harness);
    const containers = Array.from({ length: 10 }, () => harness.broker());
    const before = harness.hub.count();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => containers[i % 10]?.service.getToken({ scopes })),
    );
    expect(harness.hub.count() - before).toBe(1);
    const tokens = new Set(results.map((result) => result?.token.accessToken));
    expect(tokens.size).toBe(1);
    const outcomes = results.map((result) => result?.outcome);
    expect(outcomes.filter((outcome) => outcome === 'minted')).toHaveLength(1);
  });

  it('takes over the lease of a holder that died mid-mint once it runs out', async () => {
    const { scopes } = grantedOrg(harness);
    const key = tokenKey('default', scopes);
    const dead = harness.broker();
    const identity = { client: 'default', bearer: key.pk, scopes: scopes.scopes };
    const { settings } = harness.config;
    const lease = await dead.store.acquireLease(key, leaseTerms('dead', Date.now(), settings), {
      identity,
      purgeAt: purgeAt(Date.now(), settings),
    });
    expect(lease).toBeDefined();

    const survivor = harness.broker();
    const startedAt = Date.now();
    const { outcome, token } = await survivor.service.getToken({ scopes });
    expect(outcome).toBe('minted');
    // It could only mint after the dead holder's lease ran out.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2900);
    const stored = await survivor.store.get(key, { consistent: true });
    expect(stored?.token?.accessToken).toBe(token.accessToken);
    expect(stored?.leaseOwner).toBeUndefined();
  });

  it('a late writer holding a stale lease cannot overwrite a newer token', async () => {
    const { scopes } = grantedOrg(harness);
    const key = tokenKey('default', scopes);
    const identity = { client: 'default', bearer: key.pk, scopes: scopes.scopes };
    let now = Date.now();
    const zombie = harness.broker({ clock: () => now });
    const { settings } = harness.config;
    const zombieLease = await zombie.store.acquireLease(key, leaseTerms('zombie', now, settings), {
      identity,
      purgeAt: purgeAt(now, settings),
    });
    if (zombieLease === undefined) throw new Error('the zombie should have the lease');
    const zombieToken = await zombie.fetcher.fetch({
      client: 'default',
      scopes,
      deadlineAt: Date.now() + 1000,
    });

    // The zombie stalls past its lease; another container takes over and stores a newer token.
    now += 3500;
    const winner = harness.broker({ clock: () => now });
    const { token } = await winner.service.getToken({ scopes });

    const write = tokenWrite(zombieToken.token, now, settings, Math.random, { requested: true });
    expect(await zombie.store.saveToken(zombieLease, write)).toBe(false);
    const failure = new HubUnavailableError('hub_timeout', 'the zombie timed out late');
    const recorded = failureWrite(failure, zombieLease.record, now, settings, Math.random, 'mint');
    expect(await zombie.store.recordFailure(zombieLease, recorded)).toBe(false);
    const stored = await winner.store.get(key, { consistent: true });
    expect(stored?.token?.accessToken).toBe(token.accessToken);
    expect(stored?.token?.accessToken).not.toBe(zombieToken.token.accessToken);
    expect(stored?.status).toBe('active');
  });

  it('waiters share the holder’s failure instead of each asking a failing Hub', async () => {
    const { scopes } = grantedOrg(harness);
    harness.hub.inject({
      fault: { kind: 'status', status: 503 },
      match: (r) => r.scope?.includes(scopes.bearer.id) ?? false,
    });
    try {
      const containers = Array.from({ length: 5 }, () => harness.broker({ hub: { maxAttempts: 1 } }));
      const before = harness.hub.count();
      const results = await Promise.allSettled(containers.map((c) => c.service.getToken({ scopes })));
      expect(results.every((result) => result.status === 'rejected')).toBe(true);
      expect(
        results.map((result) => (result.status === 'rejected' ? (result.reason as Error).name : 'fulfilled')),
      ).toEqual(Array(5).fill('HubUnavailableError'));
      expect(harness.hub.count() - before).toBe(1);
    } finally {
      harness.hub.clearFaults();
    }
  });
});
