import { Agent, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_APP,
  decodeJwt,
  type Fault,
  HubSimulator,
  type HubSimulatorOptions,
} from '../../local/hub-simulator/index.js';

const ORG_ID = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const ORG = `Org/${ORG_ID}`;
const PER_ID = '0a2d9c64-56f3-4c2a-9a0b-6b1a4e8f1c11';
const PER = `Per/${PER_ID}`;
const T0 = 1_700_000_000_000;

const running: HubSimulator[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
});

async function start(options: HubSimulatorOptions = {}): Promise<HubSimulator> {
  const sim = await HubSimulator.start({
    grants: [{ bearer: ORG, scopes: ['warehouse.items.r', 'zaikio.organization.r'] }],
    ...options,
  });
  running.push(sim);
  return sim;
}

/** A clock the test moves by hand. */
function manualClock(startMs = T0): { now: () => number; advance: (ms: number) => void } {
  let now = startMs;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const DEFAULT_AUTH = basic(DEFAULT_APP.clientId, DEFAULT_APP.clientSecret);

interface Answer {
  readonly res: Response;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

async function post(
  sim: HubSimulator,
  params: Record<string, string>,
  auth: string | null = DEFAULT_AUTH,
  path = '/oauth/access_token',
): Promise<Answer> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-www-form-urlencoded',
    Accept: 'application/json',
  };
  if (auth !== null) headers.Authorization = auth;
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the test looks at text
  }
  return { res, text, json };
}

const mint = (sim: HubSimulator, scope: string, auth?: string | null): Promise<Answer> =>
  post(sim, { grant_type: 'client_credentials', scope }, auth);

const refresh = (sim: HubSimulator, token: string, auth?: string | null): Promise<Answer> =>
  post(sim, { grant_type: 'refresh_token', refresh_token: token }, auth);

const ORG_SCOPES = `${ORG}.warehouse.items.r,${ORG}.zaikio.organization.r`;

function payloadOf(token: unknown): Record<string, unknown> {
  expect(typeof token).toBe('string');
  const decoded = decodeJwt(token as string);
  expect(decoded).toBeDefined();
  return decoded?.payload as Record<string, unknown>;
}

function refreshTokenOf(answer: Answer): string {
  const token = answer.json.refresh_token;
  expect(typeof token).toBe('string');
  return token as string;
}

