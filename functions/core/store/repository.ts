/**
 * What the token service and the refresher need of storage. The DynamoDB TokenStore is one
 * implementation; it decides nothing: every time and rule it writes is computed by the caller
 * (functions/core/lifecycle/) and handed in. A failed condition is a normal outcome (another
 * container won), reported as `false` or `undefined`, never thrown.
 */
import type { BrokerError } from '../errors.js';
import type { TokenKey } from './key.js';
import type { StoredToken, TokenRecord, TokenStatus } from './record.js';

/** Proof that this caller holds a key: every later write is fenced on owner and version. */
export interface Lease {
  readonly key: TokenKey;
  readonly owner: string;
  readonly version: number;
  readonly record: TokenRecord;
}

/**
 * The right to write a key without holding its lease: the refresher read the item at `readAt` and
 * found it due and free. Every write under it is fenced on what was read (version, refresh time) and
 * on nobody having taken the lease since, so a late writer still never overwrites a newer token; it
 * saves the lease's own write (lifecycle/refresh.ts `refreshClaim` says when it is used).
 */
export interface ReadClaim {
  readonly key: TokenKey;
  readonly version: number;
  readonly dueAt: number;
  readonly readAt: number;
  readonly record: TokenRecord;
}

/** Who takes a lease, and until when it holds if its holder never writes (a crashed holder). */
export interface LeaseTerms {
  readonly owner: string;
  readonly takenAt: number;
  readonly expiresAt: number;
}

export interface TokenIdentity {
  readonly client: string;
  readonly bearer: string;
  readonly scopes: readonly string[];
}

/**
 * Which item a lease may be taken on: a mint's key, created if needed (with its identity and first
 * purge time), or a refresh's key, only while it exists and its refresh time has come.
 */
export type LeaseTarget =
  | { readonly identity: TokenIdentity; readonly purgeAt: number }
  | { readonly dueBy: number };

/** Someone asked for the key at `at`; the item is kept until `purgeAt` (epoch seconds). */
export interface Use {
  readonly at: number;
  readonly purgeAt: number;
}

/** A use worth writing only when the stored one is older than `staleBefore` (lifecycle `isUseNews`). */
export interface UseWrite extends Use {
  readonly staleBefore: number;
  /** The key's place in the due index if it has none (it was retired): lifecycle `useWrite`. */
  readonly dueAt: number;
  /** The version of the item that served the token: a use of a replaced or revoked token is none. */
  readonly version: number;
}

export interface TokenWrite {
  readonly token: StoredToken;
  /** Omitted: the stored refresh token, if any, is removed. */
  readonly refreshToken?: { readonly value: string; readonly trustedUntil: number } | undefined;
  /** When the key is next due for refresh. */
  readonly dueAt: number;
  /** Set when a caller asked for this token (a mint), not when the refresher renewed it. */
  readonly use?: Use | undefined;
}

export interface FailureWrite {
  readonly error: BrokerError;
  readonly at: number;
  readonly status: Exclude<TokenStatus, 'active'>;
  /** Consecutive failures of this kind, this one included (lifecycle/write.ts). */
  readonly failureCount: number;
  /** When the key may be tried again; also its place in the due index. Omitted: leave the index. */
  readonly nextAttemptAt?: number | undefined;
  /** A caller's failed request (a mint) is a use: the key stays wanted, and is retried. */
  readonly use?: Use | undefined;
}

export interface TokenRepository {
  get(key: TokenKey, options: { readonly consistent: boolean }): Promise<TokenRecord | undefined>;
  /** Takes the key for one mint or refresh; undefined when someone else holds it or nothing is due. */
  acquireLease(key: TokenKey, terms: LeaseTerms, target: LeaseTarget): Promise<Lease | undefined>;
  /**
   * Stores a new token and releases the lease, only if the lease is still ours and unchanged (or,
   * under a read claim, nobody wrote or took the key since the read).
   */
  saveToken(lease: Lease | ReadClaim, write: TokenWrite): Promise<boolean>;
  /** Records a failed mint or refresh and releases the lease, fenced like saveToken. */
  recordFailure(lease: Lease | ReadClaim, failure: FailureWrite): Promise<boolean>;
  /** Gives the key back untouched, e.g. when the token turned out to be fresh already. */
  releaseLease(lease: Lease): Promise<boolean>;
  /**
   * Releases the key and takes it out of the due index; it is refreshed again on its next request.
   * `unused`: only if no use was recorded since the claim's read (false otherwise, a lease kept).
   */
  retire(claim: Lease | ReadClaim, options?: { readonly unused?: boolean }): Promise<boolean>;
  /**
   * Notes a use of the token the item held at `use.version`, unless a use since the token's check
   * point is already recorded; files the key in the due index again if it has left it.
   */
  recordUse(key: TokenKey, use: UseWrite): Promise<boolean>;
}

/** What the sweeper needs: one page of keys whose refresh time has come, oldest first. */
export interface DueIndex {
  queryDue(
    shard: number,
    options: { readonly now: number; readonly limit: number; readonly startKey?: Record<string, unknown> },
  ): Promise<{ keys: Array<TokenKey & { dueAt: number }>; nextKey?: Record<string, unknown> }>;
}
