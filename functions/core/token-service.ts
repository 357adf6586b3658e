/**
 * Get-or-mint: the one path by which a caller gets a token for a key.
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
import {
  BrokerError,
  HubUnavailableError,
  InvalidRequestError,
  RateLimitedError,
  reviveError,
  ScopeNotGrantedError,
} from './errors.js';
import type { TokenFetcher } from './fetcher.js';
import type { Bearer, ScopeSet } from './scopes.js';
import { type BrokerSettings, failureBackoffMs } from './settings.js';
import { tokenKey } from './store/key.js';
import { isUsable, type TokenRecord } from './store/record.js';
import { hubDeadline, type Lease, type TokenStore } from './store/token-store.js';

export interface TokenRequest {
  readonly scopes: ScopeSet;
  /** App name; the default app when omitted. */
  readonly client?: string | undefined;
  /** @default settings.minValiditySeconds (60) */
  readonly minValiditySeconds?: number | undefined;
  /** Mint anew even though the stored token looks valid: an API rejected it. */
  readonly forceRefresh?: boolean | undefined;
}

export interface IssuedToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly scopes: readonly string[];
  readonly bearer: Bearer;
}

/** How the token was obtained, for logs and metrics. */
export type TokenOutcome = 'stored' | 'minted' | 'waited';

export interface TokenServiceOptions {
  readonly store: TokenStore;
  readonly fetcher: TokenFetcher;
  readonly credentials: CredentialsProvider;
  readonly settings: BrokerSettings;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly random?: () => number;
  /** Identifies this container's leases. @default a random UUID */
  readonly ownerId?: string;
}

/** The first poll of a held lease; polls slow down by half each time up to the ceiling. */
const LEASE_POLL_FIRST_MS = 50;
const LEASE_POLL_MAX_MS = 500;
/** Zaikio tokens live at most an hour, so no caller can need more validity than that. */
const MAX_MIN_VALIDITY_SECONDS = 3600;
/** Recorded refusals are answered from the item for negativeCacheMs, doubling per repeat up to this. */
const NEGATIVE_CACHE_MAX_MS = 3600_000;

export class TokenService {
  readonly #options: TokenServiceOptions;
  readonly #random: () => number;
  readonly #ownerId: string;

  constructor(options: TokenServiceOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#ownerId = options.ownerId ?? randomUUID();
  }

  async getToken(request: TokenRequest): Promise<{ token: IssuedToken; outcome: TokenOutcome }> {
    const { store, credentials, settings, clock, sleep } = this.#options;
    const client = credentials.resolveClient(request.client);
    const minValidityMs = this.#minValiditySeconds(request) * 1000;
    const key = tokenKey(client, request.scopes);
    const startedAt = clock();
    const waitUntil = startedAt + settings.leaseDurationMs + LEASE_POLL_MAX_MS;

    let record = await store.get(key, { consistent: true });
    const failuresAtStart = record?.failureCount ?? 0;
    // A forced refresh rejects the version the caller saw, not whatever another caller mints meanwhile.
    const rejectedVersion = request.forceRefresh === true ? (record?.version ?? -1) : undefined;
    const servable = (candidate: TokenRecord | undefined): boolean =>
      isUsable(candidate, clock(), minValidityMs) && candidate?.version !== rejectedVersion;

    let waited = false;
    let pollMs = LEASE_POLL_FIRST_MS;
    for (;;) {
      if (servable(record)) {
        await this.#recordUseIfStale(record);
        return { token: issued(record, request.scopes.bearer), outcome: waited ? 'waited' : 'stored' };
      }
      this.#throwRecordedFailure(record, request, failuresAtStart);
      assertLifetimeCovers(record, minValidityMs);

      const now = clock();
      if (record?.leaseOwner !== undefined && (record.leaseExpiresAt ?? 0) >= now) {
        if (now >= waitUntil) {
          throw new HubUnavailableError(
            'lease_wait_timeout',
            'another mint of this token did not finish in time; try again shortly',
          );
        }
        waited = true;
        await sleep(pollMs);
        pollMs = Math.min(LEASE_POLL_MAX_MS, pollMs * 1.5);
        record = await store.get(key, { consistent: true });
        continue;
      }

      const identity = { client, bearer: key.pk, scopes: request.scopes.scopes };
      const lease = await store.acquireLease(key, `${this.#ownerId}:${randomUUID()}`, { identity });
      if (lease === undefined) {
        record = await store.get(key, { consistent: true });
        continue;
      }
      if (servable(lease.record)) {
        await store.releaseLease(lease);
        await this.#recordUseIfStale(lease.record);
        return { token: issued(lease.record, request.scopes.bearer), outcome: waited ? 'waited' : 'stored' };
      }
      return this.#mint(lease, client, request, minValidityMs);
    }
  }

