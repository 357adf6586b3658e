import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createZaikioFetch, type TokenClient } from '../../functions/consumer/index.js';
import { type Answer, type FakeApi, startFakeApi } from './fake-api.js';
import { type ConsumerFixture, startConsumerFixture } from './fixture.js';

const EXPIRED: Answer = { status: 401, body: '{"errors":["jwt_expired"]}' };
const OK: Answer = { status: 200, body: '{"items":[]}' };

let fx: ConsumerFixture;
let api: FakeApi;
let tokens: TokenClient;

beforeAll(async () => {
  fx = await startConsumerFixture();
  api = await startFakeApi();
});

beforeEach(() => {
  fx.reset();
  api.reset();
  tokens = fx.consumer();
});

afterAll(async () => {
  await api.stop();
  await fx.stop();
});

/** The API refuses the first token it saw (it "expired"), accepts any other. */
function refuseFirstToken(refusal: Answer = EXPIRED): void {
  let refused: string | undefined;
  api.respond = (token) => {
    refused ??= token;
    return token === refused ? refusal : OK;
  };
}

describe('createZaikioFetch', () => {
  it('adds the bearer token and passes a success through with one request', async () => {
    const zaikio = createZaikioFetch(tokens, fx.itemsRead, { baseUrl: api.url });
    const res = await zaikio('/api/v1/items?page=2');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [] });
    const { accessToken } = await tokens.getAccessToken(fx.itemsRead);
    expect(api.seen).toEqual([
      { method: 'GET', path: '/api/v1/items?page=2', token: accessToken, body: '', custom: undefined },
    ]);
  });

  it('on a 401 naming jwt_expired re-mints once and retries once', async () => {
    refuseFirstToken();
    const zaikio = createZaikioFetch(tokens, fx.itemsRead, { baseUrl: api.url });
    const res = await zaikio('/api/v1/items');
    expect(res.status).toBe(200);
    const [first, second] = api.seen;
    expect(api.seen).toHaveLength(2);
    expect(second?.token).not.toBe(first?.token);
    expect(second?.token).toBe((await tokens.getAccessToken(fx.itemsRead)).accessToken);
    // One Invoke for the first token (empty table), one forced re-mint.
    expect(fx.calls.invoke).toBe(2);
    expect(fx.harness.hub.count({ status: 200 })).toBe(2);
  });

  it('does not loop: a second refusal is returned as it is, one retry per call', async () => {
    api.respond = () => EXPIRED;
    const zaikio = createZaikioFetch(tokens, fx.itemsRead, { baseUrl: api.url });
    const res = await zaikio('/api/v1/items');
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('jwt_expired');
    expect(api.seen).toHaveLength(2);
    expect(fx.calls.invoke).toBe(2);

    await zaikio('/api/v1/items');
    expect(api.seen).toHaveLength(4);
    expect(fx.calls.invoke).toBe(3);
  });

  it('retries on a 403 whose WWW-Authenticate names invalid_jwt', async () => {
    refuseFirstToken({
      status: 403,
      body: '',
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="invalid_jwt"' },
    });
    const res = await createZaikioFetch(tokens, fx.itemsRead, { baseUrl: api.url })('/api/v1/items');
    expect(res.status).toBe(200);
    expect(api.seen).toHaveLength(2);
  });

  it('does not retry other refusals, and their body stays readable', async () => {
    const zaikio = createZaikioFetch(tokens, fx.itemsRead, { baseUrl: api.url });
    api.respond = () => ({ status: 403, body: '{"errors":["unpermitted_scope"]}' });
    const forbidden = await zaikio('/api/v1/items');
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ errors: ['unpermitted_scope'] });
    api.respond = () => ({ status: 401, body: 'Unauthorized' });
    expect((await zaikio('/api/v1/items')).status).toBe(401);
    api.respond = () => ({ status: 500, body: '{"errors":["jwt_expired"]}' });
    expect((await zaikio('/api/v1/items')).status).toBe(500);
    expect(api.seen).toHaveLength(3);
    expect(fx.calls.invoke).toBe(1);
  });

  it('replays the method, headers and body on the retry', async () => {
    refuseFirstToken();
    const zaikio = createZaikioFetch(tokens, fx.itemsRead);
    const body = JSON.stringify({ item: { name: 'Paper' } });
    const res = await zaikio(`${api.url}/api/v1/items`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json', 'X-Custom': 'kept', Authorization: 'Bearer caller' },
    });
    expect(res.status).toBe(200);
    expect(api.seen.map(({ token: _token, ...rest }) => rest)).toEqual([
      { method: 'POST', path: '/api/v1/items', body, custom: 'kept' },
      { method: 'POST', path: '/api/v1/items', body, custom: 'kept' },
    ]);
    expect(api.seen.every((seen) => seen.token !== 'caller')).toBe(true);
  });

  it('concurrent refusals of the same token share one re-mint', async () => {
    refuseFirstToken();
    const zaikio = createZaikioFetch(tokens, fx.itemsRead, { baseUrl: api.url });
    await tokens.getAccessToken(fx.itemsRead);
    fx.resetCalls();
    const responses = await Promise.all(Array.from({ length: 10 }, () => zaikio('/api/v1/items')));
    expect(responses.every((res) => res.status === 200)).toBe(true);
    expect(api.seen).toHaveLength(20);
    expect(new Set(api.seen.map((seen) => seen.token)).size).toBe(2);
    expect(fx.calls.invoke).toBe(1);
  });

  it('uses an injected fetch', async () => {
    const urls: string[] = [];
    const zaikio = createZaikioFetch(tokens, fx.itemsRead, {
      baseUrl: 'https://warehouse.sandbox.zaikio.com',
      fetch: async (input) => {
        urls.push(input instanceof Request ? input.url : String(input));
        return new Response('{}', { status: 200 });
      },
    });
    await zaikio('/api/v1/items');
    expect(urls).toEqual(['https://warehouse.sandbox.zaikio.com/api/v1/items']);
  });
});
