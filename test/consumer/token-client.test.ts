import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AccessTokenRequest,
  InvalidRequestError,
  ScopeNotGrantedError,
} from '../../functions/consumer/index.js';
import { READABLE_ATTRIBUTES } from '../../functions/core/store/schema.js';
import { type ConsumerFixture, LOCAL, startConsumerFixture } from './fixture.js';

let fx: ConsumerFixture;

beforeAll(async () => {
  fx = await startConsumerFixture();
});

beforeEach(() => {
  fx.reset();
});

afterAll(async () => {
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
  const { accessToken } = await fx.consumer().getAccessToken(fx.itemsRead);
  fx.resetCalls();
  fx.harness.hub.resetCounts();
  return accessToken;
}

describe('the lookup order', () => {
  it('a missing token goes through the mint function: one GetItem, then one Invoke', async () => {
    const token = await fx.consumer().getAccessToken(fx.itemsRead);
    expect(token.source).toBe('mint');
    expect(token.tokenType).toBe('Bearer');
    expect(token.scopes).toEqual(['warehouse.items.r']);
    expectLifetime(token.expiresAt, 600);
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
    expect(fx.mintInvocations()).toBe(1);
    expect(fx.harness.hub.count({ grantType: 'client_credentials', status: 200 })).toBe(1);
  });

  it('a warm hit makes no network call', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(fx.itemsRead);
    fx.resetCalls();
    const requests = fx.harness.hub.count();
    const invocations = fx.mintInvocations();

    fx.clock.advance(4 * MINUTE); // before the token's check point (half its life)
    const hits = await Promise.all([
      consumer.getAccessToken(fx.itemsRead),
      consumer.getAccessToken({ scope: `Org/${fx.org}.warehouse.items.r` }),
      consumer.getAccessToken({ ...fx.itemsRead, minValiditySeconds: 90 }),
    ]);

    for (const hit of hits) {
      expect(hit).toEqual({ ...first, source: 'memory' });
    }
    expect(fx.calls.commands).toEqual([]);
    expect(fx.mintInvocations()).toBe(invocations);
    expect(fx.harness.hub.count()).toBe(requests);
  });

  it('a cold read makes exactly one GetItem and no Invoke', async () => {
    const stored = await populated();
    const token = await fx.consumer().getAccessToken(fx.itemsRead);
    expect(token).toMatchObject({ accessToken: stored, source: 'table', scopes: ['warehouse.items.r'] });
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
    expect(fx.calls.invoke).toBe(0);
  });

  it('an expiring token goes through the mint function, which mints a new one', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(fx.itemsRead);
    fx.resetCalls();
    fx.clock.advance(570 * SECOND); // 30 s left: below the 60 s minimum, in memory and in the table

    const next = await consumer.getAccessToken(fx.itemsRead);
    expect(next.source).toBe('mint');
    expect(next.accessToken).not.toBe(first.accessToken);
    expectLifetime(next.expiresAt, 600);
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
    expect(fx.harness.hub.count({ status: 200 })).toBe(2);

    // The new token is what this container remembers now.
    fx.resetCalls();
    expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...next, source: 'memory' });
    expect(fx.calls.commands).toEqual([]);
  });

  it('judges memory by each call’s own minimum validity', async () => {
    const consumer = fx.consumer();
    await consumer.getAccessToken(fx.itemsRead);
    fx.clock.advance(4 * MINUTE); // 360 s left, before the check point
    fx.resetCalls();
    expect((await consumer.getAccessToken(fx.itemsRead)).source).toBe('memory');
    const stricter = await consumer.getAccessToken({ ...fx.itemsRead, minValiditySeconds: 400 });
    expect(stricter.source).toBe('mint');
    expect(stricter.expiresAt - fx.clock.now()).toBeGreaterThanOrEqual(400 * SECOND);
    expect(fx.calls.getItem).toBe(1);
    expect(fx.calls.invoke).toBe(1);
  });

  it('100 concurrent calls for one key on an empty table make one GetItem and at most one Invoke', async () => {
    const consumer = fx.consumer();
    const requests: AccessTokenRequest[] = Array.from({ length: 100 }, (_, index) =>
      // Both request forms, in any scope order, name the same key.
      index % 2 === 0 ? fx.itemsRead : { scope: `Org/${fx.org}.warehouse.items.r` },
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
    const tokens = await Promise.all(
      Array.from({ length: 100 }, () => consumer.getAccessToken(fx.itemsRead)),
    );
    expect(tokens.every((token) => token.accessToken === stored)).toBe(true);
    expect(fx.calls.getItem).toBe(1);
    expect(fx.calls.invoke).toBe(0);
  });

  it('keys differ by scope set: a second scope set is a separate lookup', async () => {
    const consumer = fx.consumer();
    const [items, both] = await Promise.all([
      consumer.getAccessToken(fx.itemsRead),
      consumer.getAccessToken({
        organizationId: fx.org,
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
    const first = await consumer.getAccessToken(fx.itemsRead);
    fx.harness.hub.revoke(`Org/${fx.org}`);
    // An API refused the token; the re-mint is refused by the Hub and the item is marked revoked.
    await expect(
      consumer.forceRefresh(fx.itemsRead, { rejectedToken: first.accessToken }),
    ).rejects.toBeInstanceOf(ScopeNotGrantedError);
    expect((await fx.fullItem())?.status).toEqual({ S: 'revoked' });
    fx.resetCalls();
    fx.harness.hub.resetCounts();

    // Another container: the stored token is still unexpired, but revoked is never served.
    const error = await fx
      .consumer()
      .getAccessToken(fx.itemsRead)
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
    const request = { organizationId: fx.otherOrg, scopes: ['warehouse.items.r'] };
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
    const first = await consumer.getAccessToken(fx.itemsRead);
    fx.harness.hub.inject({ fault: { kind: 'status', status: 503 } });
    await expect(consumer.forceRefresh(fx.itemsRead)).rejects.toMatchObject({ name: 'HubUnavailableError' });
    const item = await fx.fullItem();
    expect(item?.status).toEqual({ S: 'failing' });
    expect(item?.accessToken).toEqual({ S: first.accessToken });
    fx.resetCalls();

    const served = await fx.consumer().getAccessToken(fx.itemsRead);
    expect(served).toMatchObject({ accessToken: first.accessToken, source: 'table' });
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
  });
});

describe('reporting use past the check point', () => {
  const CHECK_POINT = 5 * MINUTE; // half the simulator's 10-minute tokens

  it('the first call past it is served from memory, while one read and one report run behind it', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(fx.itemsRead);
    const minted = Number((await fx.fullItem())?.lastRequestedAt?.N);
    fx.clock.advance(CHECK_POINT + SECOND);
    fx.resetCalls();

    expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...first, source: 'memory' });
    await consumer.flush();
    expect(fx.calls.commands).toEqual(['GetItemCommand', 'InvokeCommand']);
    // The mint served the stored token and recorded the use: nothing else changed.
    await expect.poll(async () => Number((await fx.fullItem())?.lastRequestedAt?.N)).toBe(fx.clock.now());
    expect(Number((await fx.fullItem())?.lastRequestedAt?.N)).toBeGreaterThan(minted);
    expect((await fx.fullItem())?.accessToken?.S).toBe(first.accessToken);
    expect(fx.harness.hub.count()).toBe(1);

    fx.resetCalls();
    fx.clock.advance(MINUTE);
    expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...first, source: 'memory' });
    await consumer.flush();
    expect(fx.calls.commands).toEqual([]);
  });

  it('another container finds the use reported and sends nothing but its read', async () => {
    const holder = fx.consumer();
    await holder.getAccessToken(fx.itemsRead);
    fx.clock.advance(CHECK_POINT + SECOND);
    await holder.getAccessToken(fx.itemsRead);
    await holder.flush();
    await expect.poll(async () => Number((await fx.fullItem())?.lastRequestedAt?.N)).toBe(fx.clock.now());
    fx.resetCalls();

    fx.clock.advance(SECOND);
    const other = fx.consumer();
    expect((await other.getAccessToken(fx.itemsRead)).source).toBe('table');
    await other.flush();
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
  });

  it('flush waits for the report a check starts, not only for its read', async () => {
    const lambda = new LambdaClient({ endpoint: fx.endpoint.url, ...LOCAL, maxAttempts: 1 });
    let reported = false;
    lambda.middlewareStack.add(
      (next) => async (args) => {
        if ((args.input as { InvocationType?: string }).InvocationType !== 'Event') return next(args);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const result = await next(args);
        reported = true;
        return result;
      },
      { step: 'initialize', name: 'slowReports' },
    );
    try {
      const consumer = fx.consumer({ lambda });
      await consumer.getAccessToken(fx.itemsRead);
      fx.clock.advance(CHECK_POINT + SECOND);
      await consumer.getAccessToken(fx.itemsRead);
      await consumer.flush();
      expect(reported).toBe(true);
    } finally {
      lambda.destroy();
    }
  });

  it('a report that never ends never holds up the caller', async () => {
    const lambda = new LambdaClient({ endpoint: fx.endpoint.url, ...LOCAL, maxAttempts: 1 });
    let reports = 0;
    lambda.middlewareStack.add(
      (next) => async (args) => {
        if ((args.input as { InvocationType?: string }).InvocationType !== 'Event') return next(args);
        reports += 1;
        return new Promise<never>(() => {});
      },
      { step: 'initialize', name: 'hangReports' },
    );
    try {
      const consumer = fx.consumer({ lambda });
      const first = await consumer.getAccessToken(fx.itemsRead);
      fx.clock.advance(CHECK_POINT + SECOND);
      expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...first, source: 'memory' });
      await expect.poll(() => reports).toBe(1);
      expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...first, source: 'memory' });
    } finally {
      lambda.destroy();
    }
  });

  it('a check whose read fails never reaches the caller, and is not repeated for that token', async () => {
    const dynamodb = new DynamoDBClient({ endpoint: fx.harness.dynamo.endpoint, ...LOCAL });
    let failReads = false;
    let reads = 0;
    dynamodb.middlewareStack.add(
      (next) => async (args) => {
        reads += 1;
        if (failReads) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
        return next(args);
      },
      { step: 'initialize', name: 'failReads' },
    );
    try {
      const consumer = fx.consumer({ dynamodb });
      const first = await consumer.getAccessToken(fx.itemsRead);
      failReads = true;
      reads = 0;
      fx.clock.advance(CHECK_POINT + SECOND);
      expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...first, source: 'memory' });
      await consumer.flush();
      expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...first, source: 'memory' });
      await consumer.flush();
      expect(reads).toBe(1);
    } finally {
      dynamodb.destroy();
    }
  });
});

