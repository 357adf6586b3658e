/**
 * Gets a new token from the Hub for one key: the refresh_token grant when a trusted refresh token is
 * known, the client_credentials grant otherwise or when the Hub refuses the refresh token. Knows
 * nothing of storage; the token service and the refresh worker both use it through TokenFetcher.
 */
import type { CredentialsProvider } from './credentials.js';
import { InvalidClientError, InvalidGrantError } from './errors.js';
import type { HubClient } from './hub/client.js';
import type { HubToken, TokenGrant } from './hub/token.js';
import type { ScopeSet } from './scopes.js';

export interface FetchRequest {
  readonly client: string;
  readonly scopes: ScopeSet;
  readonly refreshToken?: string | undefined;
  /** Epoch ms by which the whole exchange, retries included, must be over. */
  readonly deadlineAt: number;
  /** Runs before every Hub request (retries and fallbacks included): the worker's pacer. */
  readonly beforeHubRequest?: (() => Promise<void>) | undefined;
}

export interface FetchResult {
  readonly token: HubToken;
  readonly grant: TokenGrant['type'];
  /** True when a refresh token was refused and client credentials were used instead. */
  readonly fellBack: boolean;
}

/** What the token service and the refresher need of the Hub. */
export interface TokenFetcher {
  fetch(request: FetchRequest): Promise<FetchResult>;
}

/** What the fetcher needs of the Hub client: one token request. */
export type TokenEndpoint = Pick<HubClient, 'requestToken'>;

export class HubTokenFetcher implements TokenFetcher {
  readonly #hub: TokenEndpoint;
  readonly #credentials: CredentialsProvider;

  constructor(options: { readonly hub: TokenEndpoint; readonly credentials: CredentialsProvider }) {
    this.#hub = options.hub;
    this.#credentials = options.credentials;
  }

  async fetch(request: FetchRequest): Promise<FetchResult> {
    let fellBack = false;
    if (request.refreshToken !== undefined) {
      try {
        const grant = { type: 'refresh_token', refreshToken: request.refreshToken } as const;
        return { token: await this.#exchange(request, grant), grant: grant.type, fellBack };
      } catch (error) {
        // Spent, expired, or the bearer's permissions changed: Zaikio's own client mints anew.
        if (!(error instanceof InvalidGrantError)) throw error;
        fellBack = true;
      }
    }
    return {
      token: await this.#exchange(request, { type: 'client_credentials' }),
      grant: 'client_credentials',
      fellBack,
    };
  }

  async #exchange(request: FetchRequest, grant: TokenGrant): Promise<HubToken> {
    const credentials = await this.#credentials.get(request.client);
    try {
      return await this.#hub.requestToken(grant, request.scopes, credentials, request.deadlineAt, {
        beforeAttempt: request.beforeHubRequest,
      });
    } catch (error) {
      if (!(error instanceof InvalidClientError) || error.code !== 'invalid_client') throw error;
      // The secret may have been rotated since we cached it: read it once more, then give up.
      const fresh = await this.#credentials.get(request.client, { forceFetch: true });
      if (fresh.sameAs(credentials)) throw error;
      return this.#hub.requestToken(grant, request.scopes, fresh, request.deadlineAt, {
        beforeAttempt: request.beforeHubRequest,
      });
    }
  }
}
