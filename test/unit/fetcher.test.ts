import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CredentialsProvider } from '../../functions/core/credentials.js';
import {
  type BrokerError,
  HubUnavailableError,
  InvalidClientError,
  ScopeNotGrantedError,
} from '../../functions/core/errors.js';
import { HubTokenFetcher } from '../../functions/core/fetcher.js';
import { HubClient } from '../../functions/core/hub/client.js';
import { HubSimulator } from '../../local/hub-simulator/index.js';
import { fakeTime, ORG, orgScopes, T0 } from './support/fixtures.js';

const CLIENT_ID = 'fetcher-client';
const SECRET = 'fetcher-secret-1';
const SECRET_ID = 'zaikio/fetcher';
const SCOPES = orgScopes('warehouse.items.r', 'zaikio.organization.r');
const DEADLINE = T0 + 10_000;

const secretsManager = new SecretsManagerClient({ region: 'local' });
const sm = mockClient(secretsManager);
const setSecret = (clientSecret: string): void => {
  sm.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({
    SecretString: JSON.stringify({ clientId: CLIENT_ID, clientSecret }),
  });
};
const secretReads = (): number => sm.commandCalls(GetSecretValueCommand).length;

let hub: HubSimulator;
let hubClient: HubClient;
let fetcher: HubTokenFetcher;

beforeEach(async () => {
  sm.reset();
  setSecret(SECRET);
  const time = fakeTime(T0);
  hub = await HubSimulator.start({
    apps: [{ clientId: CLIENT_ID, clientSecret: SECRET }],
    grants: [{ bearer: ORG, scopes: ['warehouse.items.r', 'zaikio.organization.r'] }],
    clock: time.now,
  });
  hubClient = new HubClient({ baseUrl: hub.url, clock: time.now, sleep: time.sleep, random: () => 0 });
  const credentials = new CredentialsProvider({
    clients: { app: SECRET_ID },
    maxAgeSeconds: 300,
    secretsManager,
  });
  fetcher = new HubTokenFetcher({ hub: hubClient, credentials });
});

afterEach(async () => {
  await hubClient.close();
  await hub.stop();
  sm.reset();
});

async function rejected(promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise;
  } catch (error) {
    return error as BrokerError;
  }
  throw new Error('expected a rejection');
}

/** Mints once so that the credentials are cached and a refresh token is known; forgets the requests. */
async function primed(): Promise<string> {
  const first = await fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE });
  hub.resetCounts();
  expect(first.token.refreshToken).toBeDefined();
  return first.token.refreshToken ?? '';
}

const grants = (): [string | undefined, number][] => hub.requests.map((r) => [r.grantType, r.status]);