describe('forceRefresh', () => {
  it('drops the remembered token and goes through the mint function with forceRefresh', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(fx.itemsRead);
    fx.resetCalls();
    const fresh = await consumer.forceRefresh(fx.itemsRead, { rejectedToken: first.accessToken });
    expect(fresh.source).toBe('mint');
    expect(fresh.accessToken).not.toBe(first.accessToken);
    expect(fx.calls.commands).toEqual(['InvokeCommand']);
    expect(fx.harness.hub.count({ status: 200 })).toBe(2);
    expect(await fx.fullItem()).toMatchObject({ accessToken: { S: fresh.accessToken } });

    fx.resetCalls();
    expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...fresh, source: 'memory' });
    expect(fx.calls.commands).toEqual([]);
  });

  it('shares one re-mint among concurrent callers, and later callers holding the old token get the new one', async () => {
    const consumer = fx.consumer();
    const first = await consumer.getAccessToken(fx.itemsRead);
    fx.resetCalls();
    const rejectedToken = first.accessToken;
    const fresh = await Promise.all(
      Array.from({ length: 10 }, () => consumer.forceRefresh(fx.itemsRead, { rejectedToken })),
    );
    expect(new Set(fresh.map((token) => token.accessToken)).size).toBe(1);
    const late = await consumer.forceRefresh(fx.itemsRead, { rejectedToken });
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
      const lookup = consumer.getAccessToken(fx.itemsRead);
      await read;
      const forced = await consumer.forceRefresh(fx.itemsRead, { rejectedToken: stored });
      release();
      expect((await lookup).accessToken).toBe(stored);
      expect(forced.accessToken).not.toBe(stored);
      expect(await consumer.getAccessToken(fx.itemsRead)).toEqual({ ...forced, source: 'memory' });
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

    await fx.consumer().getAccessToken(fx.itemsRead);
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
      { organizationId: fx.org, scopes: ['warehouse.items'] },
      { organizationId: 'Not An Id', scopes: ['warehouse.items.r'] },
      { organizationId: fx.org, personId: fx.org, scopes: ['warehouse.items.r'] },
      { scope: `Org/${fx.org}.warehouse.items.r`, scopes: ['warehouse.items.r'] },
      { ...fx.itemsRead, minValiditySeconds: 3601 },
      { ...fx.itemsRead, client: '' },
    ] as unknown as AccessTokenRequest[];
    for (const request of bad) {
      await expect(consumer.getAccessToken(request)).rejects.toBeInstanceOf(InvalidRequestError);
    }
    expect(fx.calls.commands).toEqual([]);
  });

  it('sends a request for a named client to the mint function with that client', async () => {
    const error = await fx
      .consumer()
      .getAccessToken({ ...fx.itemsRead, client: 'unknown-app' })
      .catch((e: unknown) => e);
    // The harness's mint function knows only its default app; the refusal arrives typed.
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ code: 'unknown_client' });
  });
});

