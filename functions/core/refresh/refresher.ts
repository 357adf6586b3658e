/**
 * Refreshes one due key: take its lease (only while it is still due), then exchange the stored
 * refresh token or mint anew with client credentials, and store the result fenced on the lease.
 * What to do with the key and what a failure records are decided in functions/core/lifecycle/.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { BrokerError } from '../errors.js';
import type { TokenFetcher } from '../fetcher.js';
import {
  failureWrite,
  hubDeadline,
  leaseTerms,
  refreshStep,
  tokenWrite,
  trustedRefreshToken,
} from '../lifecycle/index.js';
import { scopeSet } from '../scopes.js';
import type { BrokerSettings } from '../settings.js';
import { bearerOfKey, type TokenKey } from '../store/key.js';
import type { Lease, TokenRepository } from '../store/repository.js';

export type RefreshOutcome = 'refreshed' | 'fell-back' | 'revoked' | 'failed' | 'skipped' | 'retired';

/** A zero count for every outcome, for per-run tallies. */
export function noOutcomes(): Record<RefreshOutcome, number> {
  return { refreshed: 0, 'fell-back': 0, revoked: 0, failed: 0, skipped: 0, retired: 0 };
}

export interface RefresherOptions {
  readonly store: TokenRepository;
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
    const owner = `${this.#ownerId}:${randomUUID()}`;
    const lease = await store.acquireLease(key, leaseTerms(owner, now, settings), { dueBy: now });
    if (lease === undefined) return { outcome: 'skipped' };
    const step = refreshStep(lease.record, now, settings);
    if (step === 'refresh') return this.#exchange(lease);
    await store.retire(lease);
    return { outcome: step === 'retire' ? 'retired' : 'skipped' };
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
    try {
      const fetched = await fetcher.fetch({
        client: lease.key.sk.slice(0, hash),
        scopes,
        refreshToken: trustedRefreshToken(record, now),
        deadlineAt: hubDeadline(record.leaseExpiresAt, now, settings),
        beforeHubRequest,
      });
      // A write fenced out means another holder took the key: its token stands, ours is dropped.
      const write = tokenWrite(fetched.token, clock(), settings, this.#random, { requested: false });
      const saved = await store.saveToken(lease, write);
      if (!saved) return { outcome: 'skipped' };
      return { outcome: fetched.fellBack ? 'fell-back' : 'refreshed' };
    } catch (error) {
      if (!(error instanceof BrokerError)) {
        await store.releaseLease(lease);
        throw error;
      }
      const failure = failureWrite(error, record.failureCount, clock(), settings, this.#random, 'refresh');
      const recorded = await store.recordFailure(lease, failure);
      // Revoked: out of the due index; consumers get ScopeNotGrantedError until someone grants again.
      if (failure.status === 'revoked') return { outcome: recorded ? 'revoked' : 'skipped', error };
      return { outcome: 'failed', error };
    }
  }
}
