/** The access decisions of functions/core/access.ts and grant-policy.ts, with plain values. */
import { describe, expect, it } from 'vitest';
import {
  type AccessPolicy,
  admitNewKey,
  type Caller,
  checkRequest,
  encodeGrants,
  identifyCaller,
  parseGrants,
  patternCovers,
  qualifierOf,
} from '../../functions/core/access.js';
import { AccessDeniedError } from '../../functions/core/errors.js';
import { grantPolicy } from '../../functions/core/grant-policy.js';
import { rejectedVersionOf, UNNAMED_FORCE_MIN_AGE_MS } from '../../functions/core/lifecycle/mint.js';
import { scopeSet } from '../../functions/core/scopes.js';
import type { TokenRecord } from '../../functions/core/store/record.js';
import { tokenSha256 } from '../../functions/core/token-hash.js';

const A = 'b1475f65-236c-58b8-96e1-e1778b43beb7';
const B = '0d5e2c1a-7f43-4b8e-9a61-3c2b1f0e9d87';
const ARN = 'arn:aws:lambda:eu-central-1:123456789012:function:Broker-Mint';
const policy: AccessPolicy = {
  bearers: [`Org/${A}`],
  scopes: ['warehouse.items.rw', 'zaikio.*'],
  clients: ['default'],
  newKeysPerHour: 2,
};
const grants = { orders: policy };
const caller: Caller = { consumer: 'orders', policy };
const ask = (id: string, scopes: string[], client = 'default') =>
  checkRequest(caller, { client, scopes: scopeSet({ type: 'Organization', id }, scopes) });

describe('who is calling', () => {
  it('is the alias Lambda reports, and nobody without one', () => {
    expect(qualifierOf(`${ARN}:orders`)).toBe('orders');
    expect(qualifierOf(ARN)).toBeUndefined();
    expect(qualifierOf(undefined)).toBeUndefined();
    expect(identifyCaller(grants, `${ARN}:orders`)).toEqual(caller);
    for (const arn of [undefined, ARN, 'orders']) {
      expect(identifyCaller(grants, arn)).toMatchObject({
        name: 'AccessDeniedError',
        code: 'unidentified_caller',
      });
    }
    for (const qualifier of ['$LATEST', '7', 'invoices', '__proto__', 'toString']) {
      expect(identifyCaller(grants, `${ARN}:${qualifier}`)).toMatchObject({ code: 'access_denied' });
    }
  });
});

describe('what a grant covers', () => {
  it('matches scope patterns; rw covers r and w', () => {
    expect(patternCovers('*', 'warehouse.items.r')).toBe(true);
    expect(patternCovers('warehouse.*', 'warehouse.items.w')).toBe(true);
    expect(patternCovers('warehouse.*', 'warehousex.items.w')).toBe(false);
    expect(patternCovers('warehouse.items.*', 'warehouse.items.rw')).toBe(true);
    expect(patternCovers('warehouse.items.*', 'warehouse.orders.r')).toBe(false);
    expect(patternCovers('warehouse.items.rw', 'warehouse.items.r')).toBe(true);
    expect(patternCovers('warehouse.items.r', 'warehouse.items.rw')).toBe(false);
    expect(patternCovers('warehouse.items.r', 'warehouse.items.w')).toBe(false);
  });

  it('allows its bearers, scopes and apps, and names what it refuses', () => {
    expect(ask(A, ['warehouse.items.r', 'zaikio.organization.r'])).toBeUndefined();
    expect(ask(B, ['warehouse.items.r'])).toMatchObject({
      code: 'bearer_not_allowed',
      details: { consumer: 'orders', refused: [`Org/${B}`] },
    });
    expect(ask(A, ['warehouse.items.r', 'warehouse.orders.r', 'procurement.orders.w'])).toMatchObject({
      code: 'scope_not_allowed',
      details: { refused: ['procurement.orders.w', 'warehouse.orders.r'] },
    });
    expect(ask(A, ['warehouse.items.r'], 'printing')).toMatchObject({ code: 'client_not_allowed' });
    expect(
      checkRequest(
        { consumer: 'all', policy: { ...policy, bearers: '*' } },
        {
          client: 'default',
          scopes: scopeSet({ type: 'Person', id: B }, ['zaikio.person.r']),
        },
      ),
    ).toBeUndefined();
  });
});

