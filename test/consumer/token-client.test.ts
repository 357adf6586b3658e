import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AccessTokenRequest,
  InvalidRequestError,
  ScopeNotGrantedError,
} from '../../functions/consumer/index.js';
import { READABLE_ATTRIBUTES } from '../../functions/core/store/schema.js';
import { ORG, OTHER_ORG } from '../support/harness.js';
import { type ConsumerFixture, ITEMS_READ, LOCAL, MINT_FUNCTION, startConsumerFixture } from './fixture.js';

let fx: ConsumerFixture;

beforeEach(async () => {
  fx = await startConsumerFixture();
});

afterEach(async () => {
  await fx.stop();
});

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** The simulator's JWT `exp` is whole seconds, and the broker keeps the earlier of it and expires_in. */
function expectLifetime(expiresAt: number, seconds: number): void {
  const left = expiresAt - fx.clock.now();
  expect(left).toBeGreaterThan((seconds - 1) * SECOND);
  expect(left).toBeLessThanOrEqual(seconds * SECOND);
}

/** One consumer has fetched the token, so the table holds it; counters start from zero. */
async function populated(): Promise<string> {
  const { accessToken } = await fx.consumer().getAccessToken(ITEMS_READ);
  fx.resetCalls();
  fx.harness.hub.resetCounts();
  return accessToken;
}

describe('the lookup order', () => {
  it('a missing token goes through the mint function: one GetItem, then one Invoke', async () => {
    const token = await fx.consumer().getAccessToken(ITEMS_READ);
    expect(token.source).toBe('mint');
    expect(token.tokenType).toBe('Bearer');
    expect(token.scopes).toEqual(['warehouse.items.r']);
    expectLifetime(token.expiresAt, 600);
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
    expect(fx.endpoint.invocations(MINT_FUNCTION)).toBe(1);
    expect(fx.harness.hub.count({ grantType: 'client_credentials', status: 200 })).toBe(1);
  });

  it('a warm hit makes no network call', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(ITEMS_READ);
    fx.resetCalls();
    const requests = fx.harness.hub.count();
    const invocations = fx.endpoint.invocations();

    fx.clock.advance(8 * MINUTE); // 2 minutes left: still beyond the 60 s minimum
    const hits = await Promise.all([
      consumer.getAccessToken(ITEMS_READ),
      consumer.getAccessToken({ scope: `Org/${ORG}.warehouse.items.r` }),
      consumer.getAccessToken({ ...ITEMS_READ, minValiditySeconds: 90 }),
    ]);

    for (const hit of hits) {
      expect(hit).toEqual({ ...first, source: 'memory' });
    }
    expect(fx.calls.commands).toEqual([]);
    expect(fx.endpoint.invocations()).toBe(invocations);
    expect(fx.harness.hub.count()).toBe(requests);
  });

  it('a cold read makes exactly one GetItem and no Invoke', async () => {
    const stored = await populated();
    const token = await fx.consumer().getAccessToken(ITEMS_READ);
    expect(token).toMatchObject({ accessToken: stored, source: 'table', scopes: ['warehouse.items.r'] });
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
    expect(fx.calls.invoke).toBe(0);
  });

  it('an expiring token goes through the mint function, which mints a new one', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(ITEMS_READ);
    fx.resetCalls();
    fx.clock.advance(570 * SECOND); // 30 s left: below the 60 s minimum, in memory and in the table

    const next = await consumer.getAccessToken(ITEMS_READ);
    expect(next.source).toBe('mint');
    expect(next.accessToken).not.toBe(first.accessToken);
    expectLifetime(next.expiresAt, 600);
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
    expect(fx.harness.hub.count({ status: 200 })).toBe(2);

    // The new token is what this container remembers now.
    fx.resetCalls();
    expect(await consumer.getAccessToken(ITEMS_READ)).toEqual({ ...next, source: 'memory' });
    expect(fx.calls.commands).toEqual([]);
  });

  it('judges memory by each call’s own minimum validity', async () => {
    const consumer = fx.consumer();
    await consumer.getAccessToken(ITEMS_READ);
    fx.clock.advance(500 * SECOND); // 100 s left
    fx.resetCalls();
    expect((await consumer.getAccessToken(ITEMS_READ)).source).toBe('memory');
    const stricter = await consumer.getAccessToken({ ...ITEMS_READ, minValiditySeconds: 120 });
    expect(stricter.source).toBe('mint');
    expect(stricter.expiresAt - fx.clock.now()).toBeGreaterThanOrEqual(120 * SECOND);
    expect(fx.calls.getItem).toBe(1);
    expect(fx.calls.invoke).toBe(1);
  });

  it('100 concurrent calls for one key on an empty table make one GetItem and at most one Invoke', async () => {
    const consumer = fx.consumer();
    const requests: AccessTokenRequest[] = Array.from({ length: 100 }, (_, index) =>
      // Both request forms, in any scope order, name the same key.
      index % 2 === 0 ? ITEMS_READ : { scope: `Org/${ORG}.warehouse.items.r` },
    );
    const tokens = await Promise.all(requests.map((request) => consumer.getAccessToken(request)));
    expect(new Set(tokens.map((token) => token.accessToken)).size).toBe(1);
    expect(fx.calls.getItem).toBe(1);
    expect(fx.calls.invoke).toBeLessThanOrEqual(1);
    expect(fx.harness.hub.count()).toBe(1);
  });

  it('100 concurrent calls for one stored key make one GetItem and no Invoke', async () => {
    const stored = await populated();
    const consumer = fx.consumer();
    const tokens = await Promise.all(Array.from({ length: 100 }, () => consumer.getAccessToken(ITEMS_READ)));
    expect(tokens.every((token) => token.accessToken === stored)).toBe(true);
    expect(fx.calls.getItem).toBe(1);
    expect(fx.calls.invoke).toBe(0);
  });

  it('keys differ by scope set: a second scope set is a separate lookup', async () => {
    const consumer = fx.consumer();
    const [items, both] = await Promise.all([
      consumer.getAccessToken(ITEMS_READ),
      consumer.getAccessToken({
        organizationId: ORG,
        scopes: ['zaikio.organization.r', 'warehouse.items.r'],
      }),
    ]);
    expect(items.accessToken).not.toBe(both.accessToken);
    expect(both.scopes).toEqual(['warehouse.items.r', 'zaikio.organization.r']);
    expect(fx.calls.getItem).toBe(2);
    expect(fx.calls.invoke).toBe(2);
  });
});

