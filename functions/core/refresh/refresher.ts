/**
 * Refreshes one due key that is still in use, or retires one that is not: claim it (by a read when
 * the sweep that handed it out allows, otherwise by its lease, only while it is still due), then
 * exchange the stored refresh token or mint anew with client credentials, and store the result
 * fenced on the claim. How to claim, what to do with the key
 * and what a failure records are decided in functions/core/lifecycle/.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { BrokerError } from '../errors.js';
import type { TokenFetcher } from '../fetcher.js';
import {
  failureWrite,
  hubDeadline,
  leaseTerms,
  overdueMs,
  refreshClaim,
  refreshStep,
  tokenWrite,
  trustedRefreshToken,
} from '../lifecycle/index.js';
import { scopeSet } from '../scopes.js';
import type { BrokerSettings } from '../settings.js';
import { bearerOfKey, type TokenKey } from '../store/key.js';
import type { Lease, ReadClaim, TokenRepository } from '../store/repository.js';

export type RefreshOutcome = 'refreshed' | 'fell-back' | 'revoked' | 'failed' | 'skipped' | 'retired';

export interface RefreshResult {
  readonly outcome: RefreshOutcome;
  readonly error?: BrokerError;
  /** A failed key's lateness past its token's refresh time (lifecycle/refresh.ts overdueMs). */
  readonly overdueMs?: number;
}

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

  /** `sweptAt`: when the sweep that queued the key ran, if the message says (refreshClaim). */
  async refresh(key: TokenKey, options: { readonly sweptAt?: number } = {}): Promise<RefreshResult> {
    const { store, settings, clock } = this.#options;
    let now = clock();
    if (options.sweptAt !== undefined && parseKey(key) !== undefined) {
      const record = await store.get(key, { consistent: true });
      const claim = refreshClaim(record, options.sweptAt, now, settings);
      if (claim === 'skip' || record?.dueAt === undefined) return { outcome: 'skipped' };
      if (claim === 'read') {
        const read = { key, version: record.version, dueAt: record.dueAt, readAt: now, record };
        if (refreshStep(record, now, settings) === 'refresh') return this.#exchange(read);
        if (await store.retire(read, { unused: true })) return { outcome: 'retired' };
        // Used (or written) since the read: decide again under the lease, on what is there now.
      }
      now = clock();
    }
    // Duplicate, late or out-of-order deliveries fail this condition and cost one conditional write.
    const owner = `${this.#ownerId}:${randomUUID()}`;
    const lease = await store.acquireLease(key, leaseTerms(owner, now, settings), { dueBy: now });
    if (lease === undefined) return { outcome: 'skipped' };
    const step = refreshStep(lease.record, now, settings);
    if (step === 'refresh') return this.#exchange(lease);
    if (step === 'skip') {
      await store.retire(lease);
      return { outcome: 'skipped' };
    }
    if (await store.retire(lease, { unused: true })) return { outcome: 'retired' };
    // Someone used the key since we read it (or our lease is gone): refresh it if it is still ours.
    const current = await store.get(key, { consistent: true });
    if (current?.leaseOwner !== lease.owner || current.version !== lease.version)
      return { outcome: 'skipped' };
    return this.#exchange({ ...lease, record: current });
  }

  async #exchange(lease: Lease | ReadClaim): Promise<RefreshResult> {
    const { store, fetcher, settings, clock, beforeHubRequest } = this.#options;
    const { record } = lease;
    const held = 'owner' in lease;
    const parsed = parseKey(lease.key);
    if (parsed === undefined) {
      // Not an item this broker wrote; leave it out of the index rather than fail every minute.
      if (held) await store.retire(lease);
      return { outcome: 'skipped' };
    }
    const now = clock();
    try {
      const fetched = await fetcher.fetch({
        client: parsed.client,
        scopes: parsed.scopes,
        refreshToken: trustedRefreshToken(record, now),
        // Under a read claim a lease on the record is a crashed holder's, long run out: not ours.
        deadlineAt: hubDeadline(held ? record.leaseExpiresAt : undefined, now, settings),
        beforeHubRequest,
      });
      // A write fenced out means another holder took the key: its token stands, ours is dropped.
      const write = tokenWrite(fetched.token, clock(), settings, this.#random, { requested: false });
      const saved = await store.saveToken(lease, write);
      if (!saved) return { outcome: 'skipped' };
      return { outcome: fetched.fellBack ? 'fell-back' : 'refreshed' };
    } catch (error) {
      if (!(error instanceof BrokerError)) {
        if (held) await store.releaseLease(lease);
        throw error;
      }
      const failure = failureWrite(error, record, clock(), settings, this.#random, 'refresh');
      const recorded = await store.recordFailure(lease, failure);
      // Revoked: out of the due index; consumers get ScopeNotGrantedError until someone grants again.
      if (failure.status === 'revoked') return { outcome: recorded ? 'revoked' : 'skipped', error };
      const overdue = overdueMs(record.token, clock(), settings);
      return { outcome: 'failed', error, ...(overdue === undefined ? {} : { overdueMs: overdue }) };
    }
  }
}

/** The app and scope set a key names, or undefined when it is not a key this broker writes. */
function parseKey(key: TokenKey): { client: string; scopes: ReturnType<typeof scopeSet> } | undefined {
  const bearer = bearerOfKey(key.pk);
  const hash = key.sk.indexOf('#');
  if (bearer === undefined || hash < 0) return undefined;
  try {
    return { client: key.sk.slice(0, hash), scopes: scopeSet(bearer, key.sk.slice(hash + 1).split(',')) };
  } catch {
    return undefined;
  }
}
