import { describe, expect, it } from 'vitest';
import { readUnverifiedClaims } from '../../functions/core/hub/jwt.js';
import { makeJwt, ORG } from './support/fixtures.js';

const part = (value: string): string => Buffer.from(value).toString('base64url');

describe('readUnverifiedClaims', () => {
  it('reads exp and an array scope claim from a Hub-shaped JWT', () => {
    const token = makeJwt({
      iss: 'ZAI',
      sub: 'Organization/b1475f65-236c-58b8-96e1-e1778b43beb7',
      jti: 'x',
      nbf: 1_700_000_000,
      exp: 1_700_000_600,
      scope: [`${ORG}.warehouse.items.r`],
    });
    expect(readUnverifiedClaims(token)).toEqual({ exp: 1_700_000_600, scope: [`${ORG}.warehouse.items.r`] });
  });

  it('reads a string scope claim', () => {
    expect(readUnverifiedClaims(makeJwt({ scope: 'a.b.r c.d.w' }))).toEqual({ scope: 'a.b.r c.d.w' });
  });

  it('returns empty claims for a JWT without exp and scope', () => {
    expect(readUnverifiedClaims(makeJwt({ sub: 'x' }))).toEqual({});
  });

  it('ignores an exp that is not a finite number', () => {
    expect(readUnverifiedClaims(makeJwt({ exp: '1700000600' }))).toEqual({});
    expect(readUnverifiedClaims(makeJwt({ exp: null }))).toEqual({});
    expect(readUnverifiedClaims(`${part('{}')}.${part('{"exp":1e999}')}.sig`)).toEqual({});
  });

  it('ignores a scope claim that is not a string or an array of strings', () => {
    expect(readUnverifiedClaims(makeJwt({ exp: 5, scope: ['a.b.r', 7] }))).toEqual({ exp: 5 });
    expect(readUnverifiedClaims(makeJwt({ exp: 5, scope: { a: 1 } }))).toEqual({ exp: 5 });
  });

  it('does not verify the signature', () => {
    const token = makeJwt({ exp: 42 });
    const tampered = `${token.slice(0, token.lastIndexOf('.'))}.not-a-signature`;
    expect(readUnverifiedClaims(tampered)).toEqual({ exp: 42 });
  });

  it('accepts a payload encoded as standard base64 with padding', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 99 })).toString('base64');
    expect(readUnverifiedClaims(`${part('{}')}.${payload}.sig`)).toEqual({ exp: 99 });
  });

  it.each([
    ['an opaque token', 'Zk3xQ9pL2mN8vB4cR7tY1wE6uI0oA5sD'],
    ['two parts', `${part('{}')}.${part('{"exp":1}')}`],
    ['four parts', `${part('{}')}.${part('{"exp":1}')}.sig.extra`],
    ['an empty string', ''],
    ['a payload that is not JSON', `${part('{}')}.${part('not json')}.sig`],
    ['a payload that is JSON null', `${part('{}')}.${part('null')}.sig`],
    ['a payload that is a number', `${part('{}')}.${part('12')}.sig`],
    ['dots only', '..'],
  ])('returns undefined for %s', (_label, token) => {
    expect(readUnverifiedClaims(token)).toBeUndefined();
  });
});