describe('statuses', () => {
  it('a revoked status surfaces ScopeNotGrantedError (answered from the mint function’s negative cache)', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(ITEMS_READ);
    fx.harness.hub.revoke(`Org/${ORG}`);
    // An API refused the token; the re-mint is refused by the Hub and the item is marked revoked.
    await expect(
      consumer.forceRefresh(ITEMS_READ, { rejectedToken: first.accessToken }),
    ).rejects.toBeInstanceOf(ScopeNotGrantedError);
    expect((await fx.fullItem())?.status).toEqual({ S: 'revoked' });
    fx.resetCalls();
    fx.harness.hub.resetCounts();

    // Another container: the stored token is still unexpired, but revoked is never served.
    const error = await fx
      .consumer()
      .getAccessToken(ITEMS_READ)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScopeNotGrantedError);
    expect(error).toMatchObject({
      name: 'ScopeNotGrantedError',
      code: 'scope_not_granted',
      transient: false,
    });
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
    expect(fx.harness.hub.count()).toBe(0);
  });

  it('an organization that never granted the scopes gets ScopeNotGrantedError with the Hub’s codes', async () => {
    const request = { organizationId: OTHER_ORG, scopes: ['warehouse.items.r'] };
    const error = await fx
      .consumer()
      .getAccessToken(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScopeNotGrantedError);
    const { details } = error as ScopeNotGrantedError;
    expect(details.hubCodes?.length).toBeGreaterThan(0);
    // Nothing is remembered for a refusal: the next call asks again (and the mint answers from its item).
    fx.resetCalls();
    await expect(fx.consumer().getAccessToken(request)).rejects.toBeInstanceOf(ScopeNotGrantedError);
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
  });

  it('a failing status with a still-valid token is served from the table (a failed refresh never spoils a good token)', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(ITEMS_READ);
    fx.harness.hub.inject({ fault: { kind: 'status', status: 503 } });
    await expect(consumer.forceRefresh(ITEMS_READ)).rejects.toMatchObject({ name: 'HubUnavailableError' });
    const item = await fx.fullItem();
    expect(item?.status).toEqual({ S: 'failing' });
    expect(item?.accessToken).toEqual({ S: first.accessToken });
    fx.resetCalls();

    const served = await fx.consumer().getAccessToken(ITEMS_READ);
    expect(served).toMatchObject({ accessToken: first.accessToken, source: 'table' });
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
  });
});