describe('HubTokenFetcher', () => {
  it('uses client credentials when no refresh token is given', async () => {
    const result = await fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE });
    expect(result.grant).toBe('client_credentials');
    expect(result.fellBack).toBe(false);
    expect(result.token.grantedScopes).toEqual(['warehouse.items.r', 'zaikio.organization.r']);
    expect(grants()).toEqual([['client_credentials', 200]]);
  });

  it('uses the refresh token grant when a refresh token is given', async () => {
    const refreshToken = await primed();
    const result = await fetcher.fetch({ client: 'app', scopes: SCOPES, refreshToken, deadlineAt: DEADLINE });
    expect(result.grant).toBe('refresh_token');
    expect(result.fellBack).toBe(false);
    expect(result.token.refreshToken).toBeDefined();
    expect(result.token.refreshToken).not.toBe(refreshToken);
    expect(grants()).toEqual([['refresh_token', 200]]);
  });

  it('falls back to client credentials when the refresh token is refused (invalid_grant)', async () => {
    const refreshToken = await primed();
    await fetcher.fetch({ client: 'app', scopes: SCOPES, refreshToken, deadlineAt: DEADLINE });
    hub.resetCounts();
    // Refresh tokens are single use: the spent one is refused.
    const result = await fetcher.fetch({ client: 'app', scopes: SCOPES, refreshToken, deadlineAt: DEADLINE });
    expect(result.grant).toBe('client_credentials');
    expect(result.fellBack).toBe(true);
    expect(result.token.grantedScopes).toEqual(['warehouse.items.r', 'zaikio.organization.r']);
    expect(grants()).toEqual([
      ['refresh_token', 400],
      ['client_credentials', 200],
    ]);
  });

  it('falls back for an unknown refresh token too', async () => {
    const result = await fetcher.fetch({
      client: 'app',
      scopes: SCOPES,
      refreshToken: 'never-issued',
      deadlineAt: DEADLINE,
    });
    expect(result.fellBack).toBe(true);
    expect(grants()).toEqual([
      ['refresh_token', 400],
      ['client_credentials', 200],
    ]);
  });

  it('does not fall back when the refresh fails for another reason', async () => {
    const refreshToken = await primed();
    hub.inject({ fault: { kind: 'status', status: 503 }, grant: 'refresh_token' });
    const error = await rejected(
      fetcher.fetch({ client: 'app', scopes: SCOPES, refreshToken, deadlineAt: DEADLINE }),
    );
    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(error.details.hubStatus).toBe(503);
    // The HubClient retried the refresh (default maxAttempts 4), but never switched grants.
    expect(hub.count({ grantType: 'refresh_token', status: 503 })).toBe(4);
    expect(hub.count({ grantType: 'client_credentials' })).toBe(0);
  });

  it('does not fall back or retry when the scopes are no longer granted', async () => {
    hub.revoke(ORG);
    const error = await rejected(fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE }));
    expect(error).toBeInstanceOf(ScopeNotGrantedError);
    expect(error.details.hubCodes).toEqual(['bearer_does_not_exist']);
    expect(hub.count()).toBe(1);
    expect(secretReads()).toBe(1);
  });

  it('re-reads the secret once after invalid_client and succeeds after a rotation', async () => {
    await primed();
    expect(secretReads()).toBe(1);
    hub.rotateSecret(CLIENT_ID, 'fetcher-secret-2');
    setSecret('fetcher-secret-2');
    const result = await fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE });
    expect(result.grant).toBe('client_credentials');
    expect(result.token.grantedScopes).toEqual(['warehouse.items.r', 'zaikio.organization.r']);
    expect(grants()).toEqual([
      ['client_credentials', 401],
      ['client_credentials', 200],
    ]);
    expect(secretReads()).toBe(2);
    expect(
      sm.commandCalls(GetSecretValueCommand).every((call) => call.args[0].input.SecretId === SECRET_ID),
    ).toBe(true);
    // The rotated secret is cached now: the next fetch reads nothing.
    await fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE });
    expect(secretReads()).toBe(2);
  });

  it('recovers from a rotation during a refresh too: client credentials decide about the secret', async () => {
    const refreshToken = await primed();
    hub.rotateSecret(CLIENT_ID, 'fetcher-secret-2');
    setSecret('fetcher-secret-2');
    const result = await fetcher.fetch({ client: 'app', scopes: SCOPES, refreshToken, deadlineAt: DEADLINE });
    expect(result.grant).toBe('client_credentials');
    expect(result.fellBack).toBe(true);
    expect(grants()).toEqual([
      ['refresh_token', 401],
      ['client_credentials', 401],
      ['client_credentials', 200],
    ]);
    expect(secretReads()).toBe(2);
  });

  it('gives up with InvalidClientError after one re-read when the secret is unchanged', async () => {
    await primed();
    hub.rotateSecret(CLIENT_ID, 'fetcher-secret-2');
    const error = await rejected(fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE }));
    expect(error).toBeInstanceOf(InvalidClientError);
    expect(error.code).toBe('invalid_client');
    expect(secretReads()).toBe(2);
    expect(grants()).toEqual([['client_credentials', 401]]);
    expect(error.message).not.toContain(SECRET);
  });

  it('gives up with InvalidClientError after one re-read when the new secret is wrong too', async () => {
    await primed();
    hub.rotateSecret(CLIENT_ID, 'fetcher-secret-2');
    setSecret('fetcher-secret-wrong');
    const error = await rejected(fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE }));
    expect(error).toBeInstanceOf(InvalidClientError);
    expect(error.code).toBe('invalid_client');
    expect(secretReads()).toBe(2);
    expect(grants()).toEqual([
      ['client_credentials', 401],
      ['client_credentials', 401],
    ]);
    expect(JSON.stringify(error)).not.toContain('fetcher-secret');
  });

  it('does not re-read the secret for other errors', async () => {
    await primed();
    hub.inject({ fault: { kind: 'scopeError', codes: ['ungranted_scope'] } });
    await rejected(fetcher.fetch({ client: 'app', scopes: SCOPES, deadlineAt: DEADLINE }));
    expect(secretReads()).toBe(1);
  });
});