describe('new keys per hour', () => {
  it('admits up to the ceiling in one clock hour and refuses with the next hour as retryAt', () => {
    const at = Date.parse('2026-11-28T12:30:00Z');
    const first = admitNewKey(undefined, caller, at);
    const second = admitNewKey(first as never, caller, at + 1);
    const third = admitNewKey(second as never, caller, at + 2);
    expect(second).toEqual({ hour: Math.floor(at / 3_600_000), count: 2 });
    expect(third).toBeInstanceOf(AccessDeniedError);
    expect(third).toMatchObject({
      code: 'new_key_limit',
      transient: true,
      details: { retryAt: '2026-11-28T13:00:00.000Z' },
    });
    expect(admitNewKey(second as never, caller, Date.parse('2026-11-28T13:00:00Z'))).toMatchObject({
      count: 1,
    });
  });
});

describe('grants in the environment', () => {
  it('round-trip through their compact JSON, and anything malformed is refused', () => {
    const full = {
      orders: policy,
      all: { bearers: '*' as const, scopes: ['*'], clients: ['default'], newKeysPerHour: 100 },
    };
    const text = encodeGrants(full);
    expect(text).not.toContain('"newKeysPerHour":100');
    expect(parseGrants(text)).toEqual(full);
    expect(parseGrants(undefined)).toEqual({});
    for (const bad of [
      'not json',
      '[]',
      '{"1x":{"bearers":"*","scopes":["*"],"clients":["default"]}}',
      '{"a":{"bearers":[],"scopes":["*"],"clients":["default"]}}',
      '{"a":{"bearers":"all","scopes":["*"],"clients":["default"]}}',
      '{"a":{"bearers":"*","scopes":["warehouse"],"clients":["default"]}}',
      '{"a":{"bearers":"*","scopes":["*"],"clients":[]}}',
      '{"a":{"bearers":"*","scopes":["*"],"clients":["default"],"newKeysPerHour":-1}}',
    ]) {
      expect(() => parseGrants(bad), bad).toThrow(/grants/);
    }
  });

  it('are built from grant options with explicit bearers, scope patterns and the default app', () => {
    expect(
      grantPolicy({ organizations: [A], persons: [B], scopes: ['warehouse.*'] }, 'main', 'here'),
    ).toEqual({
      bearers: [`Org/${A}`, `Per/${B}`],
      scopes: ['warehouse.*'],
      clients: ['main'],
      newKeysPerHour: 100,
    });
    expect(
      grantPolicy({ allBearers: true, scopes: ['*'], clients: ['a', 'b'] }, 'main', 'here').bearers,
    ).toBe('*');
    expect(() => grantPolicy({ scopes: ['*'] }, 'main', 'here')).toThrow(/^here: name the bearers/);
  });
});

describe('a forced refresh', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');
  const record = (issuedAt: number): TokenRecord =>
    ({
      version: 4,
      status: 'active',
      failureCount: 0,
      token: {
        accessToken: 'token-4',
        tokenType: 'Bearer',
        expiresAt: now + 600_000,
        issuedAt,
        grantedScopes: [],
      },
    }) as unknown as TokenRecord;

  it('rejects the stored token only when it is the one named', () => {
    expect(rejectedVersionOf(record(now), { accessTokenSha256: tokenSha256('token-4') }, now)).toBe(4);
    expect(
      rejectedVersionOf(record(now), { accessTokenSha256: tokenSha256('token-3') }, now),
    ).toBeUndefined();
    expect(rejectedVersionOf(record(now), false, now)).toBeUndefined();
    expect(rejectedVersionOf(undefined, { accessTokenSha256: tokenSha256('x') }, now)).toBe(-1);
  });

  it('without a name, rejects only a token older than the minimum age', () => {
    expect(rejectedVersionOf(record(now - UNNAMED_FORCE_MIN_AGE_MS + 1), true, now)).toBeUndefined();
    expect(rejectedVersionOf(record(now - UNNAMED_FORCE_MIN_AGE_MS), true, now)).toBe(4);
  });
});