describe('usage recording through the mint function', () => {
  it('goes through the mint function once when lastRequestedAt is over an hour old, which records use', async () => {
    fx.harness.hub.setTokenLifetime(3 * 3600);
    const stored = await populated();
    const before = await fx.fullItem();
    fx.clock.advance(61 * MINUTE);

    const token = await fx.consumer().getAccessToken(ITEMS_READ);
    expect(token).toMatchObject({ accessToken: stored, source: 'mint' });
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
    expect(fx.harness.hub.count()).toBe(0); // the mint served the stored token
    const after = await fx.fullItem();
    expect(Number(after?.lastRequestedAt?.N)).toBe(fx.clock.now());
    expect(Number(after?.lastRequestedAt?.N)).toBeGreaterThan(Number(before?.lastRequestedAt?.N));

    fx.resetCalls();
    expect(await fx.consumer().getAccessToken(ITEMS_READ)).toMatchObject({ source: 'table' });
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
  });
});

describe('forceRefresh', () => {
  it('drops the remembered token and goes through the mint function with forceRefresh', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(ITEMS_READ);
    fx.resetCalls();
    const fresh = await consumer.forceRefresh(ITEMS_READ, { rejectedToken: first.accessToken });
    expect(fresh.source).toBe('mint');
    expect(fresh.accessToken).not.toBe(first.accessToken);
    expect(fx.calls.commands).toEqual(['InvokeCommand']);
    expect(fx.harness.hub.count({ status: 200 })).toBe(2);
    expect(await fx.fullItem()).toMatchObject({ accessToken: { S: fresh.accessToken } });

    fx.resetCalls();
    expect(await consumer.getAccessToken(ITEMS_READ)).toEqual({ ...fresh, source: 'memory' });
    expect(fx.calls.commands).toEqual([]);
  });

  it('shares one re-mint among concurrent callers, and later callers holding the old token get the new one', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(ITEMS_READ);
    fx.resetCalls();
    const rejectedToken = first.accessToken;
    const fresh = await Promise.all(
      Array.from({ length: 10 }, () => consumer.forceRefresh(ITEMS_READ, { rejectedToken })),
    );
    expect(new Set(fresh.map((token) => token.accessToken)).size).toBe(1);
    const late = await consumer.forceRefresh(ITEMS_READ, { rejectedToken });
    expect(late).toMatchObject({ accessToken: fresh[0]?.accessToken, source: 'memory' });
    expect(fx.calls.invoke).toBe(1);
  });

  it('a lookup already in flight cannot put the refused token back into memory', async () => {
    const stored = await populated();
    // The GetItem reads the old token at once, but its answer is held until the forced re-mint is done.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let readDone: () => void = () => undefined;
    const read = new Promise<void>((resolve) => {
      readDone = resolve;
    });
    const dynamodb = new DynamoDBClient({ endpoint: fx.harness.dynamo.endpoint, ...LOCAL });
    dynamodb.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        readDone();
        await held;
        return result;
      },
      { step: 'initialize', name: 'holdAnswer' },
    );
    try {
      const consumer = fx.consumer({ dynamodb });
      const lookup = consumer.getAccessToken(ITEMS_READ);
      await read;
      const forced = await consumer.forceRefresh(ITEMS_READ, { rejectedToken: stored });
      release();
      expect((await lookup).accessToken).toBe(stored);
      expect(forced.accessToken).not.toBe(stored);
      expect(await consumer.getAccessToken(ITEMS_READ)).toEqual({ ...forced, source: 'memory' });
    } finally {
      dynamodb.destroy();
    }
  });
});

