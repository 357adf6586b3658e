/**
 * Gets a new token from the Hub for one key: the refresh_token grant when a trusted refresh token is
 * known, the client_credentials grant otherwise or when the Hub refuses the refresh token. Knows
 * nothing of storage; the token service and the refresh worker both use it through TokenFetcher.
 */
import type { Clock } from './clock.js';
import type { ClientCredentials, CredentialsProvider } from './credentials.js';
import { InvalidClientError, InvalidGrantError } from './errors.js';
import type { HubClient } from './hub/client.js';
import type { HubToken, TokenGrant } from './hub/token.js';
import { refusalHolds, refusesRefreshToken } from './lifecycle/lease.js';
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

/** A refusal of an app's credentials, confirmed by a fresh read of its secret. */
interface Refusal {
  readonly credentials: ClientCredentials;
  readonly error: InvalidClientError;
  readonly at: number;
}

export class HubTokenFetcher implements TokenFetcher {
  readonly #hub: TokenEndpoint;
  readonly #credentials: CredentialsProvider;
  readonly #clock: Clock;
  /** Per app: the last confirmed refusal of its credentials. */
  readonly #refusals = new Map<string, Refusal>();
  /** Per app: the fresh secret read in flight, shared by every exchange refused meanwhile. */
  readonly #freshReads = new Map<string, Promise<ClientCredentials>>();
  /** Errors answered from a held refusal: already confirmed, never worth another secret read. */
  readonly #held = new WeakSet<Error>();

  constructor(options: {
    readonly hub: TokenEndpoint;
    readonly credentials: CredentialsProvider;
    /** @default Date.now */
    readonly clock?: Clock;
  }) {
    this.#hub = options.hub;
    this.#credentials = options.credentials;
    this.#clock = options.clock ?? Date.now;
  }

  async fetch(request: FetchRequest): Promise<FetchResult> {
    let fellBack = false;
    if (request.refreshToken !== undefined) {
      try {
        const grant = { type: 'refresh_token', refreshToken: request.refreshToken } as const;
        return { token: await this.#exchange(request, grant), grant: grant.type, fellBack };
      } catch (error) {
        // Spent, expired, permissions changed, or refresh tokens withdrawn: mint anew, as Zaikio's
        // own client does. A 401 here proves nothing about the secret; client credentials decide.
        if (!refusesRefreshToken(error)) throw error;
        fellBack = true;
      }
    }
    try {
      return {
        token: await this.#exchange(request, { type: 'client_credentials' }),
        grant: 'client_credentials',
        fellBack,
      };
    } catch (error) {
      // invalid_grant to client credentials: the app may not use the grant. Never an internal type.
      if (!(error instanceof InvalidGrantError)) throw error;
      throw new InvalidClientError(
        'invalid_client',
        'the Zaikio Hub refused the client credentials grant (invalid_grant); check that the app is an ' +
          'OAuth confidential app allowed to use it',
        error.details,
      );
    }
  }

  async #exchange(request: FetchRequest, grant: TokenGrant): Promise<HubToken> {
    const credentials = await this.#credentials.get(request.client);
    this.#throwIfRefused(request.client, credentials);
    // Checked again after the pacer's wait: another key may have had the refusal meanwhile.
    const beforeAttempt = async () => {
      await request.beforeHubRequest?.();
      this.#throwIfRefused(request.client, credentials);
    };
    // A refresh grant's 401 is left to the client credentials attempt that follows it.
    if (grant.type === 'refresh_token') {
      return this.#hub.requestToken(grant, request.scopes, credentials, request.deadlineAt, {
        beforeAttempt,
      });
    }
    try {
      return await this.#hub.requestToken(grant, request.scopes, credentials, request.deadlineAt, {
        beforeAttempt,
      });
    } catch (error) {
      if (!(error instanceof InvalidClientError) || error.code !== 'invalid_client') throw error;
      if (this.#held.has(error)) throw error;
      // Another exchange, in flight at the same time, may have confirmed this refusal already.
      this.#throwIfRefused(request.client, credentials);
      // The secret may have been rotated since we cached it: read it once more, then give up.
      const fresh = await this.#freshRead(request.client);
      if (fresh.sameAs(credentials)) {
        this.#refusals.set(request.client, { credentials, error, at: this.#clock() });
        throw error;
      }
      this.#throwIfRefused(request.client, fresh);
      return this.#hub.requestToken(grant, request.scopes, fresh, request.deadlineAt, { beforeAttempt });
    }
  }

  /** The same credentials were refused a moment ago: answer from that, without the Hub. */
  #throwIfRefused(client: string, credentials: ClientCredentials): void {
    const refusal = this.#refusals.get(client);
    if (refusal === undefined) return;
    if (!refusal.credentials.sameAs(credentials) || !refusalHolds(refusal.at, this.#clock())) {
      this.#refusals.delete(client);
      return;
    }
    const { error } = refusal;
    const held = new InvalidClientError(error.code, error.message, error.details);
    this.#held.add(held);
    throw held;
  }

  #freshRead(client: string): Promise<ClientCredentials> {
    let read = this.#freshReads.get(client);
    if (read === undefined) {
      read = this.#credentials.get(client, { forceFetch: true });
      this.#freshReads.set(client, read);
      const clear = () => this.#freshReads.delete(client);
      read.then(clear, clear);
    }
    return read;
  }
}
