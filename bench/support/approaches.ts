/**
 * The three ways a fleet of consumer Lambdas can get Zaikio tokens, each as one "container": its own
 * SDK clients and caches, as a separate Lambda container would have them.
 *
 * 1. naive: every call reads the secret and runs the client credentials grant;
 * 2. caching: what a careful user builds without the broker: Powertools Parameters for the secret
 *    (maxAge 300 s), oauth4webapi for the grant, an in-memory token cache per container with a
 *    minimum validity, and concurrent calls for one token sharing one request;
 * 3. broker: this project's consumer client (memory → GetItem → Invoke of the mint function).
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as oauth from 'oauth4webapi';
import type { TokenClient } from '../../functions/consumer/index.js';
import { ClockedSecretSource, newSecretsClient, SECRET_ID } from './secrets.js';

/** Where a token came from: for the latency breakdown. */
export type Source = 'hub' | 'memory' | 'table' | 'mint';

export interface ConsumerContainer {
  getToken(organizationId: string): Promise<Source>;
}

export const SCOPE = 'warehouse.items.r';
/** The minimum validity every approach guarantees: the broker's default (60 s). */
export const MIN_VALIDITY_MS = 60_000;
/** The careful user's secret cache: Powertools' maxAge. */
export const SECRET_MAX_AGE_SECONDS = 300;

function authorizationServer(hubUrl: string): oauth.AuthorizationServer {
  // The Hub publishes no discovery document a client must fetch; the token endpoint is fixed.
  return { issuer: hubUrl, token_endpoint: `${hubUrl}/oauth/access_token` };
}

function parseSecret(value: unknown): { clientId: string; clientSecret: string } {
  if (typeof value !== 'string') throw new Error('the secret is not a string');
  const { clientId, clientSecret } = JSON.parse(value) as Record<string, unknown>;
  if (typeof clientId !== 'string' || typeof clientSecret !== 'string') throw new Error('malformed secret');
  return { clientId, clientSecret };
}

async function clientCredentials(
  as: oauth.AuthorizationServer,
  credentials: { clientId: string; clientSecret: string },
  organizationId: string,
): Promise<oauth.TokenEndpointResponse> {
  const client: oauth.Client = { client_id: credentials.clientId };
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(credentials.clientSecret),
    { scope: `Org/${organizationId}.${SCOPE}` },
    // The simulator listens on http://127.0.0.1, as a local stub would.
    { [oauth.allowInsecureRequests]: true },
  );
  return oauth.processClientCredentialsResponse(as, client, response);
}

/** Approach 1: a secret read and a token request on every call. */
export class NaiveContainer implements ConsumerContainer {
  readonly #secrets: SecretsManagerClient = newSecretsClient();
  readonly #as: oauth.AuthorizationServer;

  constructor(hubUrl: string) {
    this.#as = authorizationServer(hubUrl);
  }

  async getToken(organizationId: string): Promise<Source> {
    const { SecretString } = await this.#secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ID }));
    const token = await clientCredentials(this.#as, parseSecret(SecretString), organizationId);
    if (token.access_token === '') throw new Error('no token');
    return 'hub';
  }
}

interface CachedToken {
  readonly accessToken: string;
  readonly expiresAt: number;
}

/** Approach 2: per-container caching, done well. */
export class CachingContainer implements ConsumerContainer {
  readonly #secrets: ClockedSecretSource;
  readonly #as: oauth.AuthorizationServer;
  readonly #clock: () => number;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<CachedToken>>();

  constructor(hubUrl: string, clock: () => number) {
    this.#as = authorizationServer(hubUrl);
    this.#clock = clock;
    this.#secrets = new ClockedSecretSource(clock);
  }

  async getToken(organizationId: string): Promise<Source> {
    const cached = this.#tokens.get(organizationId);
    if (cached !== undefined && cached.expiresAt - this.#clock() >= MIN_VALIDITY_MS) return 'memory';
    let pending = this.#inFlight.get(organizationId);
    if (pending === undefined) {
      pending = this.#fetch(organizationId).finally(() => this.#inFlight.delete(organizationId));
      this.#inFlight.set(organizationId, pending);
    }
    await pending;
    return 'hub';
  }

  async #fetch(organizationId: string): Promise<CachedToken> {
    for (let attempt = 0; ; attempt++) {
      const secret = await this.#secrets.get(SECRET_ID, {
        maxAge: SECRET_MAX_AGE_SECONDS,
        forceFetch: attempt > 0,
      });
      const requestedAt = this.#clock();
      try {
        const response = await clientCredentials(this.#as, parseSecret(secret), organizationId);
        const token = {
          accessToken: response.access_token,
          expiresAt: requestedAt + (response.expires_in ?? 0) * 1000,
        };
        this.#tokens.set(organizationId, token);
        return token;
      } catch (error) {
        // A rotated secret: read it again once.
        if (attempt === 0 && error instanceof oauth.ResponseBodyError && error.error === 'invalid_client')
          continue;
        throw error;
      }
    }
  }
}

/** Approach 3: the broker's consumer client. */
export class BrokerConsumerContainer implements ConsumerContainer {
  constructor(readonly client: TokenClient) {}

  async getToken(organizationId: string): Promise<Source> {
    const token = await this.client.getAccessToken({ organizationId, scopes: [SCOPE] });
    return token.source;
  }
}