  async #mint(
    lease: Lease,
    client: string,
    request: TokenRequest,
    minValidityMs: number,
  ): Promise<{ token: IssuedToken; outcome: TokenOutcome }> {
    const { store, fetcher, settings, clock } = this.#options;
    const { record } = lease;
    const now = clock();
    const refreshToken =
      record.refreshToken !== undefined && (record.refreshTokenExpiresAt ?? 0) > now
        ? record.refreshToken
        : undefined;
    let fetched: Awaited<ReturnType<TokenFetcher['fetch']>>;
    try {
      fetched = await fetcher.fetch({
        client,
        scopes: request.scopes,
        refreshToken,
        deadlineAt: hubDeadline(lease, now, settings),
      });
    } catch (error) {
      if (!(error instanceof BrokerError)) {
        await store.releaseLease(lease);
        throw error;
      }
      // The stored token, if any, stays for readers that need less validity (rule 3).
      await this.#recordFailure(lease, error);
      throw error;
    }
    const { token } = fetched;
    await store.saveToken(lease, token, { requested: true });
    if (token.expiresAt - clock() < minValidityMs) {
      throw new InvalidRequestError(
        'invalid_request',
        `the Zaikio Hub issues tokens valid for ${Math.round((token.expiresAt - token.issuedAt) / 1000)} s, ` +
          'less than the requested minValiditySeconds; ask for less',
      );
    }
    return {
      token: {
        accessToken: token.accessToken,
        tokenType: token.tokenType,
        expiresAt: token.expiresAt,
        scopes: token.grantedScopes,
        bearer: token.bearer,
      },
      outcome: 'minted',
    };
  }

  async #recordFailure(lease: Lease, error: BrokerError): Promise<void> {
    const { store, settings, clock } = this.#options;
    if (error instanceof ScopeNotGrantedError) {
      await store.recordFailure(lease, { error, status: 'revoked' });
      return;
    }
    const now = clock();
    let nextAttemptAt = now + failureBackoffMs(lease.record.failureCount + 1, settings, this.#random);
    if (error instanceof RateLimitedError) nextAttemptAt = Math.max(nextAttemptAt, error.retryAt.getTime());
    await store.recordFailure(lease, { error, status: 'failing', nextAttemptAt });
  }

  /**
   * Answers from the item instead of asking the Hub again: a failure that happened while we waited,
   * and, unless the caller forces, a recent refusal, a rate limit still in force, or a transient
   * failure still inside its backoff (capped at one base interval, so a recovered Hub is asked soon).
   */
  #throwRecordedFailure(
    record: TokenRecord | undefined,
    request: TokenRequest,
    failuresAtStart: number,
  ): void {
    const lastError = record?.lastError;
    if (record === undefined || lastError === undefined) return;
    const now = this.#options.clock();
    const revived = () =>
      reviveError({
        errorType: lastError.errorType,
        code: lastError.code,
        message: lastError.message,
        details: {
          ...(lastError.hubCodes === undefined ? {} : { hubCodes: lastError.hubCodes }),
          ...(lastError.missingScopes === undefined ? {} : { missingScopes: lastError.missingScopes }),
          ...(lastError.retryAt === undefined ? {} : { retryAt: new Date(lastError.retryAt).toISOString() }),
        },
      });
    // Another container's attempt failed while we waited on its lease: share its answer.
    if (record.failureCount > failuresAtStart) throw revived();
    if (request.forceRefresh === true) return;
    const { settings } = this.#options;
    if (record.status === 'revoked') {
      const repeats = Math.max(0, record.failureCount - 1);
      const negativeCacheMs = Math.min(NEGATIVE_CACHE_MAX_MS, settings.negativeCacheMs * 2 ** repeats);
      if (now - lastError.at < negativeCacheMs) throw revived();
      return;
    }
    if (lastError.retryAt !== undefined && lastError.retryAt > now) throw revived();
    const backoffEnd = Math.min(record.nextAttemptAt ?? 0, lastError.at + settings.failureBackoffBaseMs);
    if (record.status === 'failing' && now < backoffEnd) throw revived();
  }

  /**
   * Keeps the key out of the idle set. Checked against the item we just read, so a busy key costs
   * one write per usageRecordIntervalMs, not one (failed conditional) write per request.
   */
  async #recordUseIfStale(record: TokenRecord | undefined): Promise<void> {
    const { store, settings, clock } = this.#options;
    if (record === undefined || (record.lastRequestedAt ?? 0) >= clock() - settings.usageRecordIntervalMs)
      return;
    // Best effort: a failed bookkeeping write must not fail a request that has its token.
    await store.recordUse(record.key).catch(() => false);
  }

  #minValiditySeconds(request: TokenRequest): number {
    const value = request.minValiditySeconds ?? this.#options.settings.minValiditySeconds;
    if (!Number.isInteger(value) || value < 0 || value > MAX_MIN_VALIDITY_SECONDS) {
      throw new InvalidRequestError(
        'invalid_request',
        `minValiditySeconds must be a whole number from 0 to ${MAX_MIN_VALIDITY_SECONDS}`,
      );
    }
    return value;
  }
}

/** A caller asking for more validity than the Hub's tokens have would otherwise mint on every call. */
function assertLifetimeCovers(record: TokenRecord | undefined, minValidityMs: number): void {
  const token = record?.token;
  if (token === undefined || token.expiresAt - token.issuedAt >= minValidityMs) return;
  throw new InvalidRequestError(
    'invalid_request',
    `the Zaikio Hub issues tokens valid for ${Math.round((token.expiresAt - token.issuedAt) / 1000)} s, ` +
      'less than the requested minValiditySeconds; ask for less',
  );
}

function issued(record: TokenRecord | undefined, bearer: Bearer): IssuedToken {
  const token = record?.token;
  if (token === undefined) throw new Error('unreachable: servable record without token');
  return {
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    expiresAt: token.expiresAt,
    scopes: token.grantedScopes,
    bearer,
  };
}
