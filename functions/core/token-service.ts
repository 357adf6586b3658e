/**
 * Get-or-mint: the one path by which a caller gets a token for a key. The decisions (serve, refuse
 * from the record, wait on a lease, mint; what a failure records) are functions/core/lifecycle/;
 * this class carries them out against a TokenRepository and a TokenFetcher.
 *
 * 1. A stored token valid beyond the caller's minimum validity is served as it is.
 * 2. Otherwise one caller, across all containers, takes the key's lease and mints; the others wait
 *    on the lease and then read the winner's token.
 * 3. When the Hub fails, nothing good is overwritten: the stored token stays for every reader it
 *    still satisfies. Failures are recorded on the item and answered from it for a while, so
 *    callers do not hammer a failing or refusing Hub.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Sleep } from './clock.js';
import type { CredentialsProvider } from './credentials.js';
import { BrokerError } from './errors.js';
import type { TokenFetcher } from './fetcher.js';
import {
  failureWrite,
  hubDeadline,
  isServable,
  isUseNews,
  leaseTerms,
  type MintAttempt,
  medianMs,
  mintedShortfall,
  nextMintStep,
  nextPollMs,
  purgeAt,
  servesAttempt,
  startMintAttempt,
  tokenWrite,
  trustedRefreshToken,
  useWrite,
} from './lifecycle/index.js';
import type { Bearer } from './scopes.js';
import type { BrokerSettings } from './settings.js';
import { type TokenKey, tokenKey } from './store/key.js';
import type { StoredToken, TokenRecord } from './store/record.js';
import type { Lease, TokenRepository } from './store/repository.js';
import { assertMinValiditySeconds, type IssuedToken, type TokenRequest } from './token-request.js';

/** How the token was obtained, for logs and metrics. */
export type TokenOutcome = 'stored' | 'minted' | 'waited';

export interface TokenServiceOptions {
  readonly store: TokenRepository;
  readonly fetcher: TokenFetcher;
  readonly credentials: Pick<CredentialsProvider, 'resolveClient'>;
  readonly settings: BrokerSettings;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly random?: () => number;
  /** Identifies this container's leases. @default a random UUID */
  readonly ownerId?: string;
}

type Issued = { token: IssuedToken; outcome: TokenOutcome };

/** How many of this container's latest Hub exchanges time its lease polls. */
const OBSERVED_EXCHANGES = 16;

export interface GetTokenHooks {
  /**
   * Called when the key has no item yet, before anything is written for it; throwing refuses the
   * request (the mint function's per-grant ceiling on new keys).
   */
  readonly onNewKey?: () => void;
}

export class TokenService {
  readonly #options: TokenServiceOptions;
  readonly #random: () => number;
  readonly #ownerId: string;
  /**
   * Durations of this container's latest successful Hub exchanges, ms: another holder's token is
   * due about that long after it took its lease, so that is when a waiter first polls.
   */
  readonly #exchangeMs: number[] = [];

  constructor(options: TokenServiceOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#ownerId = options.ownerId ?? randomUUID();
  }

