import { describe, expect, it } from 'vitest';
import { ClientCredentials } from '../../functions/core/credentials.js';
import { buildTokenRequest, TOKEN_PATH } from '../../functions/core/hub/request.js';
import { scopeSet } from '../../functions/core/scopes.js';
import { ORG, ORG_ID, orgScopes, PER_ID } from './support/fixtures.js';

const CREDENTIALS = new ClientCredentials('my-client-id', 'my-client-secret');
const SCOPES = orgScopes('zaikio.organization.r', 'warehouse.items.r');

describe('buildTokenRequest', () => {
  it('builds the client_credentials request byte for byte', () => {
    const request = buildTokenRequest('', { type: 'client_credentials' }, SCOPES, CREDENTIALS);
    expect(request).toEqual({
      method: 'POST',
      path: '/oauth/access_token',
      headers: {
        authorization: `Basic ${Buffer.from('my-client-id:my-client-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body:
        `grant_type=client_credentials&scope=Org%2F${ORG_ID}.warehouse.items.r%2C` +
        `Org%2F${ORG_ID}.zaikio.organization.r`,
    });
  });

  it('sends HTTP Basic of clientId:secret', () => {
    const { headers } = buildTokenRequest('', { type: 'client_credentials' }, SCOPES, CREDENTIALS);
    const value = headers.authorization ?? '';
    expect(value.startsWith('Basic ')).toBe(true);
    expect(Buffer.from(value.slice('Basic '.length), 'base64').toString('utf8')).toBe(
      'my-client-id:my-client-secret',
    );
  });

  it('sends the scope parameter as comma-separated full scopes that decode back exactly', () => {
    const { body } = buildTokenRequest('', { type: 'client_credentials' }, SCOPES, CREDENTIALS);
    const form = new URLSearchParams(body);
    expect([...form.keys()]).toEqual(['grant_type', 'scope']);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('scope')).toBe(`${ORG}.warehouse.items.r,${ORG}.zaikio.organization.r`);
  });

  it('uses the Per prefix for a person', () => {
    const set = scopeSet({ type: 'Person', id: PER_ID }, ['zaikio.person.r']);
    const { body } = buildTokenRequest('', { type: 'client_credentials' }, set, CREDENTIALS);
    expect(new URLSearchParams(body).get('scope')).toBe(`Per/${PER_ID}.zaikio.person.r`);
  });

  it('builds the refresh_token request without a scope and with the token form-encoded', () => {
    const refreshToken = 'a+b/c=d&e f';
    const request = buildTokenRequest('', { type: 'refresh_token', refreshToken }, SCOPES, CREDENTIALS);
    expect(request.body).toBe('grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3Dd%26e+f');
    expect(new URLSearchParams(request.body).get('refresh_token')).toBe(refreshToken);
    expect(new URLSearchParams(request.body).has('scope')).toBe(false);
    expect(request.method).toBe('POST');
    expect(request.path).toBe(TOKEN_PATH);
    expect(request.headers).toEqual({
      authorization: CREDENTIALS.basicAuthorization(),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    });
  });

  it('prefixes the path with a base path', () => {
    expect(buildTokenRequest('/hub', { type: 'client_credentials' }, SCOPES, CREDENTIALS).path).toBe(
      '/hub/oauth/access_token',
    );
    expect(
      buildTokenRequest('/a/b', { type: 'refresh_token', refreshToken: 'x' }, SCOPES, CREDENTIALS).path,
    ).toBe('/a/b/oauth/access_token');
  });

  it('never puts the secret in clear text into the request', () => {
    const request = buildTokenRequest('', { type: 'client_credentials' }, SCOPES, CREDENTIALS);
    expect(JSON.stringify(request)).not.toContain('my-client-secret');
  });

  it('exports the documented token path', () => {
    expect(TOKEN_PATH).toBe('/oauth/access_token');
  });
});