describe('memory', () => {
  const orders = () => ({ organizationId: fx.org, scopes: ['zaikio.organization.r'] });
  const write = () => ({ organizationId: fx.org, scopes: ['warehouse.items.rw'] });

  it('keeps at most maxCachedTokens keys, forgetting the least recently used', async () => {
    const consumer = fx.consumer({ maxCachedTokens: 2 });
    await consumer.getAccessToken(fx.itemsRead);
    await consumer.getAccessToken(orders());
    // A use makes items.r the most recent; write then pushes orders out.
    expect((await consumer.getAccessToken(fx.itemsRead)).source).toBe('memory');
    await consumer.getAccessToken(write());
    fx.resetCalls();
    expect((await consumer.getAccessToken(fx.itemsRead)).source).toBe('memory');
    expect((await consumer.getAccessToken(write())).source).toBe('memory');
    expect((await consumer.getAccessToken(orders())).source).toBe('table');
    expect(fx.calls.commands).toEqual(['GetItemCommand']);
  });

  it('drops expired tokens before it forgets a valid one', async () => {
    const consumer = fx.consumer({ maxCachedTokens: 2 });
    await consumer.getAccessToken(fx.itemsRead); // valid for 10 minutes
    fx.harness.hub.setTokenLifetime(120);
    try {
      await consumer.getAccessToken(orders()); // more recent, but expired 3 minutes from now
      fx.clock.advance(3 * MINUTE);
      await consumer.getAccessToken(write());
    } finally {
      fx.harness.hub.setTokenLifetime(600);
    }
    // Least recently used would have forgotten items.r; the expired orders went instead.
    fx.resetCalls();
    expect((await consumer.getAccessToken(fx.itemsRead)).source).toBe('memory');
    expect(fx.calls.commands).toEqual([]);
  });

  it('refuses a cap that is not a positive integer', () => {
    expect(() => fx.consumer({ maxCachedTokens: 0 })).toThrow(InvalidRequestError);
  });
});