  async getToken(request: TokenRequest, hooks: GetTokenHooks = {}): Promise<Issued> {
    const { store, credentials, settings, clock, sleep } = this.#options;
    const client = credentials.resolveClient(request.client);
    const minValiditySeconds = request.minValiditySeconds ?? settings.minValiditySeconds;
    assertMinValiditySeconds(minValiditySeconds);
    const key = tokenKey(client, request.scopes);
    const bearer = request.scopes.bearer;

    let record = await store.get(key, { consistent: true });
    if (record === undefined) hooks.onNewKey?.();
    const attempt = startMintAttempt(
      record,
      { minValidityMs: minValiditySeconds * 1000, forceRefresh: request.forceRefresh ?? false },
      clock(),
      settings,
    );
    let waited = false;
    const waitStartedAt = clock();
    for (;;) {
      const step = nextMintStep(record, attempt, clock(), settings);
      if (step.action === 'refuse') throw step.error;
      if (step.action === 'serve') {
        await this.#recordUseIfNews(step.record);
        return { token: issued(step.record.token, bearer), outcome: waited ? 'waited' : 'stored' };
      }
      if (step.action === 'wait') {
        waited = true;
        await sleep(nextPollMs(this.#leaseAge(record, waitStartedAt), medianMs(this.#exchangeMs)));
        record = await store.get(key, { consistent: true });
        continue;
      }
      const lease = await this.#acquire(key, client, request);
      if (lease === undefined) {
        record = await store.get(key, { consistent: true });
        continue;
      }
      if (servesAttempt(lease.record, attempt, clock())) {
        await store.releaseLease(lease);
        await this.#recordUseIfNews(lease.record);
        return { token: issued(lease.record.token, bearer), outcome: waited ? 'waited' : 'stored' };
      }
      return this.#mint(lease, client, request, attempt);
    }
  }

  /**
   * A consumer's use report: records the use of the stored token when it is news, and nothing else.
   * It never takes a lease, mints, or waits: a report that arrives late (Lambda queues asynchronous
   * invocations) finds either a token to mark or nothing to do. True when a use was written.
   */
  async recordReportedUse(request: TokenRequest): Promise<boolean> {
    const { store, credentials, clock } = this.#options;
    const key = tokenKey(credentials.resolveClient(request.client), request.scopes);
    const record = await store.get(key, { consistent: true });
    if (record === undefined || !isServable(record, clock(), 0)) return false;
    return this.#recordUseIfNews(record);
  }

  /**
   * How long ago the holder took the lease it holds (its expiry minus the lease duration, clocks
   * across containers being close), else how long this caller has waited.
   */
  #leaseAge(record: TokenRecord | undefined, waitStartedAt: number): number {
    const { settings, clock } = this.#options;
    const now = clock();
    const expiresAt = record?.leaseExpiresAt;
    return expiresAt === undefined ? now - waitStartedAt : now - (expiresAt - settings.leaseDurationMs);
  }

  #observeExchange(durationMs: number): void {
    this.#exchangeMs.push(durationMs);
    if (this.#exchangeMs.length > OBSERVED_EXCHANGES) this.#exchangeMs.shift();
  }

  #acquire(key: TokenKey, client: string, request: TokenRequest): Promise<Lease | undefined> {
    const { store, settings, clock } = this.#options;
    const now = clock();
    const identity = { client, bearer: key.pk, scopes: request.scopes.scopes };
    const owner = `${this.#ownerId}:${randomUUID()}`;
    return store.acquireLease(key, leaseTerms(owner, now, settings), {
      identity,
      purgeAt: purgeAt(now, settings),
    });
  }

  async #mint(lease: Lease, client: string, request: TokenRequest, attempt: MintAttempt): Promise<Issued> {
    const { store, fetcher, settings, clock } = this.#options;
    const now = clock();
    let fetched: Awaited<ReturnType<TokenFetcher['fetch']>>;
    try {
      fetched = await fetcher.fetch({
        client,
        scopes: request.scopes,
        refreshToken: trustedRefreshToken(lease.record, now),
        deadlineAt: hubDeadline(lease.record.leaseExpiresAt, now, settings),
      });
    } catch (error) {
      if (!(error instanceof BrokerError)) {
        await store.releaseLease(lease);
        throw error;
      }
      // The stored token, if any, stays for readers that need less validity.
      const failure = failureWrite(error, lease.record, clock(), settings, this.#random, 'mint');
      await store.recordFailure(lease, failure);
      throw error;
    }
    this.#observeExchange(clock() - now);
    const { token } = fetched;
    await store.saveToken(lease, tokenWrite(token, clock(), settings, this.#random, { requested: true }));
    const shortfall = mintedShortfall(token, clock(), attempt.minValidityMs);
    if (shortfall !== undefined) throw shortfall;
    return { token: issued(token, token.bearer), outcome: 'minted' };
  }

  /**
   * Tells the refresher that the served token is in use (lifecycle `isUseNews`), so the key is
   * refreshed ahead instead of left to expire. Checked against the item we just read, so a busy key
   * costs one write per token, not one (failed conditional) write per request.
   */
  async #recordUseIfNews(record: TokenRecord & { readonly token: StoredToken }): Promise<boolean> {
    const { store, settings, clock } = this.#options;
    const now = clock();
    if (!isUseNews(record.lastRequestedAt, record.token, now)) return false;
    // Best effort: a failed bookkeeping write must not fail a request that has its token.
    return store.recordUse(record.key, useWrite(record, now, settings)).catch(() => false);
  }
}

function issued(token: StoredToken, bearer: Bearer): IssuedToken {
  return {
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    issuedAt: token.issuedAt,
    expiresAt: token.expiresAt,
    scopes: token.grantedScopes,
    bearer,
  };
}