describe('the GetItem', () => {
  it('projects only the readable attributes and never returns the refresh token', async () => {
    await populated();
    const full = await fx.fullItem();
    expect(full?.refreshToken?.S).toEqual(expect.any(String)); // the broker stores one

    await fx.consumer().getAccessToken(ITEMS_READ);
    const [read] = fx.calls.getItems;
    const projected = (read?.projection ?? '').split(', ').map((name) => read?.names?.[name]);
    expect(projected).toEqual([...READABLE_ATTRIBUTES]);
    const returned = Object.keys(read?.item ?? {});
    expect(returned.length).toBeGreaterThan(0);
    expect(returned).not.toContain('refreshToken');
    expect(returned.every((name) => (READABLE_ATTRIBUTES as readonly string[]).includes(name))).toBe(true);
  });
});

describe('requests', () => {
  it('rejects a malformed request before any network call', async () => {
    const consumer = fx.consumer();
    const bad = [
      { organizationId: ORG, scopes: ['warehouse.items'] },
      { organizationId: 'Not An Id', scopes: ['warehouse.items.r'] },
      { organizationId: ORG, personId: ORG, scopes: ['warehouse.items.r'] },
      { scope: `Org/${ORG}.warehouse.items.r`, scopes: ['warehouse.items.r'] },
      { ...ITEMS_READ, minValiditySeconds: 3601 },
      { ...ITEMS_READ, client: '' },
    ] as unknown as AccessTokenRequest[];
    for (const request of bad) {
      await expect(consumer.getAccessToken(request)).rejects.toBeInstanceOf(InvalidRequestError);
    }
    expect(fx.calls.commands).toEqual([]);
  });

  it('sends a request for a named client to the mint function with that client', async () => {
    const error = await fx
      .consumer()
      .getAccessToken({ ...ITEMS_READ, client: 'unknown-app' })
      .catch((e: unknown) => e);
    // The harness's mint function knows only its default app; the refusal arrives typed.
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ code: 'unknown_client' });
  });
});

describe('memory', () => {
  const ORDERS = { organizationId: ORG, scopes: ['zaikio.organization.r'] } as const;
  const WRITE = { organizationId: ORG, scopes: ['warehouse.items.rw'] } as const;

  it('keeps at most maxCachedTokens keys, forgetting the least recently used', async () => {
    const consumer = fx.consumer({ maxCachedTokens: 2 });
    await consumer.getAccessToken(ITEMS_READ);
    await consumer.getAccessToken(ORDERS);
    // A use makes ITEMS_READ the most recent; WRITE then pushes ORDERS out.
    expect((await consumer.getAccessToken(ITEMS_READ)).source).toBe('memory');
    await consumer.getAccessToken(WRITE);
    fx.resetCalls();
    expect((await consumer.getAccessToken(ITEMS_READ)).source).toBe('memory');
    expect((await consumer.getAccessToken(WRITE)).source).toBe('memory');
    expect((await consumer.getAccessToken(ORDERS)).source).toBe('table');
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
  });

  it('drops expired tokens before it forgets a valid one', async () => {
    const consumer = fx.consumer({ maxCachedTokens: 2 });
    await consumer.getAccessToken(ITEMS_READ); // valid for 10 minutes
    fx.harness.hub.setTokenLifetime(120);
    try {
      await consumer.getAccessToken(ORDERS); // more recent, but expired 3 minutes from now
      fx.clock.advance(3 * MINUTE);
      await consumer.getAccessToken(WRITE);
    } finally {
      fx.harness.hub.setTokenLifetime(600);
    }
    // Least recently used would have forgotten ITEMS_READ; the expired ORDERS went instead.
    fx.resetCalls();
    expect((await consumer.getAccessToken(ITEMS_READ)).source).toBe('memory');
    expect(fx.calls.commands).toEqual([]);
  });

  it('refuses a cap that is not a positive integer', () => {
    expect(() => fx.consumer({ maxCachedTokens: 0 })).toThrow(InvalidRequestError);
  });
});
