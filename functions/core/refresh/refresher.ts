/**
 * Refreshes one due key: take its lease (only while it is still due), then exchange the stored
 * refresh token or mint anew with client credentials, and store the result fenced on the lease.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { BrokerError, InvalidRequestError, RateLimitedError, ScopeNotGrantedError } from '../errors.js';
import type { TokenFetcher } from '../fetcher.js';
import { scopeSet } from '../scopes.js';
import { type BrokerSettings, failureBackoffMs } from '../settings.js';
import { bearerOfKey, type TokenKey } from '../store/key.js';
import { hubDeadline, type Lease, type TokenStore } from '../store/token-store.js';

export type RefreshOutcome = 'refreshed' | 'fell-back' | 'revoked' | 'failed' | 'skipped' | 'retired';

/** A zero count for every outcome, for per-run tallies. */
export function noOutcomes(): Record<RefreshOutcome, number> {
  return { refreshed: 0, 'fell-back': 0, revoked: 0, failed: 0, skipped: 0, retired: 0 };
}

export interface RefresherOptions {
  readonly store: TokenStore;
  readonly fetcher: TokenFetcher;
  readonly settings: BrokerSettings;
  readonly clock: Clock;
  readonly random?: () => number;
  /** Called before every Hub request, retries included; the worker paces requests here. */
  readonly beforeHubRequest?: () => Promise<void>;
  readonly ownerId?: string;
}

export class Refresher {
  readonly #options: RefresherOptions;
  readonly #ownerId: string;
  readonly #random: () => number;

  constructor(options: RefresherOptions) {
    this.#options = options;
    this.#ownerId = options.ownerId ?? randomUUID();
    this.#random = options.random ?? Math.random;
  }

  async refresh(key: TokenKey): Promise<{ outcome: RefreshOutcome; error?: BrokerError }> {
    const { store, settings, clock } = this.#options;
    const now = clock();
    // Duplicate, late or out-of-order deliveries fail this condition and cost one conditional write.
    const lease = await store.acquireLease(key, `${this.#ownerId}:${randomUUID()}`, { dueBy: now });
    if (lease === undefined) return { outcome: 'skipped' };
    const { record } = lease;
    if (record.status === 'revoked') {
      await store.retire(lease);
      return { outcome: 'skipped' };
    }
    if ((record.lastRequestedAt ?? 0) < now - settings.idleAfterMs) {
      await store.retire(lease);
      return { outcome: 'retired' };
    }
    return this.#exchange(lease);
  }

  async #exchange(lease: Lease): Promise<{ outcome: RefreshOutcome; error?: BrokerError }> {
    const { store, fetcher, settings, clock, beforeHubRequest } = this.#options;
    const { record } = lease;
    const bearer = bearerOfKey(lease.key.pk);
    const hash = lease.key.sk.indexOf('#');
    let scopes: ReturnType<typeof scopeSet>;
    try {
      if (bearer === undefined || hash < 0) throw new Error('malformed key');
      scopes = scopeSet(bearer, lease.key.sk.slice(hash + 1).split(','));
    } catch {
      // Not an item this broker wrote; leave it out of the index rather than fail every minute.
      await store.retire(lease);
      return { outcome: 'skipped' };
    }
    const now = clock();
    const refreshToken =
      record.refreshToken !== undefined && (record.refreshTokenExpiresAt ?? 0) > now
        ? record.refreshToken
        : undefined;
    try {
      const fetched = await fetcher.fetch({
        client: lease.key.sk.slice(0, hash),
        scopes,
        refreshToken,
        deadlineAt: hubDeadline(lease, now, settings),
        beforeHubRequest,
      });
      // A write fenced out means another holder took the key: its token stands, ours is dropped.
      const saved = await store.saveToken(lease, fetched.token, { requested: false });
      if (!saved) return { outcome: 'skipped' };
      return { outcome: fetched.fellBack ? 'fell-back' : 'refreshed' };
    } catch (error) {
      if (!(error instanceof BrokerError)) {
        await store.releaseLease(lease);
        throw error;
      }
      if (error instanceof ScopeNotGrantedError) {
        // Permanent: out of the due index; consumers get ScopeNotGrantedError until someone grants again.
        const recorded = await store.recordFailure(lease, { error, status: 'revoked' });
        return { outcome: recorded ? 'revoked' : 'skipped', error };
      }
      if (error instanceof InvalidRequestError) {
        // The key itself is wrong for this broker now (an app removed from the configuration):
        // retrying will not help, so it leaves the due index with the error recorded.
        await store.recordFailure(lease, { error, status: 'failing' });
        return { outcome: 'failed', error };
      }
      const failedAt = clock();
      let nextAttemptAt = failedAt + failureBackoffMs(record.failureCount + 1, settings, this.#random);
      if (error instanceof RateLimitedError) nextAttemptAt = Math.max(nextAttemptAt, error.retryAt.getTime());
      await store.recordFailure(lease, { error, status: 'failing', nextAttemptAt });
      return { outcome: 'failed', error };
    }
  }
}
