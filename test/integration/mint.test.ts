import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../functions/core/broker.js';
import { UNNAMED_FORCE_MIN_AGE_MS } from '../../functions/core/lifecycle/mint.js';
import { useCheckAt } from '../../functions/core/lifecycle/serve.js';
import { useWrite } from '../../functions/core/lifecycle/write.js';
import { parseScopeString } from '../../functions/core/scopes.js';
import { tokenKey } from '../../functions/core/store/key.js';
import { tokenSha256 } from '../../functions/core/token-hash.js';
import { fromWire } from '../../functions/core/wire-error.js';
import { createMintHandler } from '../../functions/mint/handler.js';
import type { MintResponse } from '../../functions/mint/payload.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  ORG,
  OTHER_ORG,
  startHarness,
  TEST_CONTEXT,
} from '../support/harness.js';
import { silentLogger } from '../support/logs.js';

const SCOPE = `Org/${ORG}.zaikio.organization.r,Org/${ORG}.warehouse.items.r`;
const KEY = tokenKey('default', parseScopeString(SCOPE));
/** A forced refresh that names the token it rejects. */
const named = (token: MintResponse) => ({ accessTokenSha256: tokenSha256(token.accessToken) });

/** Calls the handler and turns a wire error back into the typed error the consumer would see. */
async function invoke(handler: ReturnType<typeof createMintHandler>, event: unknown): Promise<MintResponse> {
  try {
    return (await handler(event, TEST_CONTEXT)) as MintResponse;
  } catch (error) {
    if (error instanceof Error) throw fromWire(error.name, error.message);
    throw error;
  }
}