describe('client_credentials grant', () => {
  it('answers every success field like the Hub', async () => {
    const clock = manualClock(T0 + 123);
    const sim = await start({ clock: clock.now });
    const { res, json } = await mint(sim, ORG_SCOPES);

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(json).sort()).toEqual(
      ['access_token', 'audiences', 'bearer', 'expires_in', 'refresh_token', 'scope', 'token_type'].sort(),
    );
    expect(json.token_type).toBe('bearer');
    expect(json.scope).toBe('warehouse.items.r,zaikio.organization.r');
    expect(json.audiences).toEqual(['warehouse', 'zaikio']);
    expect(json.expires_in).toBe(600);
    expect(json.bearer).toEqual({ id: ORG_ID, type: 'Organization' });
    expect(refreshTokenOf({ res, text: '', json })).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const token = json.access_token as string;
    const [header, , signature] = token.split('.');
    expect(JSON.parse(Buffer.from(header ?? '', 'base64url').toString())).toEqual({
      alg: 'HS256',
      typ: 'JWT',
    });
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const payload = payloadOf(token);
    const iat = Math.floor((T0 + 123) / 1000);
    expect(payload).toEqual({
      iss: 'ZAI',
      sub: `Organization/${ORG_ID}`,
      aud: ['warehouse', 'zaikio'],
      jti: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      nbf: iat,
      iat,
      exp: iat + 600,
      scope: [`${ORG}.warehouse.items.r`, `${ORG}.zaikio.organization.r`],
    });
    const second = await mint(sim, ORG_SCOPES);
    expect(payloadOf(second.json.access_token).jti).not.toBe(payload.jti);
    expect(second.json.refresh_token).not.toBe(json.refresh_token);
  });

  it('mints for a person bearer', async () => {
    const sim = await start({ grants: [{ bearer: PER, scopes: ['zaikio.person.r'] }] });
    const { res, json } = await mint(sim, `${PER}.zaikio.person.r`);
    expect(res.status).toBe(200);
    expect(json.bearer).toEqual({ id: PER_ID, type: 'Person' });
    expect(json.scope).toBe('zaikio.person.r');
    expect(payloadOf(json.access_token)).toMatchObject({
      sub: `Person/${PER_ID}`,
      scope: [`${PER}.zaikio.person.r`],
    });
  });

  it('accepts client credentials in a form body and a JSON body', async () => {
    const sim = await start();
    const form = await post(
      sim,
      {
        grant_type: 'client_credentials',
        scope: ORG_SCOPES,
        client_id: 'sim-client',
        client_secret: 'sim-secret',
      },
      null,
    );
    expect(form.res.status).toBe(200);

    const res = await fetch(`${sim.url}/oauth/access_token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: DEFAULT_AUTH },
      body: JSON.stringify({ grant_type: 'client_credentials', scope: `${ORG}.warehouse.items.r` }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, unknown>).scope).toBe('warehouse.items.r');
  });

  it('leaves out the refresh token when told to', async () => {
    const sim = await start({ issueRefreshTokens: false, tokenLifetimeSeconds: 3600 });
    const { res, json } = await mint(sim, ORG_SCOPES);
    expect(res.status).toBe(200);
    expect('refresh_token' in json).toBe(false);
    expect(json.expires_in).toBe(3600);
  });

  it('lets rw grants cover r and w, but not the other way round', async () => {
    const sim = await start({
      grants: [{ bearer: ORG, scopes: ['warehouse.items.rw', 'zaikio.organization.r'] }],
    });
    for (const perm of ['r', 'w', 'rw']) {
      const { res, json } = await mint(sim, `${ORG}.warehouse.items.${perm}`);
      expect(res.status).toBe(200);
      expect(json.scope).toBe(`warehouse.items.${perm}`);
    }
    const { res, json } = await mint(sim, `${ORG}.zaikio.organization.rw`);
    expect(res.status).toBe(402);
    expect(json).toEqual({ errors: { scopes: ['ungranted_scope'] } });
  });

  it('silently drops scopes that do not exist', async () => {
    const sim = await start({ knownScopes: ['warehouse.items.r', 'zaikio.organization.r'] });
    const partly = await mint(sim, `${ORG}.warehouse.items.r,${ORG}.nosuch_app.things.r`);
    expect(partly.res.status).toBe(200);
    expect(partly.json.scope).toBe('warehouse.items.r');
    expect(payloadOf(partly.json.access_token).scope).toEqual([`${ORG}.warehouse.items.r`]);

    const nothing = await mint(sim, `${ORG}.nosuch_app.things.r`);
    expect(nothing.res.status).toBe(402);
    expect(nothing.json).toEqual({ errors: { scopes: ['ungranted_scope'] } });
  });

  it('keeps grants per app', async () => {
    const sim = await start({
      apps: [
        { clientId: 'app-a', clientSecret: 'secret-a' },
        { clientId: 'app-b', clientSecret: 'secret-b' },
      ],
      grants: [{ clientId: 'app-a', bearer: ORG, scopes: ['warehouse.items.r'] }],
    });
    expect((await mint(sim, `${ORG}.warehouse.items.r`, basic('app-a', 'secret-a'))).res.status).toBe(200);
    const other = await mint(sim, `${ORG}.warehouse.items.r`, basic('app-b', 'secret-b'));
    expect(other.res.status).toBe(402);
    expect(other.json).toEqual({ errors: { scopes: ['bearer_does_not_exist'] } });
  });
});

describe('scope errors', () => {
  it('answers 402 ungranted_scope for a known bearer without the scope', async () => {
    const sim = await start();
    const { res, json } = await mint(sim, `${ORG}.warehouse.items.r,${ORG}.procurement.orders.r`);
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json).toEqual({ errors: { scopes: ['ungranted_scope'] } });
  });

  it('answers 402 bearer_does_not_exist for an unknown bearer', async () => {
    const sim = await start();
    const { res, json } = await mint(sim, 'Org/00000000-0000-0000-0000-000000000000.warehouse.items.r');
    expect(res.status).toBe(402);
    expect(json).toEqual({ errors: { scopes: ['bearer_does_not_exist'] } });
  });

  it.each([
    ['no bearer', 'warehouse.items.r'],
    ['bad permission', `${ORG}.warehouse.items.x`],
    ['upper-case id', `Org/${ORG_ID.toUpperCase()}.warehouse.items.r`],
    ['unknown bearer type', `Foo/${ORG_ID}.warehouse.items.r`],
    ['short app name', `${ORG}.wa.items.r`],
    ['one bad of two', `${ORG}.warehouse.items.r,${ORG}.warehouse`],
  ])('answers 400 malformed_scope (%s)', async (_name, scope) => {
    const sim = await start();
    const { res, json } = await mint(sim, scope);
    expect(res.status).toBe(400);
    expect(json).toEqual({ errors: { scopes: ['malformed_scope'] } });
  });

  it('answers different_bearer_types and different_bearer_ids', async () => {
    const sim = await start();
    const types = await mint(sim, `${ORG}.warehouse.items.r,Per/${ORG_ID}.zaikio.person.r`);
    expect(types.res.status).toBe(400);
    expect(types.json).toEqual({ errors: { scopes: ['different_bearer_types'] } });
    const ids = await mint(sim, `${ORG}.warehouse.items.r,Org/other-org.zaikio.organization.r`);
    expect(ids.res.status).toBe(400);
    expect(ids.json).toEqual({ errors: { scopes: ['different_bearer_ids'] } });
  });

  it('answers invalid_request without a scope and unsupported_grant_type for other grants', async () => {
    const sim = await start();
    const noScope = await post(sim, { grant_type: 'client_credentials' });
    expect(noScope.res.status).toBe(400);
    expect(noScope.json.error).toBe('invalid_request');
    const password = await post(sim, { grant_type: 'password', username: 'x', password: 'y' });
    expect(password.res.status).toBe(400);
    expect(password.json.error).toBe('unsupported_grant_type');
  });
});

describe('client authentication and routing', () => {
  it.each([
    ['a wrong secret', basic('sim-client', 'wrong')],
    ['an unknown client', basic('nobody', 'sim-secret')],
    ['no credentials', null],
    ['a garbled header', 'Basic !!!'],
  ])('answers 401 invalid_client for %s', async (_name, auth) => {
    const sim = await start();
    const { res, json } = await mint(sim, ORG_SCOPES, auth);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic\b/);
    expect(json.error).toBe('invalid_client');
    expect(typeof json.error_description).toBe('string');
  });

  it('answers 404 JSON for anything but POST /oauth/access_token', async () => {
    const sim = await start();
    const get = await fetch(`${sim.url}/oauth/access_token`);
    expect(get.status).toBe(404);
    expect(get.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(((await get.json()) as Record<string, unknown>).error).toBe('not_found');
    const other = await post(
      sim,
      { grant_type: 'client_credentials', scope: ORG_SCOPES },
      DEFAULT_AUTH,
      '/oauth/token',
    );
    expect(other.res.status).toBe(404);
    expect(sim.count()).toBe(0);
  });

  it('rotates a secret: the old one stops working at once', async () => {
    const sim = await start();
    const first = await mint(sim, ORG_SCOPES);
    sim.rotateSecret('sim-client', 'new-secret');
    expect((await mint(sim, ORG_SCOPES)).res.status).toBe(401);
    expect((await mint(sim, ORG_SCOPES, basic('sim-client', 'new-secret'))).res.status).toBe(200);
    const refreshed = await refresh(sim, refreshTokenOf(first), basic('sim-client', 'new-secret'));
    expect(refreshed.res.status).toBe(200);
    expect(() => sim.rotateSecret('nobody', 'x')).toThrow(RangeError);
  });
});

describe('refresh_token grant', () => {
  it('rotates refresh tokens, each usable once', async () => {
    const sim = await start();
    const minted = await mint(sim, ORG_SCOPES);
    const r1 = refreshTokenOf(minted);

    const second = await refresh(sim, r1);
    expect(second.res.status).toBe(200);
    const r2 = refreshTokenOf(second);
    expect(r2).not.toBe(r1);
    expect(second.json).toMatchObject({
      token_type: 'bearer',
      scope: 'warehouse.items.r,zaikio.organization.r',
      expires_in: 600,
      bearer: { id: ORG_ID, type: 'Organization' },
    });
    expect(payloadOf(second.json.access_token).scope).toEqual(payloadOf(minted.json.access_token).scope);

    const reused = await refresh(sim, r1);
    expect(reused.res.status).toBe(400);
    expect(reused.json.error).toBe('invalid_grant');
    expect(typeof reused.json.error_description).toBe('string');

    expect((await refresh(sim, r2)).res.status).toBe(200);
    expect((await refresh(sim, r2)).res.status).toBe(400);
  });

  it('refuses unknown, expired and other clients’ refresh tokens', async () => {
    const clock = manualClock();
    const sim = await start({
      clock: clock.now,
      refreshTokenLifetimeSeconds: 3600,
      apps: [
        { clientId: 'app-a', clientSecret: 'secret-a' },
        { clientId: 'app-b', clientSecret: 'secret-b' },
      ],
    });
    const a = basic('app-a', 'secret-a');
    expect((await refresh(sim, 'no-such-token', a)).json.error).toBe('invalid_grant');

    const token = refreshTokenOf(await mint(sim, ORG_SCOPES, a));
    const stolen = await refresh(sim, token, basic('app-b', 'secret-b'));
    expect(stolen.res.status).toBe(400);
    expect(stolen.json.error).toBe('invalid_grant');

    clock.advance(3600 * 1000);
    const expired = await refresh(sim, token, a);
    expect(expired.res.status).toBe(400);
    expect(expired.json.error).toBe('invalid_grant');

    const fresh = refreshTokenOf(await mint(sim, ORG_SCOPES, a));
    clock.advance(3599 * 1000);
    expect((await refresh(sim, fresh, a)).res.status).toBe(200);
  });

  it('defaults to a 7-day refresh-token lifetime', async () => {
    const clock = manualClock();
    const sim = await start({ clock: clock.now });
    const early = refreshTokenOf(await mint(sim, ORG_SCOPES));
    const late = refreshTokenOf(await mint(sim, ORG_SCOPES));
    clock.advance(7 * 24 * 3600 * 1000 - 1000);
    expect((await refresh(sim, early)).res.status).toBe(200);
    clock.advance(1000);
    expect((await refresh(sim, late)).json.error).toBe('invalid_grant');
  });

  it('denies a refresh once the grant no longer covers the token', async () => {
    const sim = await start();
    const token = refreshTokenOf(await mint(sim, ORG_SCOPES));
    sim.revoke(ORG, ['zaikio.organization.r']);
    const denied = await refresh(sim, token);
    expect(denied.res.status).toBe(400);
    expect(denied.json.error).toBe('invalid_grant');
  });

  it('answers invalid_request without a refresh token', async () => {
    const sim = await start();
    const { res, json } = await post(sim, { grant_type: 'refresh_token' });
    expect(res.status).toBe(400);
    expect(json.error).toBe('invalid_request');
  });
});

describe('grants and revocation', () => {
  it('revokes some scopes (ungranted_scope) or all (bearer_does_not_exist)', async () => {
    const sim = await start();
    sim.revoke(ORG, ['zaikio.organization.r']);
    expect((await mint(sim, `${ORG}.warehouse.items.r`)).res.status).toBe(200);
    expect((await mint(sim, ORG_SCOPES)).json).toEqual({ errors: { scopes: ['ungranted_scope'] } });
    sim.revoke(ORG);
    expect((await mint(sim, `${ORG}.warehouse.items.r`)).json).toEqual({
      errors: { scopes: ['bearer_does_not_exist'] },
    });
    sim.grant({ bearer: ORG, scopes: ['procurement.orders.rw'] });
    expect((await mint(sim, `${ORG}.procurement.orders.w`)).res.status).toBe(200);
  });

  it('revokes one permission of an rw grant', async () => {
    const sim = await start({ grants: [{ bearer: ORG, scopes: ['warehouse.items.rw'] }] });
    sim.revoke(ORG, ['warehouse.items.w']);
    expect((await mint(sim, `${ORG}.warehouse.items.r`)).res.status).toBe(200);
    expect((await mint(sim, `${ORG}.warehouse.items.w`)).res.status).toBe(402);
  });

  it('adds granted scopes to the default catalogue', async () => {
    const sim = await start({ grants: [{ bearer: ORG, scopes: ['custom_app.widgets.r'] }] });
    expect((await mint(sim, `${ORG}.custom_app.widgets.r`)).json.scope).toBe('custom_app.widgets.r');
  });

  it('rejects malformed grants', async () => {
    const sim = await start();
    expect(() => sim.grant({ bearer: 'Organization/x', scopes: ['warehouse.items.r'] })).toThrow(RangeError);
    expect(() => sim.grant({ bearer: ORG, scopes: ['warehouse.items'] })).toThrow(RangeError);
    expect(() => sim.grant({ clientId: 'nobody', bearer: ORG, scopes: ['warehouse.items.r'] })).toThrow(
      RangeError,
    );
  });

  it('changes the token lifetime', async () => {
    const clock = manualClock();
    const sim = await start({ clock: clock.now });
    sim.setTokenLifetime(30);
    const { json } = await mint(sim, ORG_SCOPES);
    expect(json.expires_in).toBe(30);
    expect(payloadOf(json.access_token).exp).toBe(T0 / 1000 + 30);
  });
});

describe('faults', () => {
  it('status: 503 with an HTML page by default, or the given body', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'status', status: 503 }, times: 1 });
    sim.inject({ fault: { kind: 'status', status: 500, body: '{"error":"boom"}' }, times: 1 });
    sim.inject({
      fault: { kind: 'status', status: 502, body: 'gateway', contentType: 'text/plain' },
      times: 1,
    });

    const html = await mint(sim, ORG_SCOPES);
    expect(html.res.status).toBe(503);
    expect(html.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.text).toContain('503 Service Unavailable');

    const json = await mint(sim, ORG_SCOPES);
    expect(json.res.status).toBe(500);
    expect(json.res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json.json).toEqual({ error: 'boom' });

    const plain = await mint(sim, ORG_SCOPES);
    expect(plain.res.status).toBe(502);
    expect(plain.res.headers.get('content-type')).toBe('text/plain');
    expect(plain.text).toBe('gateway');

    expect((await mint(sim, ORG_SCOPES)).res.status).toBe(200);
    expect(sim.requests.map((r) => r.fault)).toEqual(['status', 'status', 'status', undefined]);
  });

  it('rateLimited: 429 with RateLimit-Reset (UNIX seconds) and RateLimit-Rule, or Retry-After', async () => {
    const clock = manualClock(T0 + 400);
    const sim = await start({ clock: clock.now });
    sim.inject({ fault: { kind: 'rateLimited', resetInSeconds: 30 }, times: 1 });
    sim.inject({ fault: { kind: 'rateLimited', resetInSeconds: 12, header: 'Retry-After' }, times: 1 });

    const limited = await mint(sim, ORG_SCOPES);
    expect(limited.res.status).toBe(429);
    expect(limited.res.headers.get('ratelimit-reset')).toBe(String(T0 / 1000 + 1 + 30));
    expect(limited.res.headers.get('ratelimit-rule')).toBe('300reqs/60s');
    expect(limited.res.headers.get('retry-after')).toBeNull();

    const retry = await mint(sim, ORG_SCOPES);
    expect(retry.res.status).toBe(429);
    expect(retry.res.headers.get('retry-after')).toBe('12');
    expect(retry.res.headers.get('ratelimit-reset')).toBeNull();
    expect(sim.count({ status: 429 })).toBe(2);
  });

  it('reset: the connection is destroyed without a response', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'reset' }, times: 1 });
    await expect(mint(sim, ORG_SCOPES)).rejects.toThrow();
    expect(sim.requests[0]).toMatchObject({ status: 0, fault: 'reset', grantType: 'client_credentials' });
    expect((await mint(sim, ORG_SCOPES)).res.status).toBe(200);
  });

  it('slowBody: headers first, the body only after the delay', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'slowBody', delayMs: 400 }, times: 1 });
    const res = await fetch(`${sim.url}/oauth/access_token`, {
      method: 'POST',
      headers: { Authorization: DEFAULT_AUTH, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: ORG_SCOPES }).toString(),
    });
    const headersAt = performance.now();
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(performance.now() - headersAt).toBeGreaterThanOrEqual(300);
    expect(body.token_type).toBe('bearer');
    expect(sim.requests[0]?.fault).toBe('slowBody');
  });

  it('latency: the answer comes late, but right', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'latency', ms: 300 }, times: 1 });
    const started = performance.now();
    const { res } = await mint(sim, ORG_SCOPES);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(res.status).toBe(200);
    expect(sim.requests[0]?.fault).toBe('latency');
  });

  it('latencyMs option delays every response', async () => {
    const sim = await start({ latencyMs: 200 });
    const started = performance.now();
    expect((await mint(sim, ORG_SCOPES)).res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('nonJson: 200 with an HTML body', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'nonJson' } });
    const { res, text } = await mint(sim, ORG_SCOPES);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(() => JSON.parse(text)).toThrow();
  });

  it.each(['access_token', 'expires_in', 'token_type', 'bearer.id'])(
    'missingField: drops %s',
    async (field) => {
      const sim = await start();
      sim.inject({ fault: { kind: 'missingField', field } });
      const { res, json } = await mint(sim, ORG_SCOPES);
      expect(res.status).toBe(200);
      if (field === 'bearer.id') {
        expect(json.bearer).toEqual({ type: 'Organization' });
      } else {
        expect(field in json).toBe(false);
      }
      expect(json.scope).toBe('warehouse.items.r,zaikio.organization.r');
      expect(sim.requests[0]?.fault).toBe('missingField');
    },
  );

  it('expiresInIso: expires_in is an ISO-8601 timestamp', async () => {
    const clock = manualClock();
    const sim = await start({ clock: clock.now });
    sim.inject({ fault: { kind: 'expiresInIso' } });
    const { json } = await mint(sim, ORG_SCOPES);
    expect(json.expires_in).toBe(new Date(T0 + 600_000).toISOString());
    expect(payloadOf(json.access_token).exp).toBe(T0 / 1000 + 600);
  });

  it('partialGrant: silently drops scopes (and permissions), also from the refresh token', async () => {
    const sim = await start({
      grants: [{ bearer: ORG, scopes: ['warehouse.items.rw', 'zaikio.organization.r'] }],
    });
    sim.inject({
      fault: { kind: 'partialGrant', drop: ['zaikio.organization.r', 'warehouse.items.w'] },
      times: 1,
    });
    const partial = await mint(sim, `${ORG}.warehouse.items.rw,${ORG}.zaikio.organization.r`);
    expect(partial.res.status).toBe(200);
    expect(partial.json.scope).toBe('warehouse.items.r');
    expect(partial.json.audiences).toEqual(['warehouse']);
    expect(payloadOf(partial.json.access_token).scope).toEqual([`${ORG}.warehouse.items.r`]);
    const refreshed = await refresh(sim, refreshTokenOf(partial));
    expect(refreshed.json.scope).toBe('warehouse.items.r');
  });

  it('opaqueToken: access_token is not a JWT; expires_in stays', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'opaqueToken' } });
    const { res, json } = await mint(sim, ORG_SCOPES);
    expect(res.status).toBe(200);
    expect(typeof json.access_token).toBe('string');
    expect(json.access_token).not.toContain('.');
    expect(decodeJwt(json.access_token as string)).toBeUndefined();
    expect(json.expires_in).toBe(600);
  });

  it('jwtExpEarlier: the JWT exp is earlier than expires_in says', async () => {
    const clock = manualClock();
    const sim = await start({ clock: clock.now });
    sim.inject({ fault: { kind: 'jwtExpEarlier', bySeconds: 300 } });
    const { json } = await mint(sim, ORG_SCOPES);
    expect(json.expires_in).toBe(600);
    const payload = payloadOf(json.access_token);
    expect(payload.exp).toBe(T0 / 1000 + 300);
    expect(payload.iat).toBe(T0 / 1000);
  });

  it('invalidClient, invalidGrant and scopeError answer like the Hub', async () => {
    const sim = await start();
    const token = refreshTokenOf(await mint(sim, ORG_SCOPES));
    sim.inject({ fault: { kind: 'invalidClient' }, times: 1 });
    const client = await mint(sim, ORG_SCOPES);
    expect(client.res.status).toBe(401);
    expect(client.json.error).toBe('invalid_client');
    expect(client.res.headers.get('www-authenticate')).toMatch(/^Basic\b/);

    sim.inject({ fault: { kind: 'invalidGrant' }, times: 1, grant: 'refresh_token' });
    expect((await mint(sim, ORG_SCOPES)).res.status).toBe(200);
    const grant = await refresh(sim, token);
    expect(grant.res.status).toBe(400);
    expect(grant.json.error).toBe('invalid_grant');

    sim.inject({ fault: { kind: 'scopeError', codes: ['unconnected_app'] }, times: 1 });
    sim.inject({
      fault: { kind: 'scopeError', codes: ['ungranted_scope', 'malformed_scope'], status: 422 },
      times: 1,
    });
    const scope402 = await mint(sim, ORG_SCOPES);
    expect(scope402.res.status).toBe(402);
    expect(scope402.json).toEqual({ errors: { scopes: ['unconnected_app'] } });
    const scope422 = await mint(sim, ORG_SCOPES);
    expect(scope422.res.status).toBe(422);
    expect(scope422.json).toEqual({ errors: { scopes: ['ungranted_scope', 'malformed_scope'] } });
  });

  it('a fault that replaces the answer leaves the Hub state alone (refresh token not used up)', async () => {
    const sim = await start();
    const token = refreshTokenOf(await mint(sim, ORG_SCOPES));
    sim.inject({ fault: { kind: 'status', status: 503 }, times: 1, grant: 'refresh_token' });
    expect((await refresh(sim, token)).res.status).toBe(503);
    expect((await refresh(sim, token)).res.status).toBe(200);
  });

  it('a success fault is not used up by an error answer', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'missingField', field: 'access_token' }, times: 1 });
    const refused = await mint(sim, `${ORG}.procurement.orders.r`);
    expect(refused.res.status).toBe(402);
    expect(sim.requests[0]?.fault).toBeUndefined();
    const faulted = await mint(sim, ORG_SCOPES);
    expect('access_token' in faulted.json).toBe(false);
    expect('access_token' in (await mint(sim, ORG_SCOPES)).json).toBe(true);
  });

  it('times: a rule applies that many times, then the next rule or none', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'status', status: 502 }, times: 2 });
    sim.inject({ fault: { kind: 'status', status: 504 }, times: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await mint(sim, ORG_SCOPES)).res.status);
    expect(statuses).toEqual([502, 502, 504, 200, 200]);
  });

  it('probability: rolled with the injected random, per request', async () => {
    const rolls = [0.1, 0.9, 0.49, 0.5, 0.0];
    let calls = 0;
    const sim = await start({ random: () => rolls[calls++ % rolls.length] ?? 0 });
    sim.inject({ fault: { kind: 'status', status: 503 }, probability: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await mint(sim, ORG_SCOPES)).res.status);
    expect(statuses).toEqual([503, 200, 503, 200, 503]);
    expect(calls).toBe(5);
  });

  it('grant and match narrow which requests a rule hits; clearFaults removes every rule', async () => {
    const sim = await start({
      grants: [{ bearer: ORG, scopes: ['warehouse.items.r', 'zaikio.organization.r'] }],
    });
    sim.inject({
      fault: { kind: 'status', status: 500 },
      match: (req) => req.scope?.includes('zaikio') === true,
    });
    sim.inject({ fault: { kind: 'status', status: 503 }, grant: 'refresh_token' });
    const plain = await mint(sim, `${ORG}.warehouse.items.r`);
    expect(plain.res.status).toBe(200);
    expect((await mint(sim, ORG_SCOPES)).res.status).toBe(500);
    expect((await refresh(sim, refreshTokenOf(plain))).res.status).toBe(503);
    sim.clearFaults();
    expect((await mint(sim, ORG_SCOPES)).res.status).toBe(200);
    expect((await refresh(sim, refreshTokenOf(plain))).res.status).toBe(200);
  });

  it('rejects nonsensical rules', async () => {
    const sim = await start();
    const bad: { fault: Fault; times?: number; probability?: number }[] = [
      { fault: { kind: 'status', status: 500 }, times: 0 },
      { fault: { kind: 'status', status: 500 }, probability: 2 },
      { fault: { kind: 'status', status: 99 } },
      { fault: { kind: 'latency', ms: -1 } },
      { fault: { kind: 'partialGrant', drop: ['nope'] } },
    ];
    for (const rule of bad) expect(() => sim.inject(rule)).toThrow(RangeError);
  });
});

describe('recording', () => {
  it('records every token request in order and counts them', async () => {
    const clock = manualClock();
    const sim = await start({ clock: clock.now });
    const token = refreshTokenOf(await mint(sim, ORG_SCOPES));
    clock.advance(1000);
    await mint(sim, ORG_SCOPES, basic('sim-client', 'bad'));
    sim.inject({ fault: { kind: 'status', status: 503 }, times: 1 });
    await refresh(sim, token);
    await refresh(sim, token);

    expect(sim.requests).toEqual([
      { at: T0, grantType: 'client_credentials', clientId: 'sim-client', scope: ORG_SCOPES, status: 200 },
      {
        at: T0 + 1000,
        grantType: 'client_credentials',
        clientId: 'sim-client',
        scope: ORG_SCOPES,
        status: 401,
      },
      {
        at: T0 + 1000,
        grantType: 'refresh_token',
        clientId: 'sim-client',
        scope: undefined,
        status: 503,
        fault: 'status',
      },
      { at: T0 + 1000, grantType: 'refresh_token', clientId: 'sim-client', scope: undefined, status: 200 },
    ]);
    expect(sim.count()).toBe(4);
    expect(sim.count({ grantType: 'client_credentials' })).toBe(2);
    expect(sim.count({ grantType: 'refresh_token', status: 200 })).toBe(1);
    expect(sim.count({ status: 401 })).toBe(1);
    sim.resetCounts();
    expect(sim.count()).toBe(0);
    expect(sim.requests).toEqual([]);
  });

  it('logs one line per request without secrets or tokens', async () => {
    const lines: string[] = [];
    const sim = await start({ log: (line) => lines.push(line) });
    const minted = await mint(sim, ORG_SCOPES);
    await refresh(sim, refreshTokenOf(minted));
    expect(lines).toHaveLength(2);
    const all = lines.join('\n');
    expect(all).toContain('client_credentials');
    expect(all).not.toContain('sim-secret');
    expect(all).not.toContain(String(minted.json.access_token));
    expect(all).not.toContain(String(minted.json.refresh_token));
  });
});

describe('stop', () => {
  it('returns promptly with a keep-alive connection open', async () => {
    const sim = await HubSimulator.start();
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${sim.url}/nothing`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(404);
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);

      const started = performance.now();
      await sim.stop();
      expect(performance.now() - started).toBeLessThan(2000);
      await expect(fetch(`${sim.url}/oauth/access_token`, { method: 'POST' })).rejects.toThrow();
      await sim.stop(); // idempotent
    } finally {
      agent.destroy();
    }
  });

  it('returns promptly while a slow body is in flight', async () => {
    const sim = await start();
    sim.inject({ fault: { kind: 'slowBody', delayMs: 30_000 } });
    const res = await fetch(`${sim.url}/oauth/access_token`, {
      method: 'POST',
      headers: { Authorization: DEFAULT_AUTH, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: ORG_SCOPES }).toString(),
    });
    expect(res.status).toBe(200);
    const started = performance.now();
    await sim.stop();
    expect(performance.now() - started).toBeLessThan(2000);
    await expect(res.text()).rejects.toThrow();
  });
});

describe('HTTP Basic credentials, form-encoded or not (RFC 6749 2.3.1)', () => {
  it('accepts both the raw and the form-encoded client id and secret', async () => {
    const sim = await start({ apps: [{ clientId: 'my-app', clientSecret: 's3cret-with-dash' }] });
    const raw = await mint(sim, ORG_SCOPES, basic('my-app', 's3cret-with-dash'));
    const encoded = await mint(sim, ORG_SCOPES, basic('my%2Dapp', 's3cret%2Dwith%2Ddash'));
    expect(raw.res.status).toBe(200);
    expect(encoded.res.status).toBe(200);
    const wrong = await mint(sim, ORG_SCOPES, basic('my%2Dapp', 'other'));
    expect(wrong.res.status).toBe(401);
  });
});
