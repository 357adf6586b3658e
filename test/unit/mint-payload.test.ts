import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../functions/core/errors.js';
import type { IssuedToken } from '../../functions/core/token-request.js';
import { mintResponse, parseMintRequest } from '../../functions/mint/payload.js';
import { ORG, ORG_ID, PER_ID } from './support/fixtures.js';

function invalid(event: unknown): InvalidRequestError {
  try {
    parseMintRequest(event);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error('expected parseMintRequest to throw');
}

describe('parseMintRequest', () => {
  it('accepts the Zaikio string form', () => {
    expect(parseMintRequest({ scope: `${ORG}.zaikio.organization.r, ${ORG}.warehouse.items.r` })).toEqual({
      scopes: {
        bearer: { type: 'Organization', id: ORG_ID },
        scopes: ['warehouse.items.r', 'zaikio.organization.r'],
      },
      client: undefined,
      minValiditySeconds: undefined,
      forceRefresh: undefined,
    });
  });

  it('accepts organizationId with scopes', () => {
    const request = parseMintRequest({
      organizationId: ORG_ID,
      scopes: ['zaikio.organization.r', 'warehouse.items.r', 'warehouse.items.r'],
    });
    expect(request.scopes).toEqual({
      bearer: { type: 'Organization', id: ORG_ID },
      scopes: ['warehouse.items.r', 'zaikio.organization.r'],
    });
  });

  it('maps both forms of the same request to the same scope set', () => {
    expect(parseMintRequest({ organizationId: ORG_ID, scopes: ['warehouse.items.r'] }).scopes).toEqual(
      parseMintRequest({ scope: `${ORG}.warehouse.items.r` }).scopes,
    );
  });

  it('accepts personId with scopes', () => {
    expect(parseMintRequest({ personId: PER_ID, scopes: ['zaikio.person.r'] }).scopes).toEqual({
      bearer: { type: 'Person', id: PER_ID },
      scopes: ['zaikio.person.r'],
    });
  });

  it('passes client, minValiditySeconds and forceRefresh through', () => {
    expect(
      parseMintRequest({
        scope: `${ORG}.warehouse.items.r`,
        client: 'main',
        minValiditySeconds: 300,
        forceRefresh: true,
      }),
    ).toMatchObject({ client: 'main', minValiditySeconds: 300, forceRefresh: true });
  });

  it.each([
    ['null', null],
    ['an array', [{ scope: `${ORG}.warehouse.items.r` }]],
    ['a string', `${ORG}.warehouse.items.r`],
    ['a number', 1],
    ['undefined', undefined],
  ])('rejects an event that is %s', (_label, event) => {
    const error = invalid(event);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('JSON object');
  });

  it('marks a use report, which cannot also force a refresh', () => {
    const scope = `${ORG}.warehouse.items.r`;
    expect(parseMintRequest({ scope, useReport: true }).useReport).toBe(true);
    expect(parseMintRequest({ scope, useReport: false })).not.toHaveProperty('useReport');
    expect(invalid({ scope, useReport: 'yes' }).message).toContain('"useReport" must be a boolean');
    expect(invalid({ scope, useReport: true, forceRefresh: true }).message).toContain('cannot also force');
  });

  it('rejects unknown fields, naming each', () => {
    const error = invalid({ scope: `${ORG}.warehouse.items.r`, scopez: [], extra: 1 });
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('unknown field(s): scopez, extra');
  });

  it('rejects a request that names no bearer', () => {
    expect(invalid({}).message).toContain('exactly one of');
    expect(invalid({ scopes: ['warehouse.items.r'] }).message).toContain('exactly one of');
  });

  it.each([
    [
      'scope and organizationId',
      { scope: `${ORG}.warehouse.items.r`, organizationId: ORG_ID, scopes: ['a.b.r'] },
    ],
    [
      'organizationId and personId',
      { organizationId: ORG_ID, personId: PER_ID, scopes: ['zaikio.person.r'] },
    ],
    ['scope and personId', { scope: `${ORG}.warehouse.items.r`, personId: PER_ID }],
  ])('rejects %s at once', (_label, event) => {
    const error = invalid(event);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('exactly one of');
  });

  it('rejects scopes alongside the string form', () => {
    const error = invalid({ scope: `${ORG}.warehouse.items.r`, scopes: ['warehouse.items.r'] });
    expect(error.message).toContain('"scopes" goes with organizationId or personId');
  });

  it('rejects organizationId or personId without a scopes array', () => {
    expect(invalid({ organizationId: ORG_ID }).message).toContain('"scopes" must be an array');
    expect(invalid({ personId: PER_ID, scopes: 'zaikio.person.r' }).message).toContain(
      '"scopes" must be an array',
    );
  });

  it('rejects an empty scopes array', () => {
    expect(invalid({ organizationId: ORG_ID, scopes: [] }).code).toBe('malformed_scope');
  });

  it('rejects malformed bearer ids, naming the field', () => {
    const org = invalid({ organizationId: ORG_ID.toUpperCase(), scopes: ['warehouse.items.r'] });
    expect(org.code).toBe('malformed_scope');
    expect(org.message).toContain('organizationId');
    const per = invalid({ personId: 42, scopes: ['zaikio.person.r'] });
    expect(per.message).toContain('personId');
  });

  it('rejects malformed scopes in either form', () => {
    expect(invalid({ scope: 'warehouse.items.r' }).code).toBe('malformed_scope');
    expect(invalid({ scope: 42 }).code).toBe('malformed_scope');
    expect(invalid({ organizationId: ORG_ID, scopes: [`${ORG}.warehouse.items.r`] }).code).toBe(
      'malformed_scope',
    );
    expect(invalid({ organizationId: ORG_ID, scopes: [7] }).code).toBe('malformed_scope');
  });

  it.each([
    ['client', 42, '"client" must be a string'],
    ['minValiditySeconds', '60', '"minValiditySeconds" must be a number'],
    ['forceRefresh', 'true', '"forceRefresh" must be a boolean'],
    ['forceRefresh', 1, '"forceRefresh" must be a boolean'],
  ])('rejects %s of the wrong type', (field, value, message) => {
    const error = invalid({ scope: `${ORG}.warehouse.items.r`, [field]: value });
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(message);
  });
});

describe('mintResponse', () => {
  it('shapes the response with an ISO expiry and nothing else', () => {
    const token: IssuedToken & { readonly refreshToken: string } = {
      accessToken: 'access-token',
      tokenType: 'Bearer',
      issuedAt: Date.UTC(2026, 10, 28, 14, 0, 0),
      expiresAt: Date.UTC(2026, 10, 28, 15, 0, 0),
      scopes: ['warehouse.items.r', 'zaikio.organization.r'],
      bearer: { type: 'Organization', id: ORG_ID },
      refreshToken: 'must-not-leave-the-broker',
    };
    const response = mintResponse(token);
    expect(response).toEqual({
      accessToken: 'access-token',
      tokenType: 'Bearer',
      issuedAt: '2026-11-28T14:00:00.000Z',
      expiresAt: '2026-11-28T15:00:00.000Z',
      scopes: ['warehouse.items.r', 'zaikio.organization.r'],
      bearer: { type: 'Organization', id: ORG_ID },
    });
    expect(JSON.stringify(response)).not.toContain('must-not-leave-the-broker');
  });
});