describe('mint handler against dynalite and the Hub simulator', () => {
  let harness: Harness;
  let now: number;
  let day = 0;
  let broker: Broker;
  let mint: ReturnType<typeof createMintHandler>;

  beforeAll(async () => {
    harness = await startHarness({ hub: { clock: () => now } });
  });
  afterAll(async () => harness.stop());
  beforeEach(() => {
    // Each test a day later than the last, so tokens stored by earlier tests have expired.
    day += 1;
    now = Date.parse('2026-11-28T12:00:00Z') + day * 86_400_000;
    harness.hub.clearFaults();
    harness.hub.resetCounts();
    broker = harness.broker({ clock: () => now, hub: { backoffBaseMs: 5 } });
    mint = createMintHandler(() => broker, silentLogger());
  });

  /** A newly granted organization, so the test starts without a stored token. */
  async function freshKeyEvent(): Promise<{ scope: string }> {
    const org = randomUUID();
    harness.hub.grant({ bearer: `Org/${org}`, scopes: ['warehouse.items.rw', 'zaikio.organization.r'] });
    return { scope: `Org/${org}.warehouse.items.r,Org/${org}.zaikio.organization.r` };
  }

  it('mints once, answers the documented response, and reuses the stored token', async () => {
    const first = await invoke(mint, { scope: SCOPE });
    expect(first).toMatchObject({
      tokenType: 'Bearer',
      scopes: ['warehouse.items.r', 'zaikio.organization.r'],
      bearer: { type: 'Organization', id: ORG },
    });
    // The JWT's exp (whole seconds) is the second opinion, so the expiry is at most a second earlier.
    expect(Date.parse(first.expiresAt)).toBeLessThanOrEqual(now + 600_000);
    expect(Date.parse(first.expiresAt)).toBeGreaterThan(now + 599_000);
    expect(first.accessToken.split('.')).toHaveLength(3);

    const second = await invoke(mint, {
      organizationId: ORG,
      scopes: ['warehouse.items.r', 'zaikio.organization.r'],
    });
    expect(second.accessToken).toBe(first.accessToken);
    expect(harness.hub.count()).toBe(1);
  });

  it('mints again with the refresh token once the stored token is within the minimum validity', async () => {
    const event = await freshKeyEvent();
    const first = await invoke(mint, event);
    now += 600_000 - 59_000;
    const second = await invoke(mint, event);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(harness.hub.count({ grantType: 'refresh_token' })).toBe(1);
    expect(harness.hub.count({ grantType: 'client_credentials' })).toBe(1);
    // A caller asking for less validity still gets the new token, not a new mint.
    await invoke(mint, { ...event, minValiditySeconds: 0 });
    expect(harness.hub.count()).toBe(2);
  });

  it('forceRefresh mints a new token even though the stored one is valid', async () => {
    const event = await freshKeyEvent();
    const first = await invoke(mint, event);
    const forced = await invoke(mint, { ...event, forceRefresh: named(first) });
    expect(forced.accessToken).not.toBe(first.accessToken);
    expect(harness.hub.count()).toBe(2);
    // Naming a token that was already replaced gets its replacement, without asking the Hub.
    expect((await invoke(mint, { ...event, forceRefresh: named(first) })).accessToken).toBe(
      forced.accessToken,
    );
    expect(harness.hub.count()).toBe(2);
  });

  it('forceRefresh: true replaces only a token older than the unnamed minimum age', async () => {
    const event = await freshKeyEvent();
    const first = await invoke(mint, event);
    expect((await invoke(mint, { ...event, forceRefresh: true })).accessToken).toBe(first.accessToken);
    expect(harness.hub.count()).toBe(1);
    now += UNNAMED_FORCE_MIN_AGE_MS;
    expect((await invoke(mint, { ...event, forceRefresh: true })).accessToken).not.toBe(first.accessToken);
    expect(harness.hub.count()).toBe(2);
  });

  it('keeps the stored token through every kind of Hub failure', async () => {
    const event = await freshKeyEvent();
    const good = await invoke(mint, event);
    const key = tokenKey('default', parseScopeString(event.scope));
    const faults = [
      { kind: 'status', status: 503 },
      { kind: 'nonJson' },
      { kind: 'missingField', field: 'access_token' },
      { kind: 'reset' },
      { kind: 'invalidClient' },
    ] as const;
    for (const fault of faults) {
      harness.hub.clearFaults();
      harness.hub.inject({ fault });
      await expect(invoke(mint, { ...event, forceRefresh: named(good) })).rejects.toThrow();
      const stored = await broker.store.get(key, { consistent: true });
      expect(stored?.token?.accessToken, fault.kind).toBe(good.accessToken);
      expect(stored?.status, fault.kind).toBe('failing');
      expect(stored?.leaseOwner, fault.kind).toBeUndefined();
    }
    harness.hub.clearFaults();
    // Without force, the still-valid token is served, and the Hub is not asked.
    const before = harness.hub.count();
    expect((await invoke(mint, event)).accessToken).toBe(good.accessToken);
    expect(harness.hub.count()).toBe(before);
  });

  it('reports each Hub failure with its documented error type', async () => {
    const cases = [
      [{ kind: 'status', status: 502 }, 'HubUnavailableError'],
      [{ kind: 'invalidClient' }, 'InvalidClientError'],
      [{ kind: 'partialGrant', drop: ['warehouse.items.r'] }, 'ScopeNotGrantedError'],
      [{ kind: 'nonJson' }, 'HubUnavailableError'],
      // Last: not even a forced request asks the Hub again before the time a 429 gave.
      [{ kind: 'rateLimited', resetInSeconds: 120 }, 'RateLimitedError'],
    ] as const;
    for (const [fault, errorType] of cases) {
      harness.hub.clearFaults();
      harness.hub.inject({ fault });
      // A fresh container each time: a 429 rightly holds back every later request of this one.
      broker = harness.broker({ clock: () => now, hub: { backoffBaseMs: 5 } });
      const event = {
        organizationId: ORG,
        scopes: ['warehouse.items.r', `zaikio.organization.r`],
        forceRefresh: true,
      };
      const error = await invoke(mint, event).catch((caught: unknown) => caught);
      expect(error, fault.kind).toBeInstanceOf(Error);
      expect((error as Error).name, fault.kind).toBe(errorType);
    }
  });

  it('refuses an organization that has not granted the scopes, and answers repeats from the item', async () => {
    const event = { organizationId: OTHER_ORG, scopes: ['warehouse.items.r'] };
    const error = await invoke(mint, event).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      name: 'ScopeNotGrantedError',
      code: 'scope_not_granted',
      details: { hubCodes: ['bearer_does_not_exist'], missingScopes: [`Org/${OTHER_ORG}.warehouse.items.r`] },
    });
    await expect(invoke(mint, event)).rejects.toMatchObject({ name: 'ScopeNotGrantedError' });
    expect(harness.hub.count()).toBe(1);
    // After the negative-cache period, or when forced, the Hub is asked again.
    await expect(invoke(mint, { ...event, forceRefresh: true })).rejects.toMatchObject({
      name: 'ScopeNotGrantedError',
    });
    expect(harness.hub.count()).toBe(2);
    // The second refusal doubled the negative cache; within it the Hub is not asked, after it it is.
    now += broker.config.settings.negativeCacheMs;
    harness.hub.grant({ bearer: `Org/${OTHER_ORG}`, scopes: ['warehouse.items.r'] });
    await expect(invoke(mint, event)).rejects.toMatchObject({ name: 'ScopeNotGrantedError' });
    expect(harness.hub.count()).toBe(2);
    now += broker.config.settings.negativeCacheMs;
    expect((await invoke(mint, event)).bearer.id).toBe(OTHER_ORG);
    harness.hub.revoke(`Org/${OTHER_ORG}`);
  });

  it('does not ask a rate-limiting Hub again before its reset time', async () => {
    // Within the 60 s window of the simulator's RateLimit-Rule (300reqs/60s): honoured as sent.
    harness.hub.inject({ fault: { kind: 'rateLimited', resetInSeconds: 50 }, times: 1 });
    const event = await freshKeyEvent();
    const error = await invoke(mint, event).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'RateLimitedError' });
    expect(Date.parse((error as { details: { retryAt: string } }).details.retryAt)).toBeGreaterThan(
      now + 45_000,
    );
    await expect(invoke(mint, event)).rejects.toMatchObject({ name: 'RateLimitedError' });
    expect(harness.hub.count()).toBe(1);
    now += 51_000;
    await expect(invoke(mint, event)).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('re-reads a rotated secret once and recovers', async () => {
    const event = await freshKeyEvent();
    const first = await invoke(mint, event);
    const readsBefore = harness.secretReads();
    harness.hub.rotateSecret(CLIENT_ID, 'rotated-secret-7d2e');
    harness.setSecret(JSON.stringify({ clientId: CLIENT_ID, clientSecret: 'rotated-secret-7d2e' }));
    try {
      const forced = await invoke(mint, { ...event, forceRefresh: named(first) });
      expect(forced.tokenType).toBe('Bearer');
      expect(harness.secretReads()).toBe(readsBefore + 1);
      // The refresh grant's 401 goes to client credentials, whose 401 has the secret read again.
      expect(harness.hub.count({ status: 401 })).toBe(2);
    } finally {
      harness.hub.rotateSecret(CLIENT_ID, CLIENT_SECRET);
      harness.setSecret(JSON.stringify({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }));
    }
  });

  it('names the missing key of a malformed secret without printing any value', async () => {
    harness.setSecret(JSON.stringify({ clientId: CLIENT_ID, client_secret: CLIENT_SECRET }));
    try {
      const error = await invoke(mint, await freshKeyEvent()).catch((caught: unknown) => caught);
      expect(error, String(error)).toMatchObject({ name: 'InvalidClientError', code: 'secret_malformed' });
      expect((error as Error).message).toContain('"clientSecret"');
      expect(JSON.stringify(error)).not.toContain(CLIENT_SECRET);
    } finally {
      harness.setSecret(JSON.stringify({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }));
    }
  });

  it('rejects bad payloads as InvalidRequestError naming the problem', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /JSON object/],
      [{ scope: 'Org/abc.warehouse.items' }, /app\.scope\.permission/],
      [{ scope: `Org/${ORG}.warehouse.items.r,Per/${ORG}.zaikio.person.r` }, /same bearer type/],
      [{ organizationId: ORG }, /"scopes"/],
      [{ organizationId: ORG, scopes: ['warehouse.items.x'] }, /permission "x"/],
      [{ scope: SCOPE, minValiditySeconds: 99_999 }, /minValiditySeconds/],
      [{ scope: SCOPE, client: 'unknown-app' }, /not configured/],
      [{ scope: SCOPE, extra: 1 }, /unknown field/],
    ];
    for (const [event, message] of cases) {
      const error = await invoke(mint, event).catch((caught: unknown) => caught);
      expect(error, JSON.stringify(event)).toMatchObject({ name: 'InvalidRequestError' });
      expect((error as Error).message, JSON.stringify(event)).toMatch(message);
    }
    expect(harness.hub.count()).toBe(0);
  });

  it('serves the stored token id from the key it documents', async () => {
    await invoke(mint, { scope: SCOPE });
    const stored = await broker.store.get(KEY, { consistent: true });
    expect(stored).toMatchObject({ key: KEY, client: 'default', bearer: `Org/${ORG}`, status: 'active' });
    expect(stored?.version).toBeGreaterThan(0);
    expect(stored?.refreshToken).toEqual(expect.any(String));
    expect(stored?.dueAt).toBeLessThan(stored?.token?.expiresAt ?? 0);
  });

  it('records use once per token, past its check point, never a write per request', async () => {
    const dynamodb = harness.dynamo.client();
    const commands: string[] = [];
    dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize' },
    );
    broker = harness.broker({ clock: () => now, dynamodb });
    mint = createMintHandler(() => broker, silentLogger());
    const event = await freshKeyEvent();
    await invoke(mint, event);
    const key = tokenKey('default', parseScopeString(event.scope));
    const token = (await broker.store.get(key, { consistent: true }))?.token;
    if (token === undefined) throw new Error('no token stored');
    // Before the token's check point (half its life), serving it is no news.
    commands.length = 0;
    now = useCheckAt(token) - 1;
    for (let i = 0; i < 5; i++) await invoke(mint, event);
    expect(commands.filter((name) => name === 'UpdateItemCommand')).toHaveLength(0);

    now = useCheckAt(token) + 1;
    await invoke(mint, event);
    await invoke(mint, event);
    expect(commands.filter((name) => name === 'UpdateItemCommand')).toHaveLength(1);
    expect((await broker.store.get(key, { consistent: true }))?.lastRequestedAt).toBe(now);
  });

  it('a use report records the use of the stored token and nothing else: never a mint, never a token', async () => {
    broker = harness.broker({ clock: () => now });
    mint = createMintHandler(() => broker, silentLogger());
    const event = await freshKeyEvent();
    const report = { ...event, useReport: true };
    // No item: nothing to mark, and no mint for it.
    harness.hub.resetCounts();
    expect(await mint(report, TEST_CONTEXT)).toEqual({ useRecorded: false });
    expect(harness.hub.count()).toBe(0);
    await invoke(mint, event);
    const key = tokenKey('default', parseScopeString(event.scope));
    const stored = await broker.store.get(key, { consistent: true });
    if (stored?.token === undefined) throw new Error('no token stored');
    // Before the check point the use is no news; after it, it is recorded once.
    now = useCheckAt(stored.token) - 1;
    expect(await mint(report, TEST_CONTEXT)).toEqual({ useRecorded: false });
    now = useCheckAt(stored.token) + 1;
    expect(await mint(report, TEST_CONTEXT)).toEqual({ useRecorded: true });
    expect(await mint(report, TEST_CONTEXT)).toEqual({ useRecorded: false });
    expect((await broker.store.get(key, { consistent: true }))?.lastRequestedAt).toBe(now);
    // A report that arrives once the token has run out mints nothing either.
    harness.hub.resetCounts();
    now = stored.token.expiresAt + 1;
    expect(await mint(report, TEST_CONTEXT)).toEqual({ useRecorded: false });
    expect(harness.hub.count()).toBe(0);
    expect((await broker.store.get(key, { consistent: true }))?.token?.accessToken).toBe(
      stored.token.accessToken,
    );
  });

  it('records no use of a token the item no longer holds', async () => {
    broker = harness.broker({ clock: () => now });
    mint = createMintHandler(() => broker, silentLogger());
    const event = await freshKeyEvent();
    const first = await invoke(mint, event);
    const key = tokenKey('default', parseScopeString(event.scope));
    const served = await broker.store.get(key, { consistent: true });
    if (served?.token === undefined) throw new Error('no token stored');
    // Replaced between the read and the use's write (an API refused it, a caller forced a refresh).
    now += UNNAMED_FORCE_MIN_AGE_MS;
    await invoke(mint, { ...event, forceRefresh: named(first) });
    now = useCheckAt(served.token) + 1;
    expect(
      await broker.store.recordUse(
        key,
        useWrite({ token: served.token, version: served.version }, now, broker.config.settings),
      ),
    ).toBe(false);
    expect((await broker.store.get(key, { consistent: true }))?.lastRequestedAt).not.toBe(now);
  });

  it('does not ask a failing Hub again for the same key within the backoff', async () => {
    const event = await freshKeyEvent();
    harness.hub.inject({ fault: { kind: 'status', status: 503 } });
    await expect(invoke(mint, event)).rejects.toMatchObject({ name: 'HubUnavailableError' });
    const asked = harness.hub.count();
    await expect(invoke(mint, event)).rejects.toMatchObject({ name: 'HubUnavailableError' });
    expect(harness.hub.count()).toBe(asked);
    // One base interval later at the most, a recovered Hub is asked again.
    harness.hub.clearFaults();
    now += broker.config.settings.failureBackoffBaseMs;
    await expect(invoke(mint, event)).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('fails fast, without minting again, when the caller needs more validity than tokens have', async () => {
    const event = await freshKeyEvent();
    const tooLong = { ...event, minValiditySeconds: 900 };
    await expect(invoke(mint, tooLong)).rejects.toThrow(/valid for 600 s/);
    await expect(invoke(mint, tooLong)).rejects.toThrow(/valid for 600 s/);
    expect(harness.hub.count()).toBe(1);
  });
});
